"""The raw material of every metric: one query per frame, for an as-of date and a period.

Each loader returns a pandas DataFrame built from one `values_list` query, so computing the
metrics runs the same small number of queries whatever the size of the agency. Dates stay
`datetime.date` objects (object columns); money is float (rounded only at the end).
"""

import datetime
from dataclasses import dataclass

import pandas as pd
from django.db.models import Exists, Max, OuterRef, Q

from clients.models import COUNTS_FOR_CONTACT, Client, ClientGoal, Engagement, Touchpoint
from godview.models import Department, Pod, Staff
from workflows.models import (
    DeadlineChange,
    Deal,
    DealStatus,
    Postponement,
    PostponementStatus,
    Tactic,
    Task,
    TrainingModule,
    TrainingResult,
    WeeklyGoal,
)
from workflows.selectors import NormalizedName

DAY = datetime.timedelta(days=1)


DATE_COLUMNS = ("week_start",)  # besides every column named *_on
NUMBER_COLUMNS = ("monthly_fee", "amount", "baseline", "target", "current", "confidence")
BOOLEAN_COLUMNS = ("active", "required")


def frame(queryset, columns: list[str], names: list[str] | None = None) -> pd.DataFrame:
    """One query -> a DataFrame with the given columns (renamed to names). Date columns
    become datetime64 (NaT for none) and decimals floats (NaN for none), so pandas can
    compute on them whatever the rows hold."""
    return typed_frame(list(queryset.values_list(*columns)), names or columns)


def typed_frame(records: list[tuple], columns: list[str]) -> pd.DataFrame:
    """Rows -> a DataFrame, dates as datetime64 and decimals as floats (see frame)."""
    data = pd.DataFrame.from_records(records, columns=columns)
    for column in data.columns:
        if column.endswith("_on") or column in DATE_COLUMNS:
            data[column] = pd.to_datetime(data[column])
        elif column in BOOLEAN_COLUMNS:
            data[column] = data[column].astype(bool)
        elif column in NUMBER_COLUMNS:
            data[column] = pd.to_numeric(data[column].astype(object), errors="raise").astype(float)
    return data


@dataclass
class Frames:
    departments: pd.DataFrame
    pods: pd.DataFrame
    staff: pd.DataFrame
    clients: pd.DataFrame
    engagements: pd.DataFrame
    last_contact: pd.DataFrame
    tasks: pd.DataFrame
    task_postponements: pd.DataFrame
    postponements: pd.DataFrame
    undated_tasks: pd.DataFrame
    deadline_changes: pd.DataFrame
    recreation_tasks: pd.DataFrame
    recreation_postponements: pd.DataFrame
    weekly_goals: pd.DataFrame
    client_goals: pd.DataFrame
    tactics: pd.DataFrame
    modules: pd.DataFrame
    training_results: pd.DataFrame
    deals: pd.DataFrame


