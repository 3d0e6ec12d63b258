"""Metrics as the rest of Godview asks for them: refreshed and stored, then read back.

Pages never compute from raw history: they read `MetricRun`s. `refresh_current` recomputes
the usual periods as of the agency's today (after every write batch, debounced, and nightly);
`snapshot_day` stores a day's quarter-to-date figures for trends and risk history, and
`snapshot_week` a week's own figures for the by-week charts.
"""

import datetime
import logging
import time

from django.db import transaction
from django.utils import timezone

from godview.agency import agency_today

from .compute import compute_metrics, default_start
from .models import MetricRow, MetricRun
from .periods import LAST_WEEK, QUARTER, WEEK, usual_periods
from .registry import AGENCY, CLIENT, DEPARTMENT, POD, STAFF

logger = logging.getLogger(__name__)

LIST_LEVELS = {"departments": DEPARTMENT, "pods": POD, "staff": STAFF, "clients": CLIENT}
# Daily snapshots keep, per client, what trend lines and risk history need (the full rows of
# every client every day would grow by gigabytes a year at 1,000 clients).
DAILY_CLIENT_KEYS = ("mrr", "days_inactive", "risk_score", "risk_signals", "risk_reasons")
# Weekly runs keep the levels the by-week charts draw (filtered by department or pod).
WEEKLY_LEVELS = (AGENCY, DEPARTMENT, POD)
# Figures the pages sort, filter and page by, copied out of the values into their columns.
COPIED = ("risk_score", "days_inactive", "mrr", "leaderboard_rank", "tactic_wins")
ENDED_TACTICS = ("tactic_wins", "tactic_losses", "tactic_inconclusive")


@transaction.atomic
def store_run(*, kind: str, period: str, result: dict, seconds: float) -> MetricRun:
    """Store a computed result (export shape) as a run, replacing one with the same identity."""
    as_of = datetime.date.fromisoformat(result["as_of"])
    start = datetime.date.fromisoformat(result["start"])
    MetricRun.objects.filter(kind=kind, period=period, as_of=as_of, start=start).delete()
    if kind == MetricRun.Kind.CURRENT:
        # Only the latest current run of a period is kept.
        MetricRun.objects.filter(kind=kind, period=period).delete()
    elif kind == MetricRun.Kind.WEEKLY:
        # One run per week: the running week's is replaced as the week goes on.
        MetricRun.objects.filter(kind=kind, period=period, start=start).delete()
    run = MetricRun.objects.create(
        kind=kind,
        period=period,
        as_of=as_of,
        start=start,
        computed_at=timezone.now(),
        seconds=seconds,
    )
    rows = [metric_row(run=run, level=AGENCY, key=AGENCY, values=result["agency"])]
    for name, level in LIST_LEVELS.items():
        if kind == MetricRun.Kind.WEEKLY and level not in WEEKLY_LEVELS:
            continue
        for entry in result[name]:
            values = {k: v for k, v in entry.items() if k != "key"}
            if kind == MetricRun.Kind.DAILY and level == CLIENT:
                values = {k: values[k] for k in DAILY_CLIENT_KEYS if k in values}
            rows.append(metric_row(run=run, level=level, key=entry["key"], values=values))
    MetricRow.objects.bulk_create(rows, batch_size=1000)
    return run


def metric_row(*, run, level: str, key: str, values: dict) -> MetricRow:
    """An unsaved row of a run, with the figures pages sort and filter by in their columns."""
    return MetricRow(
        run=run,
        level=level,
        key=key,
        values=values,
        on_leaderboard="leaderboard_parts" in values,
        tactics_ended=sum(values.get(name) or 0 for name in ENDED_TACTICS),
        **{name: values.get(name) for name in COPIED},
    )


def _compute_and_store(*, kind: str, period: str, as_of, start, also_weekly=False):
    started = time.perf_counter()
    result = compute_metrics(as_of=as_of, start=start)
    seconds = time.perf_counter() - started
    run = store_run(kind=kind, period=period, result=result, seconds=seconds)
    if also_weekly:  # the same figures are that week's own
        store_run(kind=MetricRun.Kind.WEEKLY, period=WEEK, result=result, seconds=seconds)
    return run


