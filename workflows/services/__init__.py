"""Writes about the work, each the one way to do that thing: deadlines and postponements,
weekly goals, tactics and tests, growth reviews, reminders."""

from .deadlines import (
    PostponementError,
    approve_postponement,
    committed_due_date,
    decline_postponement,
    may_decide_postponements,
    recompute_committed_due_dates,
    request_postponement,
    set_committed_due_dates,
)
from .goals import (
    GoalConflict,
    close_weekly_goal,
    delete_weekly_goal,
    may_edit_week,
    set_weekly_goal,
    update_weekly_goal,
    week_start_of,
)
from .reminders import send_due_reminders
from .reviews import record_growth_review
from .tactics import close_tactic, start_tactic

__all__ = [
    "GoalConflict",
    "PostponementError",
    "approve_postponement",
    "close_tactic",
    "close_weekly_goal",
    "committed_due_date",
    "decline_postponement",
    "delete_weekly_goal",
    "may_decide_postponements",
    "may_edit_week",
    "recompute_committed_due_dates",
    "record_growth_review",
    "request_postponement",
    "send_due_reminders",
    "set_committed_due_dates",
    "set_weekly_goal",
    "start_tactic",
    "update_weekly_goal",
    "week_start_of",
]
