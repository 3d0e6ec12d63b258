"""The god-view: the agency at a glance, from stored metric results."""

import functools
from urllib.parse import urlencode

import pandas as pd
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from clients.models import CRM_CONTACT_RULES, GoalStatus
from clients.selectors import clients_visible_to
from clients.views import list_query
from godview.access import pods_visible_to, sees_everything, staff_visible_to
from godview.agency import agency_today
from godview.models import AgencySettings, Department
from workflows import selectors as work

from .. import charts, selectors
from ..compute.frames import typed_frame
from ..compute.work import pace
from ..periods import PERIOD_LABELS, PREVIOUS, PREVIOUS_LABELS, QUARTER
from ..registry import AGENCY, BY_KEY, CLIENT, DEPARTMENT, METRICS, POD, STAFF

PANELS = ("tiles", "at-risk", "pods", "charts")
AT_RISK_SHOWN = 15
LEADERBOARD_SHOWN = 20
PODS_SHOWN = 10  # rows of the pods tables (god-view, department) per page
PEOPLE_SHOWN = 25  # rows of people per page on the tactics and training pages
# The at-risk table's sortable columns: (sort key, heading, cell class).
RISK_COLUMNS = (
    ("name", "Client", ""),
    ("risk", "Risk", "num"),
    ("days", "Days inactive", "num"),
    ("mrr", "MRR", "num"),
)


def _period(request) -> dict:
    """The period picked in the query string (default this quarter), its stored run, the
    previous period's run and whether the figures are older than today."""
    period = request.GET.get("period", QUARTER)
    if period not in PERIOD_LABELS:
        period = QUARTER
    previous_period = PREVIOUS.get(period)  # None for last quarter
    runs = selectors.current_runs(periods={period, previous_period} - {None})
    run = runs.get(period)
    previous = runs.get(previous_period)
    return {
        "period": period,
        "period_label": PERIOD_LABELS[period],
        "periods": PERIOD_LABELS,
        "run": run,
        "previous_run": previous,
        "previous_label": PREVIOUS_LABELS.get(period),
        "stale": run is not None and run.as_of < agency_today(),
        "now": timezone.now(),
        "sla_days": AgencySettings.load().sla_days,
        "scope_all": sees_everything(request.user),
    }


def _filters(request) -> dict:
    """The department and pod filters of the god-view (keys in the query string); unknown or
    invisible keys are ignored rather than shown as empty figures."""
    pods = {pod.key: pod for pod in pods_visible_to(request.user)}
    departments = (
        {pod.department.key: pod.department for pod in pods.values() if pod.department}
        if sees_everything(request.user)
        else {}
    )
    department = departments.get(request.GET.get("department", ""))
    pod = pods.get(request.GET.get("pod", ""))
    if pod and department and pod.department_id != department.id:
        pod = None
    chosen = {
        name: value.key for name, value in (("department", department), ("pod", pod)) if value
    }
    query = "&" + urlencode(chosen) if chosen else ""
    return {
        "department": department,
        "pod": pod,
        "departments": sorted(departments.values(), key=lambda d: d.name),
        "pod_choices": sorted(
            (p for p in pods.values() if not department or p.department_id == department.id),
            key=lambda p: p.name,
        ),
        "filter_query": query,
    }


def _pager(request, page, dom_id: str) -> dict:
    """What templates/clients/_pager.html needs to page a list of this page through HTMX."""
    return {
        "page": page,
        "list_url": request.path,
        "keep": f"period={request.GET.get('period', QUARTER)}&",
        "dom_id": dom_id,
        "previous_label": "Previous",
        "next_label": "Next",
    }


def _scope(scope: dict) -> tuple[str, str, list | None]:
    """The level and key the god-view's figures are read at, and the pods it covers (None:
    every visible pod)."""
    if scope["pod"]:
        return POD, scope["pod"].key, [scope["pod"].key]
    if scope["department"]:
        return DEPARTMENT, scope["department"].key, [pod.key for pod in scope["pod_choices"]]
    return AGENCY, AGENCY, None