def load_frames(*, as_of: datetime.date, start: datetime.date, zone) -> Frames:
    """Everything the metrics for [start, as_of] need, as of as_of (nothing after it)."""
    d = as_of
    # Tasks are needed for the period and for the 14 days before D (missed_deadlines risk).
    window_start = min(start, d - 13 * DAY)
    # Weekly goals: the period's weeks and the last two ended weeks (weekly_goals_slipping).
    weeks_start = min(start, d - datetime.timedelta(days=d.weekday() + 14))

    live_tasks = Task.objects.filter(deleted_at__isnull=True, created_on__lte=d)
    approved_by_d = Postponement.objects.filter(
        status=PostponementStatus.APPROVED, approved_on__lte=d
    )
    # A task's committed date as of D is its first due date or the to-date of a postponement
    # approved by D; select tasks whose committed date as of D can fall in the window.
    window_tasks = live_tasks.filter(
        Q(first_due_on__range=(window_start, d))
        | Exists(approved_by_d.filter(task=OuterRef("pk"), to_due_on__range=(window_start, d)))
    )
    # Possible recreations: tasks created in the period, and every earlier task of the same
    # client with the same normalised name.
    named = live_tasks.annotate(norm=NormalizedName("name"))
    same_name = named.filter(client=OuterRef("client"), norm=OuterRef("norm")).exclude(
        pk=OuterRef("pk")
    )
    # Two simple semi-joins in a UNION (an OR of the two EXISTS would run a subquery per task).
    recreation_columns = [
        "id",
        "client_id",
        "assignee_id",
        "norm",
        "created_on",
        "first_due_on",
        "completed_on",
    ]
    recreation_tasks = (
        named.filter(created_on__range=(start, d))
        .filter(Exists(same_name))
        .values_list(*recreation_columns)
        .union(
            named.filter(Exists(same_name.filter(created_on__range=(start, d)))).values_list(
                *recreation_columns
            )
        )
    )
    recreation_frame = typed_frame(list(recreation_tasks), recreation_columns)
    start_moment = datetime.datetime.combine(start, datetime.time.min, tzinfo=zone)
    end_moment = datetime.datetime.combine(d + DAY, datetime.time.min, tzinfo=zone)
    covering_postponement = approved_by_d.filter(
        task=OuterRef("task"), to_due_on=OuterRef("to_due_on")
    )

    return Frames(
        departments=frame(Department.objects.all(), ["id", "key"]),
        pods=frame(Pod.objects.all(), ["id", "key", "department_id"]),
        staff=frame(
            Staff.objects.all(), ["id", "key", "role", "pod_id", "department_id", "active"]
        ),
        clients=frame(
            Client.objects.all(),
            ["id", "key", "pod_id", "pod__department_id", "account_manager_id"],
            ["id", "key", "pod_id", "department_id", "am_id"],
        ),
        engagements=frame(
            Engagement.objects.filter(started_on__lte=d),
            ["client_id", "started_on", "ended_on", "monthly_fee"],
        ),
        last_contact=frame(
            Touchpoint.objects.filter(COUNTS_FOR_CONTACT, occurred_on__lte=d)
            .order_by()
            .values("client_id")
            .annotate(last_on=Max("occurred_on")),
            ["client_id", "last_on"],
        ),
        tasks=frame(
            window_tasks,
            ["id", "client_id", "assignee_id", "first_due_on", "completed_on"],
        ),
        task_postponements=frame(
            approved_by_d.filter(task__in=window_tasks), ["task_id", "approved_on", "to_due_on"]
        ),
        postponements=frame(
            Postponement.objects.filter(
                status=PostponementStatus.APPROVED, approved_on__range=(start, d)
            ),
            ["task__client_id", "task__assignee_id", "from_due_on", "to_due_on"],
            ["client_id", "assignee_id", "from_due_on", "to_due_on"],
        ),
        undated_tasks=frame(
            live_tasks.filter(first_due_on__isnull=True, created_on__range=(start, d)),
            ["client_id", "assignee_id"],
        ),
        deadline_changes=frame(
            DeadlineChange.objects.filter(
                changed_at__gte=start_moment, changed_at__lt=end_moment
            ).exclude(Exists(covering_postponement)),
            ["task__client_id", "task__assignee_id"],
            ["client_id", "assignee_id"],
        ),
        recreation_tasks=recreation_frame,
        recreation_postponements=frame(
            approved_by_d.filter(task_id__in=list(recreation_frame.id)),
            ["task_id", "approved_on", "to_due_on"],
        ),
        weekly_goals=frame(
            WeeklyGoal.objects.filter(week_start__range=(weeks_start, d)),
            ["client_id", "staff_id", "week_start", "status"],
        ),
        client_goals=frame(
            ClientGoal.objects.filter(status="open", starts_on__lte=d),
            ["id", "client_id", "title", "baseline", "target", "current", "starts_on", "due_on"],
        ),
        tactics=frame(
            Tactic.objects.filter(ended_on__lte=d).exclude(outcome="running"),
            ["client_id", "owner_id", "kind", "started_on", "ended_on", "outcome", "confidence"],
        ),
        modules=frame(
            TrainingModule.objects.all(), ["id", "department_id", "required", "pass_score"]
        ),
        training_results=frame(
            TrainingResult.objects.filter(completed_on__lte=d),
            ["staff_id", "module_id", "completed_on", "score"],
        ),
        deals=frame(
            Deal.objects.filter(
                closed_on__range=(start, d),
                status__in=[DealStatus.WON, DealStatus.LOST],
                deleted_at__isnull=True,
            ),
            ["owner_id", "status", "amount"],
        ),
    )