def refresh_current(*, today: datetime.date | None = None) -> list[MetricRun]:
    """Recompute the usual periods as of today (agency-local) and today's daily snapshot;
    this week's and last week's figures are stored as weekly runs too."""
    today = today or agency_today()
    runs = [
        _compute_and_store(
            kind=MetricRun.Kind.CURRENT,
            period=name,
            as_of=as_of,
            start=start,
            also_weekly=name in (WEEK, LAST_WEEK),
        )
        for name, (start, as_of) in usual_periods(today).items()
    ]
    runs.append(snapshot_day(day=today))
    logger.info("metrics refreshed as of %s in %.1f s", today, sum(run.seconds for run in runs))
    return runs


def snapshot_day(*, day: datetime.date) -> MetricRun:
    """Store the quarter-to-date figures as of day (the history behind trends)."""
    return _compute_and_store(
        kind=MetricRun.Kind.DAILY, period=QUARTER, as_of=day, start=default_start(day)
    )


def snapshot_week(*, week_start: datetime.date, today: datetime.date) -> MetricRun:
    """Store one week's own figures: Monday to Sunday, or to today for the running week."""
    if week_start.weekday() != 0:
        raise ValueError(f"{week_start} is not a Monday")
    as_of = min(week_start + datetime.timedelta(days=6), today)
    return _compute_and_store(
        kind=MetricRun.Kind.WEEKLY, period=WEEK, as_of=as_of, start=week_start
    )


def backfill_weeks(*, since: datetime.date, until: datetime.date) -> int:
    """Weekly runs for every week from since's to until's (the by-week charts' history)."""
    if since > until:
        raise ValueError("since must be on or before until")
    week = since - datetime.timedelta(days=since.weekday())
    count = 0
    while week <= until:
        snapshot_week(week_start=week, today=until)
        week += datetime.timedelta(weeks=1)
        count += 1
    return count


def backfill(*, since: datetime.date, until: datetime.date, every_days: int = 1) -> int:
    """Daily snapshots from since to until: every N days, plus every quarter's last day (so
    each quarter's retention is kept whole) and until itself."""
    if since > until:
        raise ValueError("since must be on or before until")
    days, day = set(), since
    while day <= until:
        days.add(day)
        day += datetime.timedelta(days=every_days)
    day = default_start(since)
    while day <= until:
        quarter_end = default_start(day + datetime.timedelta(days=92)) - datetime.timedelta(days=1)
        if since <= quarter_end <= until:
            days.add(quarter_end)
        day = quarter_end + datetime.timedelta(days=1)
    days.add(until)
    for day in sorted(days):
        snapshot_day(day=day)
    return len(days)


def run_as_result(run: MetricRun) -> dict:
    """A stored run back in the export shape (rows in key order)."""
    result = {
        "as_of": run.as_of.isoformat(),
        "start": run.start.isoformat(),
        "end": run.as_of.isoformat(),
        "agency": {},
        **{name: [] for name in LIST_LEVELS},
    }
    list_names = {level: name for name, level in LIST_LEVELS.items()}
    for level, key, values in run.rows.order_by("level", "key").values_list(
        "level", "key", "values"
    ):
        if level == AGENCY:
            result["agency"] = values
        else:
            result[list_names[level]].append({"key": key, **values})
    return result


def metrics_for(*, as_of: datetime.date, start: datetime.date | None = None) -> dict:
    """The export-shaped metrics (DATA_FORMAT.md) for [start, as_of]; start defaults to the
    first day of as_of's quarter. Served from a stored current run when one matches, else
    computed. Raises ValueError when start is after as_of."""
    start = start or default_start(as_of)
    if start > as_of:
        raise ValueError("start must be on or before as_of")
    run = (
        MetricRun.objects.filter(kind=MetricRun.Kind.CURRENT, as_of=as_of, start=start)
        .order_by("-computed_at")
        .first()
    )
    if run is not None:
        return run_as_result(run)
    return compute_metrics(as_of=as_of, start=start)