def _at_risk_page(request, *, run, sort: str, pod_keys) -> dict:
    """The page of at-risk clients asked for in ?page= (the last one when past the end)."""
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    read = functools.partial(
        selectors.at_risk_clients,
        user=request.user,
        run=run,
        sort=sort,
        pod_keys=pod_keys,
        limit=AT_RISK_SHOWN,
    )
    rows, total = read(offset=(number - 1) * AT_RISK_SHOWN)
    pages = max(1, -(-total // AT_RISK_SHOWN))
    if number > pages:
        number = pages
        rows, total = read(offset=(number - 1) * AT_RISK_SHOWN)
    return {
        "at_risk": rows,
        "at_risk_total": total,
        "at_risk_page": number,
        "at_risk_pages": pages,
        "at_risk_first": (number - 1) * AT_RISK_SHOWN + 1,
        "at_risk_last": (number - 1) * AT_RISK_SHOWN + len(rows),
        "risk_columns": RISK_COLUMNS,
    }


@login_required
def godview(request):
    """KPI tiles, at-risk clients, pods and trends for the chosen period; an HTMX request for
    one panel (?panel=) gets only that panel, so the page refreshes its panels in place. The
    charts load after the page (their panel), or inline when asked for without JavaScript."""
    context = _period(request)
    run = context["run"]
    sort = request.GET.get("sort", "risk")
    if sort not in selectors.RISK_SORTS:
        sort = "risk"
    scope = _filters(request)
    level, key, pod_keys = _scope(scope)
    panel = request.GET.get("panel")
    context |= scope
    context |= {"sort": sort, "panel": panel}
    wanted = panel if request.htmx and panel in PANELS else None  # None: the whole page
    if panel == "charts":
        context["charts"] = _charts(request.user, run, level, key, pod_keys)
    if wanted in (None, "at-risk"):
        context |= _at_risk_page(request, run=run, sort=sort, pod_keys=pod_keys)
    if wanted in (None, "tiles"):
        context["tiles"] = selectors.tiles(
            run=run, previous_run=context["previous_run"], level=level, key=key
        )
    if wanted in (None, "pods"):
        # The pods the filters leave (pod_choices: in name order), a page of them shown.
        pods = [scope["pod"]] if scope["pod"] else scope["pod_choices"]
        page = Paginator(pods, PODS_SHOWN).get_page(request.GET.get("pods_page"))
        context |= {
            "pods": selectors.pod_rows(run=run, pods=page.object_list),
            "pods_page": page,
            "pod_columns": [BY_KEY[key] for key in selectors.POD_COLUMNS],
        }
    template = "metrics/godview.html"
    if wanted:
        template += f"#{wanted}"
    return render(request, template, context)


@login_required
def pod_detail(request, key):
    """One pod: its figures, its people and its clients (404 outside the user's pods)."""
    pod = get_object_or_404(pods_visible_to(request.user), key=key)
    context = _period(request)
    run = context["run"]
    people = list(pod.members.filter(active=True).order_by("name"))
    clients = list(pod.clients.select_related("account_manager").order_by("name"))
    people_rows = selectors.rows_for(run=run, level=STAFF, keys=[p.key for p in people])
    client_rows = selectors.rows_for(run=run, level=CLIENT, keys=[c.key for c in clients])
    context |= {
        "pod": pod,
        "tiles": selectors.tiles(
            run=run, previous_run=context["previous_run"], level=POD, key=pod.key
        ),
        "people": [(person, people_rows.get(person.key, {})) for person in people],
        "clients": [
            (client, client_rows[client.key]) for client in clients if client.key in client_rows
        ],
    }
    return render(request, "metrics/pod_detail.html", context)


@login_required
def department_detail(request, key):
    """One department: its figures and its pods (leadership and directors only: an account
    manager's view stops at their pod, so other users get 404)."""
    if not sees_everything(request.user):
        raise Http404("No such department")
    department = get_object_or_404(Department, key=key)
    context = _period(request)
    run = context["run"]
    pods = pods_visible_to(request.user).filter(department=department).order_by("name")
    page = Paginator(pods, PODS_SHOWN).get_page(request.GET.get("page"))
    context |= {
        "department": department,
        "tiles": selectors.tiles(
            run=run, previous_run=context["previous_run"], level=DEPARTMENT, key=department.key
        ),
        "pods": selectors.pod_rows(run=run, pods=page.object_list),
        "pod_columns": [BY_KEY[key] for key in selectors.POD_COLUMNS],
        **_pager(request, page, "pods"),
    }
    template = "metrics/department_detail.html"
    return render(request, template + "#pods" if request.htmx else template, context)


# The lists of the person page that load from their own URLs (workflows), by list name.
PERSON_PANELS = ("tasks", "weekly_goals", "postponements", "tactics")


@login_required
def person_detail(request, key):
    """One person: their figures, clients and training as of the period's end. Their tasks
    due, weekly goals, postponements and tactics of the period load into the page from their
    own URLs, paged as the page's address says (?tasks_page=2)."""
    person = get_object_or_404(staff_visible_to(request.user), key=key)
    context = _period(request)
    run = context["run"]
    clients = list(person.managed_clients.select_related("pod").order_by("name"))
    client_rows = selectors.rows_for(run=run, level=CLIENT, keys=[c.key for c in clients])
    context |= {
        "person": person,
        "tiles": selectors.tiles(
            run=run, previous_run=context["previous_run"], level=STAFF, key=person.key
        ),
        "clients": [(c, client_rows[c.key]) for c in clients if c.key in client_rows],
    }
    if run is not None:
        start, end = run.start, run.as_of
        period = urlencode({"start": start.isoformat(), "end": end.isoformat()})
        context |= {
            "panels": {name: f"{period}&{list_query(request.GET, name)}" for name in PERSON_PANELS},
            "training": work.training_of(person=person, as_of=end),
        }
    return render(request, "metrics/person_detail.html", context)


@login_required
def client_goals(request, key):
    """A client's quarterly goals, each open one with its pace as of today (DOMAIN.md, Goals:
    `pace` is the metric's own definition), loaded into the client page; 404 if not visible."""
    client = get_object_or_404(clients_visible_to(request.user), key=key)
    today = agency_today()
    goals = list(client.goals.order_by("-due_on", "title"))
    paced = [g for g in goals if g.status == GoalStatus.OPEN and g.starts_on <= today]
    columns = ["id", "baseline", "target", "current", "starts_on", "due_on"]
    frame = typed_frame([tuple(getattr(g, c) for c in columns) for g in paced], columns)
    margin = float(AgencySettings.load().pace_at_risk_margin)
    labels = pace(frame, pd.Timestamp(today), margin)
    paces = {id_: label for id_, label in zip(frame.id, labels, strict=True) if pd.notna(label)}
    context = {
        "client": client,
        "today": today,
        "rows": [
            {"goal": goal, "pace": paces.get(goal.id), "why": _no_pace_reason(goal, today)}
            for goal in goals
        ],
    }
    template = "metrics/client_goals.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#list"
    return render(request, template, context)


def _no_pace_reason(goal, today) -> str:
    """Why a goal shows no pace (the tooltip of its empty pace cell)."""
    if goal.status != GoalStatus.OPEN:
        return f"Only open goals have a pace; this one is {goal.get_status_display().lower()}"
    if goal.starts_on > today:
        return f"Not started yet: it starts on {goal.starts_on:%-d %b %Y}"
    return (
        "No pace: it needs a current value, a target other than the baseline and a due date "
        "after its start"
    )


@login_required
def client_panel(request, key):
    """A client's early warning and history (risk score with the signals that came and went,
    days inactive, MRR), loaded into the client page after it renders; 404 if not visible."""
    client = get_object_or_404(clients_visible_to(request.user), key=key)
    context = _period(request)
    current = selectors.rows_for(run=context["run"], level=CLIENT, keys=[client.key])
    history = selectors.client_history(client_key=client.key)
    days = [point["as_of"].isoformat() for point in history]
    context |= {
        "client": client,
        "current": current.get(client.key),
        "history": list(reversed(history)),
        "chart": {
            "id": "chart-client-risk",
            "figure": charts.line_over_time(
                title="Risk score and days inactive over time",
                y_title="Score / days",
                days=days,
                values=[point["risk_score"] for point in history],
                name="Risk score",
                second=("Days inactive", [point["days_inactive"] for point in history]),
            ),
        },
    }
    template = "metrics/client_panel.html"
    if request.htmx:
        template += "#panel"
    return render(request, template, context)


@login_required
def tactics(request):
    """What is working: tactics and CRO tests won and lost, by kind, by owner and, for CRO
    tests, by statistical confidence."""
    context = _period(request)
    run = context["run"]
    agency = selectors.rows_for(run=run, level=AGENCY, keys=[AGENCY]).get(AGENCY, {})
    context |= {
        "agency": agency,
        "buckets": (agency.get("cro_by_confidence") or {}).items(),
    }
    owners = selectors.tactic_owners(user=request.user, run=run)
    page = Paginator(owners, PEOPLE_SHOWN).get_page(request.GET.get("page"))
    context |= {
        "owners": selectors.owner_rows(run=run, people=page.object_list),
        **_pager(request, page, "owners"),
    }
    template = "metrics/tactics.html"
    return render(request, template + "#owners" if request.htmx else template, context)


@login_required
def training(request):
    """Training completion and scores per person and module, as of the period's end."""
    context = _period(request)
    run = context["run"]
    as_of = run.as_of if run else agency_today()
    page = Paginator(selectors.training_people(user=request.user), PEOPLE_SHOWN).get_page(
        request.GET.get("page")
    )
    matrix = selectors.training_matrix(people=page.object_list, as_of=as_of)
    figures = selectors.rows_for(
        run=run, level=STAFF, keys=[person.key for person, _ in matrix["people"]]
    )
    context |= {
        "modules": matrix["modules"],
        "people": [
            (person, figures.get(person.key, {}), cells) for person, cells in matrix["people"]
        ],
        **_pager(request, page, "people"),
    }
    template = "metrics/training.html"
    return render(request, template + "#people" if request.htmx else template, context)


@login_required
def leaderboard(request):
    """People ranked per role on plan vs fact, every part of each score shown: each role's
    first LEADERBOARD_SHOWN, and the role asked for in ?role= paged with ?page=."""
    context = _period(request)
    run = context["run"]
    roles = selectors.leaderboard(user=request.user, run=run)
    expanded = request.GET.get("role")
    for role in roles:
        number = request.GET.get("page") if role["role"] == expanded else 1
        role["page"] = Paginator(role.pop("keys"), LEADERBOARD_SHOWN).get_page(number)
    shown = [key for role in roles for key in role["page"].object_list]
    entries = selectors.leaderboard_entries(run=run, keys=shown)
    for role in roles:
        # A person who left between the two reads is not shown.
        role["entries"] = [entries[key] for key in role["page"].object_list if key in entries]
    context["roles"] = roles
    return render(request, "metrics/leaderboard.html", context)


@login_required
def glossary(request):
    """Every metric's definition, from the registry, grouped as DOMAIN.md groups them."""
    groups = {}
    for metric in METRICS:
        groups.setdefault(metric.group, []).append(metric)
    return render(
        request,
        "metrics/glossary.html",
        {"groups": groups, "contact_rules": CRM_CONTACT_RULES},
    )


def _charts(user, run, level: str, key: str, pod_keys) -> list[dict]:
    """The god-view's charts for the agency, a department or a pod, each with its figure and
    the table that says the same."""
    history = selectors.history(level=level, key=key)
    quarters = selectors.quarterly_retention(history)
    weeks = selectors.weekly_history(level=level, key=key)
    bands = selectors.risk_bands(user=user, run=run, pod_keys=pod_keys)
    week_labels = [week["start"].isoformat() for week in weeks]
    return [
        {
            "id": "chart-retention",
            "title": "Retention and churn by quarter",
            "figure": charts.retention_by_quarter(
                quarters=[q["quarter"] for q in quarters],
                retention=[q["retention_rate"] for q in quarters],
                churn=[q["churn_rate"] for q in quarters],
            ),
            "columns": ["Quarter", "Retention %", "Churn %"],
            "rows": [
                [
                    q["quarter"] + ("" if q["complete"] else " (to date)"),
                    q["retention_rate"],
                    q["churn_rate"],
                ]
                for q in quarters
            ],
        },
        _trend_chart("chart-mrr", "MRR over time", "MRR", history, "mrr", "MRR"),
        {
            "id": "chart-misses",
            "title": "Deadline miss rate by week",
            "figure": charts.by_week(
                title="Deadline miss rate by week",
                y_title="% of tasks due",
                weeks=week_labels,
                values=[week["deadline_miss_rate"] for week in weeks],
                name="Miss rate",
            ),
            "columns": ["Week starting", "Tasks due", "Missed", "Miss rate %"],
            "rows": [
                [label, week["tasks_due"], week["tasks_missed"], week["deadline_miss_rate"]]
                for label, week in zip(week_labels, weeks, strict=True)
            ],
        },
        _trend_chart(
            "chart-inactive",
            "Average days inactive over time",
            "Days",
            history,
            "avg_days_inactive",
            "Average days inactive",
        ),
        {
            "id": "chart-risk",
            "title": "Risk score distribution",
            "figure": charts.risk_distribution(
                labels=[band["band"] for band in bands],
                counts=[band["clients"] for band in bands],
            ),
            "columns": ["Risk score", "Active clients"],
            "rows": [[band["band"], band["clients"]] for band in bands],
        },
    ]


def _trend_chart(chart_id: str, title: str, y_title: str, history, key: str, column: str):
    """One figure of the daily snapshots drawn as a line over time, with its table."""
    days = [point["as_of"].isoformat() for point in history]
    values = [point[key] for point in history]
    return {
        "id": chart_id,
        "title": title,
        "figure": charts.line_over_time(
            title=title, y_title=y_title, days=days, values=values, name=column
        ),
        "columns": ["Snapshot", column],
        "rows": [list(row) for row in zip(days, values, strict=True)],
    }
