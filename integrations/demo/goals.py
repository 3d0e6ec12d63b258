"""Quarterly client goals and the weekly goals account managers commit to."""

import datetime
import random

from clients.models import ClientGoal, GoalStatus
from workflows.models import WeeklyGoal

from . import vocabulary
from .base import decimal, mondays, rng_for
from .clients import ClientPlan
from .people import Agency

GOAL_DAYS = 90  # a goal runs from starts_on to starts_on + 90 days
# How open goals stand today: pace -> share of goals.
PACE_MIX = {"on_track": 50, "at_risk": 25, "off_track": 20, "no_data": 5}


def fill(template: str, rng: random.Random) -> str:
    """A template from the vocabulary with its {placeholders} filled in."""
    return template.format(
        n=rng.randint(2, 5),
        page=rng.choice(vocabulary.PAGES),
        campaign=rng.choice(vocabulary.CAMPAIGNS),
        platform=rng.choice(vocabulary.PLATFORMS),
    )


def client_goals_for(plan: ClientPlan, agency: Agency) -> list[ClientGoal]:
    """One or two 90-day goals per quarter of service, back-to-back from the start of each
    service period. Past goals are met or missed (a few never closed); a goal cut short by
    the client leaving is missed; current goals are open, most on track, some behind."""
    rng = rng_for(agency.seed, "client-goals", plan.key)
    today = agency.today
    goals = []
    for period_start, period_end in plan.service_periods():
        starts_on = period_start
        while starts_on <= min(period_end or today, today):
            due_on = starts_on + datetime.timedelta(days=GOAL_DAYS)
            if due_on >= agency.history_start:
                templates = vocabulary.INDUSTRIES[plan.industry][2]
                for template in rng.sample(templates, 1 if rng.random() < 0.55 else 2):
                    goals.append(
                        _goal(
                            rng,
                            plan,
                            len(goals) + 1,
                            template,
                            starts_on,
                            due_on,
                            period_end,
                            today,
                        )
                    )
            starts_on = due_on + datetime.timedelta(days=1)
    return goals


def _goal(rng, plan, number, template, starts_on, due_on, period_end, today) -> ClientGoal:
    title, metric, lower_is_better, baseline_range, change_range, places = (
        vocabulary.GOAL_TEMPLATES[template]
    )
    baseline = rng.uniform(*baseline_range)
    change = rng.uniform(*change_range)
    target = baseline * (1 - change) if lower_is_better else baseline * (1 + change)
    status = GoalStatus.OPEN
    if period_end is not None and period_end < due_on:
        status, progress = GoalStatus.MISSED, rng.uniform(-0.1, 0.8)
    elif due_on < today:
        outcome = rng.random()
        if outcome < 0.55:
            status, progress = GoalStatus.MET, rng.uniform(1.0, 1.25)
        elif outcome < 0.96:
            status, progress = GoalStatus.MISSED, rng.uniform(-0.2, 0.9)
        else:  # due, never closed out
            progress = rng.uniform(0.6, 1.1)
    else:
        expected = min(1.0, max(0.0, (today - starts_on).days / (due_on - starts_on).days))
        pace = rng.choices(list(PACE_MIX), weights=list(PACE_MIX.values()))[0]
        progress = {
            "on_track": expected + rng.uniform(0.02, 0.25),
            "at_risk": expected - rng.uniform(0.03, 0.22),
            "off_track": expected - rng.uniform(0.3, 0.7),
            "no_data": None,
        }[pace]
    current = None if progress is None else baseline + (target - baseline) * progress
    shown = f"{{:,.{places}f}}"
    return ClientGoal(
        key=f"demo-goal-{plan.number:04d}-{number:02d}",
        client=plan.client,
        title=f"{title} from {shown.format(baseline)} to {shown.format(target)}",
        metric=metric,
        baseline=decimal(baseline, places),
        target=decimal(target, places),
        current=None if current is None else decimal(current, places),
        starts_on=starts_on,
        due_on=due_on,
        status=status,
    )


def weekly_goals_for(plan: ClientPlan, agency: Agency, goals: list[ClientGoal]):
    """Weekly goals for each Monday the client is active, up to this week: usually one or
    two, sometimes none; ended weeks are mostly met, some missed with a note, and the last
    two ended weeks are sometimes still open (not closed out)."""
    rng = rng_for(agency.seed, "weekly-goals", plan.key)
    today = agency.today
    account_manager = plan.account_manager
    lateness = agency.lateness[account_manager.key]
    logged_chance = 0.97 - 0.06 * lateness
    met_chance = 0.93 - 0.08 * lateness
    weekly_goals = []
    for monday in mondays(agency.history_start, today):
        if not plan.active_on(monday) or rng.random() >= logged_chance:
            continue
        sunday = monday + datetime.timedelta(days=6)
        serving = [goal for goal in goals if goal.starts_on <= monday <= goal.due_on]
        count = rng.choices((1, 2, 3), weights=(70, 25, 5))[0]
        for template in rng.sample(vocabulary.WEEKLY_GOALS, count):
            note = ""
            if sunday >= today:  # the week has not ended
                status = GoalStatus.MET if rng.random() < 0.15 else GoalStatus.OPEN
            elif (today - sunday).days <= 14 and rng.random() < 0.25:
                status = GoalStatus.OPEN
            elif rng.random() < met_chance:
                status = GoalStatus.MET
            else:
                status = GoalStatus.MISSED
                note = rng.choice(vocabulary.WEEKLY_GOAL_MISSED_NOTES)
            weekly_goals.append(
                WeeklyGoal(
                    client=plan.client,
                    staff=account_manager,
                    week_start=monday,
                    description=fill(template, rng),
                    client_goal=rng.choice(serving) if serving and rng.random() < 0.7 else None,
                    status=status,
                    note=note,
                )
            )
    return weekly_goals
