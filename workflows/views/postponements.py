"""Postponements: asking to move a task's committed due date (from the task: inline in its
row of a task list, or on a page of its own), and the queue where directors and leadership
approve or decline the requests. Every write goes through workflows.services.deadlines."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clients.views import list_links, list_page
from godview.access import scope_by_pod, staff_of
from godview.agency import agency_today, agency_zone
from godview.models import Staff

from .. import selectors
from ..forms import PostponementDecisionForm, PostponementRequestForm
from ..models import Postponement, PostponementStatus, Task
from ..services import (
    PostponementError,
    approve_postponement,
    decline_postponement,
    may_decide_postponements,
    request_postponement,
)
from ..templatetags.workflows_nav import pending_postponements_count
from ..templatetags.workflows_tasks import postponement_requested

REQUEST_TEMPLATE = "workflows/postponement_request.html"
QUEUE_TEMPLATE = "workflows/postponements.html"
DECISIONS_DOM_ID = "postponement-decisions"
DECISIONS_SINCE = datetime.timedelta(days=30)
DECISIONS_PER_PAGE = 10
# ?row=: the task list a row action comes from, and whether that list is a person's.
ROW_LISTS = {"client": False, "person": True}


# --- Shared by the row actions (tactics.py uses them too) ------------------------------------


def next_url(request, fallback: str) -> str:
    """Where a page without JavaScript goes back to once done: ?next= when it is a path on
    this site (never another host), else `fallback`."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def acting_staff(request) -> Staff:
    """The staff member acting. A login with no staff record (a bare superuser) may look,
    but a write records who did it, so it may not act."""
    staff = staff_of(request.user)
    if staff is None:
        raise PermissionDenied("Only staff members can do this.")
    return staff


def row_day(request) -> datetime.date:
    """The day a list row is shown as of (?as_of=, as the list gave it), else today."""
    try:
        return datetime.date.fromisoformat(request.GET.get("as_of", ""))
    except ValueError:
        return agency_today()


# --- Asking for a postponement ---------------------------------------------------------------


def _visible_tasks(user) -> QuerySet[Task]:
    return scope_by_pod(
        Task.objects.filter(deleted_at__isnull=True).select_related(
            "client", "client__pod", "assignee"
        ),
        user,
        "client__pod",
    )


def _task_row(task: Task, *, day: datetime.date) -> Task:
    """The task as its list shows it on `day` (selectors.tasks_as_of), with
    `postponement_requested`; the plain task when it did not exist yet on `day`."""
    row = (
        selectors.tasks_as_of(day=day, zone=agency_zone())
        .filter(pk=task.pk)
        .annotate(postponement_requested=postponement_requested())
        .first()
    )
    return row or task


