"""Reads of computed metrics, scoped to what the user may see (DOMAIN.md, Access)."""

from django.db.models import Count, FloatField, IntegerField, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from clients.selectors import clients_visible_to
from godview.access import pods_visible_to, sees_everything, staff_of, staff_visible_to
from workflows.models import TrainingModule, TrainingResult

from .models import MetricRow, MetricRun
from .registry import AGENCY, BY_KEY, STAFF

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
    return (
        MetricRun.objects.filter(kind=MetricRun.Kind.CURRENT, period=period)
        .order_by("-computed_at")
        .first()
    )


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


def leaderboard(*, user, run) -> list[dict]:
    """Per role (in name order), the visible people with their rank, score and the parts of
    the score, best rank first: [{"role", "label", "entries"}]."""
    if run is None:
        return []
    people = {person.key: person for person in staff_visible_to(user).filter(active=True)}
    ranked = {}
    for key, values in rows_for(run=run, level=STAFF, keys=people).items():
        if "leaderboard_parts" not in values:
            continue
        person = people[key]
        ranked.setdefault(person.role, []).append(
            {
                "person": person,
                "rank": values.get("leaderboard_rank"),
                "score": values.get("leaderboard_score"),
                "parts": values["leaderboard_parts"],
            }
        )
    roles = []
    for role, entries in ranked.items():
        entries.sort(key=lambda e: (e["rank"] is None, e["rank"] or 0, e["person"].name))
        label = ROLE_PLURALS.get(role) or entries[0]["person"].get_role_display()
        roles.append({"role": role, "label": label, "entries": entries})
    return sorted(roles, key=lambda r: r["label"])


def _json_number(key: str, field):
    return Cast(KeyTextTransform(key, "values"), field)


RISK_ORDER = {
    "risk": [("risk_score", IntegerField()), ("days_inactive", IntegerField())],
    "days": [("days_inactive", IntegerField()), ("risk_score", IntegerField())],
    "mrr": [("mrr", FloatField())],
}


def at_risk_clients(
    *, user, run, sort: str = "risk", pod_keys=None, limit: int = 15, offset: int = 0
) -> tuple[list[dict], int]:
    """`limit` visible clients (optionally of the given pods) from `offset` on, of those with
    a risk score above 0 in the run, sorted by sort (risk, days, mrr or name) in SQL, with
    names, pod and account manager; and how many such clients there are in all."""
    if run is None:
        return [], 0
    visible = clients_visible_to(user)
    if pod_keys is not None:
        visible = visible.filter(pod__key__in=list(pod_keys))
    risky = MetricRow.objects.filter(
        run=run, level="client", values__risk_score__gt=0, key__in=visible.values("key")
    )
    total = risky.count()
    fields = ("risk_score", "days_inactive", "mrr", "risk_reasons")
    if sort == "name":
        clients = list(
            visible.filter(key__in=risky.values("key")).order_by("name")[offset : offset + limit]
        )
        keys = [client.key for client in clients]
    else:
        ordering = [
            _json_number(key, field).desc(nulls_last=True)
            for key, field in RISK_ORDER.get(sort, RISK_ORDER["risk"])
        ]
        keys = list(
            risky.order_by(*ordering, "key").values_list("key", flat=True)[offset : offset + limit]
        )
        by_key = {client.key: client for client in visible.filter(key__in=keys)}
        clients = [by_key[key] for key in keys]
    # Only the keys the table shows are read out of the stored JSON (in SQL).
    rows = {
        key: dict(zip(fields, values, strict=True))
        for key, *values in risky.filter(key__in=keys).values_list(
            "key", *(f"values__{field}" for field in fields)
        )
    }
    return [
        {
            "key": client.key,
            "name": client.name,
            "pod": client.pod.name,
            "account_manager": client.account_manager.name,
            **{k: rows[client.key][k] for k in ("risk_score", "days_inactive", "mrr")},
            "reasons": rows[client.key]["risk_reasons"] or [],
        }
        for client in clients
    ], total


def pod_rows(*, user, run) -> list[dict]:
    """Each visible pod's figures in the run, with its department."""
    if run is None:
        return []
    pods = {pod.key: pod for pod in pods_visible_to(user)}
    rows = MetricRow.objects.filter(run=run, level="pod", key__in=list(pods)).values_list(
        "key", "values"
    )
    return sorted(
        (
            {
                "key": key,
                "name": pods[key].name,
                "department": pods[key].department.name if pods[key].department else "",
                "department_key": pods[key].department.key if pods[key].department else None,
                "cells": [(column, values.get(column)) for column in POD_COLUMNS],
            }
            for key, values in rows
        ),
        key=lambda row: row["name"],
    )


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
    score = _json_number("risk_score", IntegerField())
    rows = MetricRow.objects.filter(run=run, level="client", values__risk_score__isnull=False)
    if pod_keys is not None:
        visible = clients_visible_to(user).filter(pod__key__in=list(pod_keys))
        rows = rows.filter(key__in=visible.values("key"))
    elif not sees_everything(user):
        rows = rows.filter(key__in=clients_visible_to(user).values("key"))
    counts = rows.annotate(score_value=score).aggregate(
        **{
            label: Count("id", filter=Q(score_value__gte=low, score_value__lte=high))
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


def tactic_owners(*, user, run) -> list[dict]:
    """Each visible person who ended tactics in the run's period, with their win/loss."""
    people = {person.key: person for person in staff_visible_to(user).filter(active=True)}
    rows = rows_for(run=run, level=STAFF, keys=people)
    owners = [
        {"person": people[key], **values}
        for key, values in rows.items()
        if values.get("tactic_wins", 0)
        + values.get("tactic_losses", 0)
        + values.get("tactic_inconclusive", 0)
    ]
    return sorted(owners, key=lambda row: (-(row["tactic_wins"] or 0), row["person"].name))


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
