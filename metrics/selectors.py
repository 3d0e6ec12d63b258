"""Reads of computed metrics, scoped to what the user may see (DOMAIN.md, Access)."""

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from clients.selectors import clients_visible_to
from godview.access import pods_visible_to, sees_everything, staff_of, staff_visible_to
from godview.models import Role, Staff
from workflows.models import TrainingModule, TrainingResult

from .models import MetricRow, MetricRun
from .registry import AGENCY, BY_KEY, CLIENT, POD, STAFF

DATES = ("as_of", "start", "end")
LISTS = ("departments", "pods", "staff", "clients")


def metrics_visible_to(*, user, result: dict) -> dict:
    """A copy of an export-shaped result (DATA_FORMAT.md) keeping what user may see: all of it
    for leadership, directors and superusers; for other active staff the agency figures plus,
    for someone in a pod, that pod, its people and its clients (no department: its figures
    include other pods); only the dates for anyone else. Every top-level key stays, empty
    where nothing is visible."""
    dates = {name: result[name] for name in DATES}
    if sees_everything(user):
        return {
            **dates,
            "agency": dict(result["agency"]),
            **{name: [dict(entry) for entry in result[name]] for name in LISTS},
        }
    staff = staff_of(user)
    if staff is None or not staff.active:
        return {**dates, "agency": {}, **{name: [] for name in LISTS}}
    visible_keys = {
        "departments": set(),
        "pods": set(pods_visible_to(user).values_list("key", flat=True)),
        "staff": set(staff_visible_to(user).values_list("key", flat=True)),
        "clients": set(clients_visible_to(user).values_list("key", flat=True)),
    }
    return {
        **dates,
        "agency": dict(result["agency"]),
        **{
            name: [dict(entry) for entry in result[name] if entry["key"] in visible_keys[name]]
            for name in LISTS
        },
    }


# --- The god-view's reads: stored results only, never raw history -------------------------

TILE_METRICS = (
    "active_clients",
    "mrr",
    "retention_rate",
    "churn_rate",
    "nrr",
    "avg_days_inactive",
    "deadline_miss_rate",
    "weekly_goal_completion_rate",
    "tactic_win_rate",
    "training_completion_rate",
)
POD_COLUMNS = (
    "active_clients",
    "mrr",
    "retention_rate",
    "avg_days_inactive",
    "sla_breaches",
    "deadline_miss_rate",
    "weekly_goal_completion_rate",
    "goals_off_track",
    "tactic_win_rate",
)
RISK_SORTS = ("risk", "days", "mrr", "name")


def current_run(*, period: str):
    """The latest stored current run of a period, or None when none was computed yet."""
    return current_runs(periods=[period]).get(period)


def current_runs(*, periods) -> dict[str, MetricRun]:
    """period -> its latest stored current run, for those of the periods that have one (one
    query: a refresh replaces a period's current run, so there are few to read)."""
    runs = {}
    for run in MetricRun.objects.filter(
        kind=MetricRun.Kind.CURRENT, period__in=list(periods)
    ).order_by("-computed_at"):
        runs.setdefault(run.period, run)
    return runs


def tiles(*, run, previous_run, level: str = AGENCY, key: str = AGENCY) -> list[dict]:
    """KPI tiles for one object (the agency by default): each tile metric that applies to the
    level, its value in the run and in the previous period's run."""
    values = dict(
        MetricRow.objects.filter(
            run__in=[r for r in (run, previous_run) if r is not None], level=level, key=key
        ).values_list("run_id", "values")
    )
    current = values.get(run.id, {}) if run else {}
    previous = values.get(previous_run.id, {}) if previous_run else {}
    result = []
    for metric_key in TILE_METRICS:
        metric = BY_KEY[metric_key]
        if metric_key not in current and level != AGENCY:
            continue  # does not apply here (an account-manager figure of a designer, say)
        value, before = current.get(metric_key), previous.get(metric_key)
        change = None if value is None or before is None else value - before
        better = None
        if change and metric.higher_is_better is not None:
            better = (change > 0) == metric.higher_is_better
        result.append(
            {
                "metric": metric,
                "value": value,
                "previous": before,
                "change": change,
                "better": better,
                "sla_breaches": current.get("sla_breaches")
                if metric_key == "avg_days_inactive"
                else None,
            }
        )
    return result


def rows_for(*, run, level: str, keys) -> dict[str, dict]:
    """key -> stored values of the given objects of a level in the run (one query)."""
    if run is None:
        return {}
    return dict(
        MetricRow.objects.filter(run=run, level=level, key__in=list(keys)).values_list(
            "key", "values"
        )
    )


ROLE_PLURALS = {"account_manager": "Account managers", "designer": "Designers", "sales": "Sales"}


def _staff_rows(run):
    """A person's row in the run, for annotating people (OuterRef: their key)."""
    return MetricRow.objects.filter(run=run, level=STAFF, key=OuterRef("key"))