@login_required
def task_postpone(request, key):
    """GET: the task's deadlines, its earlier requests and the form; POST: ask to move its
    committed due date (request_postponement; leadership's may be approved at once). htmx
    gets the task's rows in its list (?row=client or person, as of ?as_of=; ?cancel closes
    the form) or, without ?row=, the form alone; without htmx a page that goes back to
    ?next= once asked. 404 unless the user may see the task's client."""
    task = get_object_or_404(_visible_tasks(request.user), key=key)
    by = acting_staff(request)
    fallback = reverse("client-tasks", args=[task.client.key]) if task.client else reverse("home")
    back = next_url(request, fallback)
    form = PostponementRequestForm(
        request.POST or None, auto_id=f"postpone-{task.key}-%s", label_suffix=""
    )
    asked = None
    if request.method == "POST" and form.is_valid():
        try:
            asked = request_postponement(
                task=task,
                to_due_on=form.cleaned_data["to_due_on"],
                reason=form.cleaned_data["reason"],
                by=by,
                today=agency_today(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if not request.htmx:
                messages.success(request, _asked_message(asked))
                return redirect(back)
            task.refresh_from_db(fields=["committed_due_on"])  # moved if approved at once

    history = list(
        task.postponements.select_related("requested_by", "approved_by").order_by(
            "-requested_at", "-pk"
        )
    )
    context = {
        "task": task,
        "form": form,
        "asked": asked,
        "history": history,
        "waiting": next((p for p in history if p.status == PostponementStatus.REQUESTED), None),
        "back": back,
        "query": request.GET.urlencode(),
    }
    where = request.GET.get("row")
    if request.htmx and where in ROW_LISTS:
        day = row_day(request)
        row = _task_row(task, day=day)
        context |= {
            "task": row,
            "by_person": ROW_LISTS[where],
            "as_of": day,
            "target": f"#task-{task.key}",
            "open": "cancel" not in request.GET,
        }
        return render(request, f"{REQUEST_TEMPLATE}#rows", context)
    if request.htmx:
        context |= {"target": f"#postpone-{task.key}", "open": "cancel" not in request.GET}
        return render(request, f"{REQUEST_TEMPLATE}#panel", context)
    return render(request, REQUEST_TEMPLATE, context)


def _asked_message(postponement: Postponement) -> str:
    task, to = postponement.task, f"{postponement.to_due_on:%-d %b %Y}"
    if postponement.status == PostponementStatus.APPROVED:
        return f"Postponed “{task}” to {to}: approved automatically (requested by leadership)."
    return f"Asked to postpone “{task}” to {to}. A director or leadership will decide."


# --- The queue -------------------------------------------------------------------------------


def deciding_staff(request) -> Staff:
    """The director or leader deciding; anyone else gets 404, as for any page their role
    cannot see."""
    staff = staff_of(request.user)
    if staff is None or not (may_decide_postponements(staff) or request.user.is_superuser):
        raise Http404("No such page")
    return staff


def _postponements(user) -> QuerySet[Postponement]:
    """Postponements of tasks in the pods the user may see, with the task, its client and
    pod and both people, each with `times_postponed`: how many other postponements of its
    task were approved."""
    approved_others = (
        Postponement.objects.filter(task=OuterRef("task"), status=PostponementStatus.APPROVED)
        .exclude(pk=OuterRef("pk"))
        .order_by()
        .values("task")
        .annotate(rows=Count("pk"))
        .values("rows")
    )
    return scope_by_pod(
        Postponement.objects.select_related(
            "task", "task__client", "task__client__pod", "requested_by", "approved_by"
        ).annotate(
            times_postponed=Coalesce(Subquery(approved_others, output_field=IntegerField()), 0)
        ),
        user,
        "task__client__pod",
    )


def _decision_form(postponement: Postponement, data=None) -> PostponementDecisionForm:
    return PostponementDecisionForm(data, auto_id=f"decide-{postponement.pk}-%s", label_suffix="")


def _queue_context(request, *, forms: dict | None = None) -> dict:
    forms = forms or {}
    today = agency_today()
    postponements = _postponements(request.user)
    pending = list(
        postponements.filter(status=PostponementStatus.REQUESTED).order_by("requested_at", "pk")
    )
    decided = (
        postponements.exclude(status=PostponementStatus.REQUESTED)
        .filter(approved_on__gte=today - DECISIONS_SINCE)
        .order_by("-approved_on", "-pk")
    )
    return {
        "items": [
            {"postponement": p, "form": forms.get(p.pk) or _decision_form(p)} for p in pending
        ],
        "waiting_count": len(pending),
        "page": list_page(decided, request.GET.get("page"), DECISIONS_PER_PAGE),
        "today": today,
        "since": today - DECISIONS_SINCE,
        "dom_id": DECISIONS_DOM_ID,
        **list_links(reverse("postponements")),
    }


@login_required
def postponement_queue(request):
    """The requests waiting for a decision, oldest first, each with Approve and Decline;
    below, the decisions of the last 30 days, paged (htmx pages them in place). Directors
    and leadership only (404 for anyone else)."""
    deciding_staff(request)
    context = _queue_context(request)
    if request.htmx and request.htmx.target == DECISIONS_DOM_ID:
        return render(request, f"{QUEUE_TEMPLATE}#decisions", context)
    return render(request, QUEUE_TEMPLATE, context)


@login_required
@require_POST
def postponement_decide(request, pk):
    """Approve (the committed due date moves) or decline (with a note; nothing moves) one
    request. htmx gets the request's item showing the decision, and the counts of what
    still waits; without htmx, back to the queue. Nobody decides on their own request."""
    decider = deciding_staff(request)
    postponement = get_object_or_404(_postponements(request.user), pk=pk)
    form = _decision_form(postponement, request.POST)
    problem = None
    if form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        decide = approve_postponement if approve else decline_postponement
        try:
            decide(
                postponement=postponement,
                approver=decider,
                on=agency_today(),
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        except PostponementError as error:
            problem = str(error)
        else:
            if not request.htmx:
                messages.success(request, _decided_message(postponement, approve=approve))
                return redirect("postponements")
    if not request.htmx:
        if problem:
            messages.error(request, problem)
            return redirect("postponements")
        context = _queue_context(request, forms={postponement.pk: form})
        return render(request, QUEUE_TEMPLATE, context)
    item = {
        "postponement": _postponements(request.user).get(pk=pk),
        "form": form,
        "problem": problem,
    }
    waiting = pending_postponements_count(request.user)
    return render(request, f"{QUEUE_TEMPLATE}#decided", {"item": item, "waiting_count": waiting})


def _decided_message(postponement: Postponement, *, approve: bool) -> str:
    task = postponement.task
    if approve:
        return f"Approved: “{task}” is now due {postponement.to_due_on:%-d %b %Y}."
    return f"Declined: “{task}” stays due {postponement.from_due_on:%-d %b %Y}."
