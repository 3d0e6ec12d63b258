"""My week: the account managers' workspace. For each client of the person's pod, in one
screen: the week's goals (add, edit, link to a quarterly goal), last week's to close out,
the quarterly goals, days inactive with a one-click touchpoint, and the tasks due this week
or overdue.

The page is one view. Every change is a small POST view of its own that calls one service
and answers htmx with the fragment it changed (a goal, a client's week of goals, a client's
contact figure) plus an `HX-Trigger: week-changed` event that refreshes the page's summary;
without JavaScript it redirects back to the week with a message, or shows the form with its
errors on a page of its own."""

import datetime
from collections import defaultdict
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from clients.forms import TouchpointForm
from clients.models import Channel, Client, Direction, GoalStatus
from clients.selectors import clients_visible_to, days_inactive
from clients.services import log_touchpoint
from godview.access import pods_visible_to, staff_of
from godview.agency import agency_today
from godview.models import AgencySettings

from .. import selectors
from ..forms import CloseGoalForm, DeleteGoalForm, WeeklyGoalForm
from ..models import WeeklyGoal
from ..services import (
    close_weekly_goal,
    delete_weekly_goal,
    may_edit_week,
    set_weekly_goal,
    update_weekly_goal,
    week_start_of,
)

WEEK = datetime.timedelta(weeks=1)
CHANGED = "week-changed"  # the event after which the page's summary reloads


# --- Which week, whose clients ---------------------------------------------------------------


def _monday(value: str | None, today: datetime.date) -> datetime.date:
    """The Monday of the week that ?week= (any ISO day) falls in; this week when it is
    missing, not a date, or absurdly far from today."""
    try:
        day = datetime.date.fromisoformat(value or "")
    except ValueError:
        day = today
    if abs(day.year - today.year) > 50:
        day = today
    return week_start_of(day)


class Screen:
    """Who is looking at which week of which pod: what every fragment needs to draw its
    forms (the hidden week and pod that bring a plain form post back to the same screen)."""

    def __init__(self, request, *, data=None):
        data = request.GET if data is None else data
        self.staff = staff_of(request.user)
        self.today = agency_today()
        self.week = _monday(data.get("week"), self.today)
        self.pod_key = (data.get("pod") or "").strip()[:100]

    def week_info(self, start: datetime.date) -> dict:
        """What the page says and offers about the week starting `start`."""
        end = start + datetime.timedelta(days=6)
        this_week = week_start_of(self.today)
        return {
            "start": start,
            "end": end,
            "is_current": start == this_week,
            "is_last": start == this_week - WEEK,
            "started": start <= self.today,
            "ended": end < self.today,
            "editable": self.staff is not None
            and may_edit_week(week_start=start, by=self.staff, today=self.today),
        }

    def query(self, week: datetime.date | None = None) -> str:
        """The screen's query string (week=...&pod=...)."""
        query = {"week": (week or self.week).isoformat()}
        if self.pod_key:
            query["pod"] = self.pod_key
        return urlencode(query)

    def url(self, week: datetime.date | None = None, *, anchor: str = "") -> str:
        return f"{reverse('my-week')}?{self.query(week)}" + (f"#{anchor}" if anchor else "")

    def context(self) -> dict:
        return {"screen": self, "today": self.today}


def _pod(request, screen: Screen):
    """The pod shown and the pods to pick from: directors and leadership pick (?pod=, their
    own pod or the first by default); everyone else sees their own pod."""
    staff = screen.staff
    if not staff.sees_everything:
        return staff.pod, []
    pods = list(pods_visible_to(request.user))
    chosen = next((pod for pod in pods if pod.key == screen.pod_key), None)
    chosen = chosen or next((pod for pod in pods if pod.id == staff.pod_id), None)
    return chosen or (pods[0] if pods else None), pods


def _acting_staff(request):
    """The staff member making a change: the services record who did it, so a login with no
    staff record (an admin account) may look but not write."""
    staff = staff_of(request.user)
    if staff is None or not staff.active:
        raise PermissionDenied("Only staff can change goals and log touchpoints.")
    return staff


# --- The page --------------------------------------------------------------------------------


def _goals_by_week(client) -> dict:
    goals = defaultdict(list)
    for goal in client.week_goals:
        goals[goal.week_start].append(goal)
    return goals