def leaderboard(*, user, run) -> list[dict]:
    """Per role (in label order), the keys of the visible active people on the run's
    leaderboard, best rank first (the unranked last), then by name: [{"role", "label",
    "keys"}]. One query, of keys only (sorted in SQL): `leaderboard_entries` reads the people
    a page shows."""
    if run is None:
        return []
    rows = _staff_rows(run)
    ranked = (
        staff_visible_to(user)
        .filter(Exists(rows.filter(on_leaderboard=True)), active=True)
        .annotate(rank=Subquery(rows.values("leaderboard_rank")))
        .order_by(F("rank").asc(nulls_last=True), "name", "key")
        .values_list("role", "key")
    )
    keys = {}
    for role, key in ranked:
        keys.setdefault(role, []).append(key)
    labels = dict(Role.choices)
    roles = [
        {"role": role, "label": ROLE_PLURALS.get(role) or labels.get(role, role), "keys": shown}
        for role, shown in keys.items()
    ]
    return sorted(roles, key=lambda r: r["label"])


def leaderboard_entries(*, run, keys) -> dict[str, dict]:
    """key -> the person (with their pod), their rank, score and the parts of the score in the
    run, for the given people (one query, reading only those figures)."""
    rows = _staff_rows(run)
    people = (
        Staff.objects.filter(key__in=list(keys))
        .select_related("pod")
        .annotate(
            rank=Subquery(rows.values("leaderboard_rank")),
            score=Subquery(rows.values("values__leaderboard_score")),
            parts=Subquery(rows.values("values__leaderboard_parts")),
        )
    )
    return {
        person.key: {
            "person": person,
            "rank": person.rank,
            "score": person.score,
            "parts": person.parts or [],
        }
        for person in people
    }


RISK_ORDER = {
    "risk": [F("risk_score").desc(nulls_last=True), F("days_inactive").desc(nulls_last=True)],
    "days": [F("days_inactive").desc(nulls_last=True), F("risk_score").desc(nulls_last=True)],
    "mrr": [F("mrr").desc(nulls_last=True)],
}


def at_risk_clients(
    *, user, run, sort: str = "risk", pod_keys=None, limit: int = 15, offset: int = 0
) -> tuple[list[dict], int]:
    """`limit` visible clients (optionally of the given pods) from `offset` on, of those with
    a risk score above 0 in the run, sorted by sort (risk, days, mrr or name) in SQL, with
    names, pod and account manager; and how many such clients there are in all. Three
    queries; the stored columns (indexed) sort and filter, and only the rows shown are read."""
    if run is None:
        return [], 0
    visible = clients_visible_to(user)
    if pod_keys is not None:
        visible = visible.filter(pod__key__in=list(pod_keys))
    risky = MetricRow.objects.filter(
        run=run, level=CLIENT, risk_score__gt=0, key__in=visible.values("key")
    )
    total = risky.count()
    fields = ("key", "risk_score", "days_inactive", "mrr", "values__risk_reasons")
    if sort == "name":
        clients = list(
            visible.filter(key__in=risky.values("key")).order_by("name")[offset : offset + limit]
        )
        rows = risky.filter(key__in=[client.key for client in clients]).values_list(*fields)
    else:
        ordering = RISK_ORDER.get(sort, RISK_ORDER["risk"])
        rows = list(risky.order_by(*ordering, "key").values_list(*fields)[offset : offset + limit])
        by_key = {client.key: client for client in visible.filter(key__in=[r[0] for r in rows])}
        clients = [by_key[row[0]] for row in rows]
    figures = {key: values for key, *values in rows}
    result = []
    for client in clients:
        risk_score, days_inactive, mrr, reasons = figures[client.key]
        result.append(
            {
                "key": client.key,
                "name": client.name,
                "pod": client.pod.name,
                "account_manager": client.account_manager.name,
                "risk_score": risk_score,
                "days_inactive": days_inactive,
                "mrr": mrr,
                "reasons": reasons or [],
            }
        )
    return result, total


def pod_rows(*, run, pods) -> list[dict]:
    """The given pods' figures in the run (the rows of a pods table, in the pods' order), with
    their departments: one query, reading only the table's columns."""
    pods = list(pods)
    if run is None or not pods:
        return []
    cells = {
        key: values
        for key, *values in MetricRow.objects.filter(
            run=run, level=POD, key__in=[pod.key for pod in pods]
        ).values_list("key", *(f"values__{column}" for column in POD_COLUMNS))
    }
    return [
        {
            "key": pod.key,
            "name": pod.name,
            "department": pod.department.name if pod.department else "",
            "department_key": pod.department.key if pod.department else None,
            "cells": list(zip(POD_COLUMNS, cells[pod.key], strict=True)),
        }
        for pod in pods
        if pod.key in cells
    ]


RISK_BANDS = (
    ("0", 0, 0),
    ("1-24", 1, 24),
    ("25-49", 25, 49),
    ("50-74", 50, 74),
    ("75-100", 75, 100),
)


def history(*, level: str = AGENCY, key: str = AGENCY) -> list[dict]:
    """One object's (the agency's by default) figures in every daily snapshot, oldest first:
    only the few keys the trend charts draw, extracted in SQL from the stored rows."""
    keys = ("mrr", "avg_days_inactive", "retention_rate", "churn_rate")
    rows = (
        MetricRow.objects.filter(run__kind=MetricRun.Kind.DAILY, level=level, key=key)
        .order_by("run__as_of")
        .values_list("run__as_of", "run__start", *(f"values__{name}" for name in keys))
    )
    return [dict(zip(("as_of", "start", *keys), row, strict=True)) for row in rows]


