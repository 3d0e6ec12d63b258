"""The lists of the work inside the client and person pages. Each is a view of its own at its
own URL: a fragment for htmx, a page by itself otherwise (see clients.views, Lists)."""

import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404
from django.urls import reverse

from clients.selectors import clients_visible_to
from clients.views import list_page, page_state, render_list
from godview.access import staff_visible_to
from godview.agency import agency_today, agency_zone

from .. import selectors

TASKS_PER_PAGE = 15


def _show(request) -> str:
    """The task filter asked for in ?show= (all when unknown)."""
    show = request.GET.get("show", "all")
    return show if show in selectors.TASK_FILTERS else "all"


def _filters(counts: dict) -> list[dict]:
    return [
        {"key": key, "label": label, "count": counts[key]}
        for key, (label, _) in selectors.TASK_FILTERS.items()
    ]


def _period(request) -> tuple[datetime.date, datetime.date]:
    """The period of a person's lists: ?start= and ?end= (ISO dates, as the person page links
    them), else the calendar quarter to date (DOMAIN.md, Time: the default period)."""
    try:
        start = datetime.date.fromisoformat(request.GET.get("start", ""))
        end = datetime.date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        start = end = None
    if start is None or start > end:
        end = agency_today()
        start = datetime.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    return start, end


# --- A client's lists (the client page's panels) ---------------------------------------------


def _client_list(request, client, template: str, *, name: str, context: dict, state: dict):
    return render_list(
        request,
        template,
        {"client": client, **context},
        name=name,
        host=reverse("client-detail", args=[client.key]),
        state=state,
    )


@login_required
def client_tasks(request, key):
    """A client's tasks as of today: committed and current due dates, whether missed, due-date
    edits without approval and possible recreations; ?show= filters (404 if not visible)."""
    client = get_object_or_404(clients_visible_to(request.user), key=key)
    today, show = agency_today(), _show(request)
    tasks, counts = selectors.client_tasks(client=client, day=today, zone=agency_zone(), show=show)
    page = list_page(tasks, request.GET.get("page"), TASKS_PER_PAGE)
    return _client_list(
        request,
        client,
        "workflows/client_tasks.html",
        name="tasks",
        context={"as_of": today, "page": page, "show": show, "filters": _filters(counts)},
        state={"show": None if show == "all" else show, "page": page_state(page)},
    )


@login_required
def client_weekly_goals(request, key):
    """A client's weekly goals by week, newest first, each met, missed, open or not closed out
    after its week, with its note (404 if not visible)."""
    client = get_object_or_404(clients_visible_to(request.user), key=key)
    today = agency_today()
    goals = selectors.client_weekly_goals(client=client, day=today)
    page = list_page(goals, request.GET.get("page"))
    return _client_list(
        request,
        client,
        "workflows/client_weekly_goals.html",
        name="weekly_goals",
        context={"as_of": today, "page": page},
        state={"page": page_state(page)},
    )


@login_required
def client_tactics(request, key):
    """A client's tactics and CRO tests, latest first, with owner and outcome (404 if not
    visible)."""
    client = get_object_or_404(clients_visible_to(request.user), key=key)
    page = list_page(selectors.client_tactics(client=client), request.GET.get("page"))
    return _client_list(
        request,
        client,
        "workflows/client_tactics.html",
        name="tactics",
        context={"page": page},
        state={"page": page_state(page)},
    )


# --- A person's lists for a period (the person page's panels) --------------------------------


def _person_list(request, person, template: str, *, name: str, context: dict, state: dict):
    start, end = context["start"], context["as_of"]
    return render_list(
        request,
        template,
        {"person": person, **context},
        name=name,
        host=reverse("person-detail", args=[person.key]),
        params={"start": start.isoformat(), "end": end.isoformat()},
        state=state,
    )


@login_required
def person_tasks(request, key):
    """The tasks assigned to a person that were due in the period (?start=, ?end=), as of its
    end, missed or not; ?show= filters (404 outside the user's pod)."""
    person = get_object_or_404(staff_visible_to(request.user), key=key)
    start, end = _period(request)
    show = _show(request)
    tasks, counts = selectors.person_tasks(
        person=person, start=start, end=end, zone=agency_zone(), show=show
    )
    page = list_page(tasks, request.GET.get("page"), TASKS_PER_PAGE)
    return _person_list(
        request,
        person,
        "workflows/person_tasks.html",
        name="tasks",
        context={
            "start": start,
            "as_of": end,
            "page": page,
            "show": show,
            "counts": counts,
            "filters": _filters(counts),
        },
        state={"show": None if show == "all" else show, "page": page_state(page)},
    )


@login_required
def person_weekly_goals(request, key):
    """A person's weekly goals of the weeks starting in the period (?start=, ?end=), newest
    first (404 outside the user's pod)."""
    person = get_object_or_404(staff_visible_to(request.user), key=key)
    start, end = _period(request)
    goals = selectors.person_weekly_goals(person=person, start=start, end=end)
    page = list_page(goals, request.GET.get("page"))
    return _person_list(
        request,
        person,
        "workflows/person_weekly_goals.html",
        name="weekly_goals",
        context={"start": start, "as_of": end, "page": page},
        state={"page": page_state(page)},
    )


@login_required
def person_postponements(request, key):
    """Postponements of a person's tasks, or asked or decided by them, in the period (?start=,
    ?end=): requested, approved or declined, and by whom (404 outside the user's pod)."""
    person = get_object_or_404(staff_visible_to(request.user), key=key)
    start, end = _period(request)
    postponements = selectors.person_postponements(
        person=person, start=start, end=end, zone=agency_zone()
    )
    page = list_page(postponements, request.GET.get("page"))
    return _person_list(
        request,
        person,
        "workflows/person_postponements.html",
        name="postponements",
        context={
            "start": start,
            "as_of": end,
            "page": page,
            "counts": selectors.postponement_counts(postponements),
        },
        state={"page": page_state(page)},
    )


@login_required
def person_tactics(request, key):
    """The tactics a person owns that ran in the period (?start=, ?end=), latest first (404
    outside the user's pod)."""
    person = get_object_or_404(staff_visible_to(request.user), key=key)
    start, end = _period(request)
    tactics = selectors.person_tactics(person=person, start=start, end=end)
    page = list_page(tactics, request.GET.get("page"))
    return _person_list(
        request,
        person,
        "workflows/person_tactics.html",
        name="tactics",
        context={"start": start, "as_of": end, "page": page},
        state={"page": page_state(page)},
    )