def _block(client, week: dict, goals: list) -> dict:
    """One client's goals of one week, and the id of the element htmx swaps when they change."""
    return {
        "week": week,
        "goals": goals,
        "id": f"goals-{client.pk}-{week['start']:%Y%m%d}",
    }


def _card(client, weeks: list[dict], *, inactive, tasks) -> dict:
    goals = _goals_by_week(client)
    return {
        "client": client,
        "days_inactive": inactive,
        "tasks": tasks,
        "blocks": [_block(client, week, goals[week["start"]]) for week in weeks],
        "open_goals": [goal for goal in client.quarterly_goals if goal.status == GoalStatus.OPEN],
    }


def _summary(cards: list[dict], sla_days: int) -> dict:
    shown, previous = (0, 1)
    last_week = [goal for card in cards for goal in card["blocks"][previous]["goals"]]
    return {
        "clients": len(cards),
        "with_goals": sum(bool(card["blocks"][shown]["goals"]) for card in cards),
        "goals_to_close": sum(goal.status == GoalStatus.OPEN for goal in last_week),
        "past_sla": sum(
            card["days_inactive"] is not None and card["days_inactive"] > sla_days for card in cards
        ),
        "overdue_tasks": sum(task.overdue for card in cards for task in card["tasks"]),
    }


@login_required
@require_GET
def my_week(request):
    """The week (?week=, any day of it; this week by default) of the person's clients: theirs
    first, then the rest of their pod; directors and leadership pick a pod (?pod=). An htmx
    request for ?panel=summary gets only the summary, which the page reloads after a change."""
    screen = Screen(request)
    context = screen.context()
    staff = screen.staff
    if staff is None or not staff.active:
        context["empty"] = "no_staff"
        return render(request, "workflows/my_week.html", context)
    pod, pods = _pod(request, screen)
    weeks = [screen.week_info(screen.week), screen.week_info(screen.week - WEEK)]
    context |= {"pod": pod, "pods": pods, "weeks": weeks, "staff": staff}
    if pod is None:
        context["empty"] = "no_pod"
        return render(request, "workflows/my_week.html", context)
    settings = AgencySettings.load()
    clients = list(selectors.week_clients(user=request.user, pod=pod, week_start=screen.week))
    inactive = days_inactive(clients, on=screen.today)
    tasks = selectors.week_tasks(
        clients=clients, week_start=screen.week, day=screen.today, zone=settings.zone
    )
    cards = [
        _card(client, weeks, inactive=inactive[client.id], tasks=tasks[client.id])
        for client in clients
    ]
    mine = [card for card in cards if card["client"].account_manager_id == staff.id]
    context |= {
        "mine": mine,
        "others": [card for card in cards if card["client"].account_manager_id != staff.id],
        # The summary counts the person's own clients when they have any, else the pod's.
        "summary": _summary(mine or cards, settings.sla_days),
        "sla_days": settings.sla_days,
        "edit_days": settings.closed_week_edit_days,
        "touchpoint_form": _blank_touchpoint_form(screen.today),
        "previous_week": screen.url(screen.week - WEEK),
        "next_week": screen.url(screen.week + WEEK),
        "this_week": screen.url(week_start_of(screen.today)),
    }
    template = "workflows/my_week.html"
    if request.htmx and request.GET.get("panel") == "summary":
        template += "#summary"
    return render(request, template, context)


# --- Answers of the actions --------------------------------------------------------------------


def _done(request, screen: Screen, response: HttpResponse, message: str, anchor: str):
    """Success: the changed fragment (and the summary's event) for htmx; otherwise back to
    the week, at the client's card, with a message."""
    if request.htmx:
        return trigger_client_event(response, CHANGED)
    messages.success(request, message)
    return redirect(screen.url(anchor=anchor))


def _failed(request, screen: Screen, fragment: str, context: dict, heading: str):
    """A refused form: its fragment with the errors in place for htmx (200, so htmx swaps
    it); without JavaScript, a page of its own holding the form (400)."""
    if request.htmx:
        return render(request, fragment, context)
    return _page_of(request, screen, fragment, context, heading, status=400)


def _page_of(request, screen: Screen, fragment: str, context: dict, heading: str, status=200):
    context |= {"fragment": fragment, "heading": heading, "back_url": screen.url()}
    return render(request, "workflows/_week_standalone.html", context, status=status)