WEEKS_SHOWN = 26


def weekly_history(*, level: str = AGENCY, key: str = AGENCY, weeks: int = WEEKS_SHOWN):
    """One object's own figures in each of the last `weeks` stored weeks, oldest first."""
    keys = ("tasks_due", "tasks_missed", "deadline_miss_rate", "weekly_goal_completion_rate")
    rows = (
        MetricRow.objects.filter(run__kind=MetricRun.Kind.WEEKLY, level=level, key=key)
        .order_by("-run__start")
        .values_list("run__start", "run__as_of", *(f"values__{name}" for name in keys))
    )[:weeks]
    return [dict(zip(("start", "as_of", *keys), row, strict=True)) for row in reversed(rows)]


def quarterly_retention(history: list[dict]) -> list[dict]:
    """Per quarter, the retention of its latest snapshot (the whole quarter once it ended)."""
    latest = {}
    for point in history:
        latest[point["start"]] = point  # history is in date order: the last one wins
    return [
        {
            "quarter": f"{start.year} Q{(start.month - 1) // 3 + 1}",
            "complete": point["as_of"].month % 3 == 0 and point["as_of"].day >= 30,
            "retention_rate": point["retention_rate"],
            "churn_rate": point["churn_rate"],
        }
        for start, point in sorted(latest.items())
    ]


def risk_bands(*, user, run, pod_keys=None) -> list[dict]:
    """How many of the user's visible active clients (optionally of the given pods) fall in
    each band of risk score (one aggregate query)."""
    if run is None:
        return []
    rows = MetricRow.objects.filter(run=run, level=CLIENT, risk_score__isnull=False)
    if pod_keys is not None:
        visible = clients_visible_to(user).filter(pod__key__in=list(pod_keys))
        rows = rows.filter(key__in=visible.values("key"))
    elif not sees_everything(user):
        rows = rows.filter(key__in=clients_visible_to(user).values("key"))
    counts = rows.aggregate(
        **{
            label: Count("risk_score", filter=Q(risk_score__gte=low, risk_score__lte=high))
            for label, low, high in RISK_BANDS
        }
    )
    return [{"band": label, "clients": counts[label]} for label, _, _ in RISK_BANDS]


def client_history(*, client_key: str) -> list[dict]:
    """A client's daily snapshots, oldest first, each with which risk signals came and went
    since the snapshot before."""
    rows = (
        MetricRow.objects.filter(run__kind=MetricRun.Kind.DAILY, level="client", key=client_key)
        .order_by("run__as_of")
        .values_list("run__as_of", "values")
    )
    history, before = [], set()
    for as_of, values in rows:
        signals = set(values.get("risk_signals") or [])
        history.append(
            {
                "as_of": as_of,
                "risk_score": values.get("risk_score"),
                "days_inactive": values.get("days_inactive"),
                "mrr": values.get("mrr"),
                "reasons": values.get("risk_reasons") or [],
                "came": sorted(signals - before),
                "went": sorted(before - signals),
            }
        )
        before = signals
    return history


def tactic_owners(*, user, run):
    """The visible active people who ended tactics in the run's period, most wins first, then
    by name: a queryset to page (the stored columns filter and sort in SQL); `owner_rows`
    reads the figures of the people shown."""
    rows = _staff_rows(run)
    return (
        staff_visible_to(user)
        .filter(active=True)
        .annotate(
            tactics_ended=Subquery(rows.values("tactics_ended")),
            wins=Coalesce(Subquery(rows.values("tactic_wins")), 0),
        )
        .filter(tactics_ended__gt=0)
        .order_by("-wins", "name", "key")
    )


def owner_rows(*, run, people) -> list[dict]:
    """Each of the given people with their figures in the run (one query)."""
    people = list(people)
    figures = rows_for(run=run, level=STAFF, keys=[person.key for person in people])
    return [{"person": person, **figures.get(person.key, {})} for person in people]


def training_people(*, user):
    """The visible active people, in name order (the rows of the training matrix)."""
    return staff_visible_to(user).filter(active=True).order_by("name")


def training_matrix(*, people, as_of) -> dict:
    """Latest result on or before as_of of each of the given people in every module:
    {"modules": [...], "people": [(person, [result or None per module])]}."""
    people = list(people)
    modules = list(TrainingModule.objects.select_related("department").order_by("name"))
    latest = {}
    for result in TrainingResult.objects.filter(staff__in=people, completed_on__lte=as_of).order_by(
        "completed_on"
    ):
        latest[(result.staff_id, result.module_id)] = result
    return {
        "modules": modules,
        "people": [
            (
                person,
                [
                    {
                        "result": latest.get((person.id, module.id)),
                        "required": module.required
                        and module.department_id in (None, person.department_id),
                        "pass_score": module.pass_score,
                    }
                    for module in modules
                ],
            )
            for person in people
        ],
    }
