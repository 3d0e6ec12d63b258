"""Deadlines and goals (DOMAIN.md): what was due, what slipped, what the weeks delivered."""

import numpy as np
import pandas as pd

from .base import Context
from .clients import mrr_on
from .levels import rate, sum_by_level

WEEK = pd.Timedelta(days=7)


def committed_as_of(tasks: pd.DataFrame, postponements: pd.DataFrame) -> pd.Series:
    """Each task's committed due date on D: the to-date of the last postponement approved by D
    (by approval date, then to-date), else its first due date."""
    if postponements.empty:
        return tasks.first_due_on
    last = (
        postponements.sort_values(["approved_on", "to_due_on"]).groupby("task_id").to_due_on.last()
    )
    return tasks.id.map(last).combine_first(tasks.first_due_on)


def missed(committed: pd.Series, completed: pd.Series, d: pd.Timestamp) -> pd.Series:
    """Missed on D: completed after the committed date, or still open (a completion after D
    is still open on D) with D after it. A task due on D and open is not missed yet."""
    return committed.notna() & (committed < d) & (completed.isna() | (completed > committed))


def compute(ctx: Context, state: pd.DataFrame) -> dict[str, pd.Series]:
    """Record the deadline and goal metrics; return the per-client risk inputs."""
    risk = {}
    risk["missed_recent"] = _deadlines(ctx)
    _recreations(ctx)
    risk["slipping"] = _weekly_goals(ctx, state)
    risk["off_track"] = _goal_pace(ctx)
    return risk


def _deadlines(ctx: Context) -> pd.Series:
    f, d, start = ctx.frames, pd.Timestamp(ctx.as_of), pd.Timestamp(ctx.start)
    tasks = f.tasks.copy()
    tasks["committed"] = committed_as_of(tasks, f.task_postponements)
    tasks["is_missed"] = missed(tasks.committed, tasks.completed_on, d)
    due = tasks.committed.between(start, d)
    tasks["due"] = due.astype(float)
    tasks["missed"] = (due & tasks.is_missed).astype(float)

    undated = f.undated_tasks.assign(undated=1.0)
    postponements = f.postponements.assign(
        postponements=1.0,
        postponed_days=(f.postponements.to_due_on - f.postponements.from_due_on).dt.days,
    )
    changes = f.deadline_changes.assign(unapproved_deadline_changes=1.0)
    groups = [
        (tasks, ["due", "missed"]),
        (undated, ["undated"]),
        (postponements, ["postponements", "postponed_days"]),
        (changes, ["unapproved_deadline_changes"]),
    ]
    totals = {}
    for rows, measures in groups:
        for level, sums in sum_by_level(
            rows, measures, ctx.scope, via="client", person="assignee_id"
        ).items():
            totals[level] = sums if level not in totals else totals[level].join(sums)
    for level, sums in totals.items():
        ctx.put(
            level,
            {
                "tasks_due": sums.due,
                "tasks_missed": sums.missed,
                "deadline_miss_rate": rate(sums.missed, sums.due),
                "tasks_undated": sums.undated,
                "postponements": sums.postponements,
                "postponed_days": sums.postponed_days,
                "unapproved_deadline_changes": sums.unapproved_deadline_changes,
            },
        )
    recent = tasks.committed.between(d - pd.Timedelta(days=13), d) & tasks.is_missed
    return tasks[recent].groupby("client_id").size()


def _recreations(ctx: Context) -> None:
    f, d, start = ctx.frames, pd.Timestamp(ctx.as_of), pd.Timestamp(ctx.start)
    candidates = f.recreation_tasks.copy()
    if candidates.empty:
        rows = pd.DataFrame({"client_id": [], "assignee_id": [], "recreation": []})
    else:
        candidates["committed"] = committed_as_of(candidates, f.recreation_postponements)
        candidates["is_missed"] = missed(candidates.committed, candidates.completed_on, d)
        pairs = candidates.merge(
            candidates[candidates.is_missed], on=["client_id", "norm"], suffixes=("", "_earlier")
        )
        pairs = pairs[
            (pairs.id != pairs.id_earlier)
            & pairs.created_on.between(start, d)
            & (pairs.created_on > pairs.committed_earlier)
        ]
        recreations = candidates[candidates.id.isin(pairs.id)]
        rows = recreations[["client_id", "assignee_id"]].assign(recreation=1.0)
    for level, sums in sum_by_level(
        rows, ["recreation"], ctx.scope, via="client", person="assignee_id"
    ).items():
        ctx.put(level, {"possible_recreations": sums.recreation})