def _client_week(request, screen: Screen, key: str, week: datetime.date) -> Client:
    """A client the user may see, with that week's goals and its quarterly goals (404
    otherwise)."""
    try:
        return selectors.week_client(user=request.user, key=key, week_start=week)
    except Client.DoesNotExist:
        raise Http404("No such client") from None


def _goals_context(screen: Screen, client, week: datetime.date, form=None) -> dict:
    block = _block(client, screen.week_info(week), _goals_by_week(client)[week])
    open_goals = [goal for goal in client.quarterly_goals if goal.status == GoalStatus.OPEN]
    return {
        **screen.context(),
        "client": client,
        "goals_block": block,
        "open_goals": open_goals,
        "add_form": form,
    }


# --- Adding a goal -----------------------------------------------------------------------------


@login_required
@require_POST
def add_goal(request, key):
    """Add a goal to the client's week (the hidden `week`); answers with the client's week
    of goals and an empty form ready for the next one."""
    staff = _acting_staff(request)
    screen = Screen(request, data=request.POST)
    client = _client_week(request, screen, key, screen.week)
    form = WeeklyGoalForm(request.POST, client=client)
    if form.is_valid():
        try:
            set_weekly_goal(
                client=client,
                week_start=screen.week,
                description=form.cleaned_data["description"],
                client_goal=form.cleaned_data["client_goal"],
                by=staff,
                today=screen.today,
            )
        except ValidationError as error:
            form.add_error(None, error)
    context = _goals_context(screen, client, screen.week, form)
    if form.errors:
        return _failed(request, screen, "workflows/_week_goals.html", context, "Add a goal")
    client = _client_week(request, screen, key, screen.week)  # with the new goal
    context = _goals_context(screen, client, screen.week) | {"focus_add": True}
    response = render(request, "workflows/_week_goals.html", context)
    return _done(request, screen, response, f"Goal added for {client.name}.", f"client-{client.pk}")


# --- One goal: show, edit, close, remove -------------------------------------------------------


def _goal(request, pk: int) -> WeeklyGoal:
    """A goal of a client the user may see (404 otherwise)."""
    goals = WeeklyGoal.objects.filter(client__in=clients_visible_to(request.user))
    return get_object_or_404(goals.select_related("client", "client_goal", "updated_by"), pk=pk)


def _goal_context(screen: Screen, goal: WeeklyGoal, *, form=None, editing=False) -> dict:
    context = {
        **screen.context(),
        "goal": goal,
        "week": screen.week_info(goal.week_start),
        "editing": editing,
        "form": form,
        # After a conflict the row keeps the version its editor saw, so nothing is saved
        # over the other person's change until they reload the goal.
        "version": form["version"].value() if form is not None else goal.version,
        "conflict": form is not None
        and any(error.code == "conflict" for error in form.non_field_errors().as_data()),
    }
    if editing:
        client_goals = goal.client.goals.order_by("-due_on", "title", "pk")
        context["choices"] = [
            choice
            for choice in client_goals
            if choice.status == GoalStatus.OPEN or choice.id == goal.client_goal_id
        ]
    return context


@login_required
@require_GET
def goal_row(request, pk):
    """One goal as the week shows it (htmx: Cancel, or Reload after a conflict)."""
    screen = Screen(request)
    goal = _goal(request, pk)
    if not request.htmx:
        return redirect(screen.url(anchor=f"goal-{goal.pk}"))
    return render(request, "workflows/_week_goal.html", _goal_context(screen, goal))


@login_required
@require_http_methods(["GET", "POST"])
def edit_goal(request, pk):
    """GET: the goal's edit form (in place for htmx, a page otherwise). POST: save the new
    wording and quarterly goal from the version the editor saw."""
    staff = _acting_staff(request)
    screen = Screen(request, data=request.POST if request.method == "POST" else None)
    goal = _goal(request, pk)
    if request.method == "GET":
        context = _goal_context(screen, goal, editing=True)
        if request.htmx:
            return render(request, "workflows/_week_goal.html", context)
        return _page_of(request, screen, "workflows/_week_goal.html", context, "Edit the goal")
    form = WeeklyGoalForm(request.POST, client=goal.client)
    if form.is_valid() and form.cleaned_data["version"] is None:
        form.add_error("version", "Reload the page: this form is missing the goal's version.")
    if form.is_valid():
        try:
            update_weekly_goal(
                goal=goal,
                version=form.cleaned_data["version"],
                description=form.cleaned_data["description"],
                client_goal=form.cleaned_data["client_goal"],
                by=staff,
                today=screen.today,
            )
        except ValidationError as error:
            form.add_error(None, error)
    if form.errors:
        goal = _goal(request, pk)
        context = _goal_context(screen, goal, form=form, editing=True)
        return _failed(request, screen, "workflows/_week_goal.html", context, "Edit the goal")
    goal = _goal(request, pk)
    response = render(request, "workflows/_week_goal.html", _goal_context(screen, goal))
    return _done(request, screen, response, "Goal saved.", f"goal-{goal.pk}")


