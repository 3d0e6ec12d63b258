"""Weekly goals: set, edit, close and remove them, within the edit window, never silently
overwriting someone else's change."""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clients.models import Client, ClientGoal, GoalStatus
from godview.agency import agency_zone
from godview.models import AgencySettings, Staff
from godview.services import schedule_metrics_refresh

from ..models import WeeklyGoal

DESCRIPTION_MAX = WeeklyGoal._meta.get_field("description").max_length


class GoalConflict(ValidationError):
    """The goal changed since the form was opened: someone else's edit would be lost."""

    def __init__(self, goal: WeeklyGoal | None):
        if goal is None:
            message = "This goal was removed by someone else; reload the page."
        else:
            who = goal.updated_by.name if goal.updated_by else "someone else"
            when = goal.updated_at.astimezone(agency_zone()).strftime("%d %b %Y %H:%M")
            message = f"This goal was changed by {who} at {when}; reload to see their change."
        super().__init__(message, code="conflict")


def week_start_of(day: datetime.date) -> datetime.date:
    """The Monday of day's week (weeks run Monday to Sunday)."""
    return day - datetime.timedelta(days=day.weekday())


def may_edit_week(*, week_start: datetime.date, by: Staff, today: datetime.date) -> bool:
    """Anyone may edit a week until `closed_week_edit_days` (a setting) after it ends; then
    only directors and leadership."""
    if by.sees_everything:
        return True
    last_day = week_start + datetime.timedelta(days=6 + AgencySettings.load().closed_week_edit_days)
    return today <= last_day


def _check_window(week_start: datetime.date, by: Staff, today: datetime.date) -> None:
    if not may_edit_week(week_start=week_start, by=by, today=today):
        raise ValidationError(
            f"The week of {week_start:%d %b %Y} is closed; only a director can change its "
            "goals now.",
            code="closed",
        )


def _clean(description: str, client: Client, client_goal: ClientGoal | None) -> str:
    description = " ".join((description or "").split())
    errors = {}
    if not description:
        errors["description"] = "Describe the goal."
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the goal under {DESCRIPTION_MAX} characters."
    if client_goal is not None and client_goal.client_id != client.id:
        errors["client_goal"] = "That quarterly goal belongs to another client."
    if errors:
        raise ValidationError(errors)
    return description


@transaction.atomic
def set_weekly_goal(
    *,
    client: Client,
    week_start: datetime.date,
    description: str,
    by: Staff,
    today: datetime.date,
    client_goal: ClientGoal | None = None,
) -> WeeklyGoal:
    """Add a goal for a client's week. It is the client's account manager's commitment, so a
    director adding one on their behalf counts it for the account manager."""
    if week_start.weekday() != 0:
        raise ValidationError({"week_start": "A week starts on a Monday."})
    description = _clean(description, client, client_goal)
    _check_window(week_start, by, today)
    owner = client.account_manager if by.sees_everything else by
    try:
        with transaction.atomic():
            goal = WeeklyGoal.objects.create(
                client=client,
                staff=owner,
                week_start=week_start,
                description=description,
                client_goal=client_goal,
                updated_by=by,
            )
    except IntegrityError:
        raise ValidationError(
            {"description": "This client already has that goal for the week."}
        ) from None
    schedule_metrics_refresh()
    return goal


def _locked(goal: WeeklyGoal, version: int) -> WeeklyGoal:
    current = WeeklyGoal.objects.select_for_update(of=("self",)).select_related(
        "updated_by", "client"
    )
    current = current.filter(pk=goal.pk).first()
    if current is None or current.version != version:
        raise GoalConflict(current)
    return current


def _save(goal: WeeklyGoal, by: Staff, fields: list[str]) -> WeeklyGoal:
    goal.version += 1
    goal.updated_by = by
    try:
        with transaction.atomic():
            goal.save(update_fields=[*fields, "version", "updated_by", "updated_at"])
    except IntegrityError:
        raise ValidationError(
            {"description": "This client already has that goal for the week."}
        ) from None
    schedule_metrics_refresh()
    return goal


@transaction.atomic
def update_weekly_goal(
    *,
    goal: WeeklyGoal,
    version: int,
    description: str,
    by: Staff,
    today: datetime.date,
    client_goal: ClientGoal | None = None,
) -> WeeklyGoal:
    """Change a goal's wording or its quarterly goal, from the version the editor saw."""
    goal = _locked(goal, version)
    _check_window(goal.week_start, by, today)
    goal.description = _clean(description, goal.client, client_goal)
    goal.client_goal = client_goal
    return _save(goal, by, ["description", "client_goal"])


@transaction.atomic
def close_weekly_goal(
    *, goal: WeeklyGoal, version: int, status: str, note: str, by: Staff, today: datetime.date
) -> WeeklyGoal:
    """Close a goal as met or missed (with an optional short note), or reopen it; a week
    cannot be closed before it starts."""
    goal = _locked(goal, version)
    if status not in GoalStatus.values:
        raise ValidationError({"status": "Choose met, missed or open."})
    if goal.week_start > today:
        raise ValidationError({"status": "This week has not started yet."})
    _check_window(goal.week_start, by, today)
    goal.status = status
    goal.note = (note or "").strip()
    return _save(goal, by, ["status", "note"])


@transaction.atomic
def delete_weekly_goal(*, goal: WeeklyGoal, version: int, by: Staff, today: datetime.date) -> None:
    """Remove a goal set by mistake (within the edit window, from the version seen)."""
    goal = _locked(goal, version)
    _check_window(goal.week_start, by, today)
    goal.delete()
    schedule_metrics_refresh()