def _ended_mondays(start: pd.Timestamp, d: pd.Timestamp) -> list[pd.Timestamp]:
    """Mondays of the weeks that start in [start, d] and have ended (Sunday before d)."""
    first = start + pd.Timedelta(days=(7 - start.weekday()) % 7)
    return [m for m in pd.date_range(first, d, freq="7D") if m + pd.Timedelta(days=6) < d]


def _weekly_goals(ctx: Context, state: pd.DataFrame) -> pd.Series:
    f, d, start = ctx.frames, pd.Timestamp(ctx.as_of), pd.Timestamp(ctx.start)
    goals = f.weekly_goals
    in_period = goals.week_start.between(start, d) & (goals.week_start + pd.Timedelta(days=6) < d)
    counted = goals[in_period].assign(set=1.0, met=(goals[in_period].status == "met").astype(float))
    for level, sums in sum_by_level(
        counted, ["set", "met"], ctx.scope, via="client", person="staff_id"
    ).items():
        ctx.put(
            level,
            {
                "weekly_goals_set": sums["set"],
                "weekly_goals_met": sums.met,
                "weekly_goal_completion_rate": rate(sums.met, sums["set"]),
            },
        )

    # Client weeks without goals: (client, ended week of the period) pairs with the client
    # active on the Monday and no weekly goal logged.
    logged = set(zip(goals.client_id, goals.week_start, strict=True))
    pairs = [
        (client_id, monday)
        for monday in _ended_mondays(start, d)
        for client_id in mrr_on(f.engagements, monday).index
        if (client_id, monday) not in logged
    ]
    empty_weeks = pd.DataFrame(pairs, columns=["client_id", "week"]).assign(weeks=1.0)
    empty_weeks["am_id"] = empty_weeks.client_id.map(ctx.scope.client_map.am_id)
    for level, sums in sum_by_level(
        empty_weeks, ["weeks"], ctx.scope, via="client", person="am_id"
    ).items():
        ctx.put(level, {"client_weeks_without_goals": sums.weeks})

    # Risk: in each of the last two ended weeks, a missed or unclosed goal, or none at all.
    this_monday = d - pd.Timedelta(days=d.weekday())
    slipping = pd.Series(True, index=state.index)
    for monday in (this_monday - WEEK, this_monday - 2 * WEEK):
        active = state.index.isin(mrr_on(f.engagements, monday).index)
        week = goals[goals.week_start == monday]
        all_met = week.groupby("client_id").status.agg(lambda s: bool((s == "met").all()))
        # No goals at all (missing) slips as much as a missed or unclosed one.
        slipped = ~all_met.reindex(state.index).astype(object).eq(True)
        slipping &= active & slipped
    return slipping


def pace(goals: pd.DataFrame, d: pd.Timestamp, margin: float) -> pd.Series:
    """on_track / at_risk / off_track for each open goal, NaN where it has no pace."""
    span = (goals.due_on - goals.starts_on).dt.days
    progress = (goals.current - goals.baseline) / (goals.target - goals.baseline).replace(0, np.nan)
    expected = ((d - goals.starts_on).dt.days / span.where(span > 0)).clip(0, 1)
    has_pace = goals.current.notna() & (goals.target != goals.baseline) & (span > 0)
    labels = np.select(
        [progress >= expected, progress >= expected - margin], ["on_track", "at_risk"], "off_track"
    )
    return pd.Series(labels, index=goals.index).where(has_pace)


def _goal_pace(ctx: Context) -> pd.DataFrame:
    d = pd.Timestamp(ctx.as_of)
    goals = ctx.frames.client_goals.copy()
    goals["pace"] = pace(goals, d, float(ctx.settings.pace_at_risk_margin))
    for label in ("on_track", "at_risk", "off_track"):
        goals[label] = (goals.pace == label).astype(float)
    goals["am_id"] = goals.client_id.map(ctx.scope.client_map.am_id)
    for level, sums in sum_by_level(
        goals, ["on_track", "at_risk", "off_track"], ctx.scope, via="client", person="am_id"
    ).items():
        ctx.put(
            level,
            {
                "goals_on_track": sums.on_track,
                "goals_at_risk": sums.at_risk,
                "goals_off_track": sums.off_track,
            },
        )
    return goals[goals.pace == "off_track"][["client_id", "title"]]