@login_required
@require_POST
def close_goal(request, pk):
    """Close the goal as met or missed with an optional note, or reopen it (status=open)."""
    staff = _acting_staff(request)
    screen = Screen(request, data=request.POST)
    goal = _goal(request, pk)
    form = CloseGoalForm(request.POST)
    if form.is_valid():
        try:
            close_weekly_goal(
                goal=goal,
                version=form.cleaned_data["version"],
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
                by=staff,
                today=screen.today,
            )
        except ValidationError as error:
            form.add_error(None, error)
    goal = _goal(request, pk)
    if form.errors:
        context = _goal_context(screen, goal, form=form)
        return _failed(request, screen, "workflows/_week_goal.html", context, "Close the goal")
    response = render(request, "workflows/_week_goal.html", _goal_context(screen, goal))
    status = goal.get_status_display().lower()
    message = "Goal reopened." if goal.status == GoalStatus.OPEN else f"Goal closed as {status}."
    return _done(request, screen, response, message, f"goal-{goal.pk}")


@login_required
@require_POST
def delete_goal(request, pk):
    """Remove a goal set by mistake; htmx swaps the goal's row for nothing."""
    staff = _acting_staff(request)
    screen = Screen(request, data=request.POST)
    goal = _goal(request, pk)
    form = DeleteGoalForm(request.POST)
    if form.is_valid():
        try:
            delete_weekly_goal(
                goal=goal, version=form.cleaned_data["version"], by=staff, today=screen.today
            )
        except ValidationError as error:
            form.add_error(None, error)
    if form.errors:
        goal = _goal(request, pk)
        context = _goal_context(screen, goal, form=form)
        return _failed(request, screen, "workflows/_week_goal.html", context, "Remove the goal")
    return _done(request, screen, HttpResponse(""), "Goal removed.", f"client-{goal.client_id}")


# --- Logging a touchpoint ----------------------------------------------------------------------


def _blank_touchpoint_form(today: datetime.date) -> TouchpointForm:
    """The one-click default: a call, today, from us."""
    return TouchpointForm(
        initial={
            "channel": Channel.CALL,
            "occurred_on": today.isoformat(),
            "direction": Direction.OUTBOUND,
        }
    )


@login_required
@require_POST
def log_client_touchpoint(request, key):
    """Log a conversation with the client; answers with the client's days inactive, updated,
    and a fresh form."""
    staff = _acting_staff(request)
    screen = Screen(request, data=request.POST)
    client = get_object_or_404(clients_visible_to(request.user), key=key)
    form = TouchpointForm(request.POST)
    logged = None
    if form.is_valid():
        try:
            logged = log_touchpoint(
                client=client,
                channel=form.cleaned_data["channel"],
                occurred_on=form.cleaned_data["occurred_on"],
                direction=form.cleaned_data["direction"],
                summary=form.cleaned_data["summary"],
                by=staff,
                today=screen.today,
            )
        except ValidationError as error:
            form.add_error(None, error)
    context = {
        **screen.context(),
        "client": client,
        "days_inactive": days_inactive([client], on=screen.today)[client.id],
        "sla_days": AgencySettings.load().sla_days,
        "touchpoint_form": form if logged is None else _blank_touchpoint_form(screen.today),
        "logged": logged,
    }
    if logged is None:
        heading = f"Log a touchpoint with {client.name}"
        return _failed(request, screen, "workflows/_week_contact.html", context, heading)
    response = render(request, "workflows/_week_contact.html", context)
    message = f"{logged.get_channel_display()} with {client.name} logged."
    return _done(request, screen, response, message, f"client-{client.pk}")
