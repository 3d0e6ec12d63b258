"""Reads of the work: tasks and their deadlines, weekly goals, postponements, tactics and
training. Callers pass a client or person already fetched through the user's scope
(`clients.selectors.clients_visible_to`, `godview.access.staff_visible_to`).

The deadline rules are DOMAIN.md's, written once here in SQL for lists as of a date D (the
metrics compute them over frames in `metrics.compute.work`; tests check that both agree).
"""

import datetime

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from clients.models import Client
from godview.models import Staff

from .models import (
    DeadlineChange,
    Postponement,
    PostponementStatus,
    Tactic,
    Task,
    TrainingModule,
    TrainingResult,
    WeeklyGoal,
)

DAY = datetime.timedelta(days=1)
WEEK_LAST_DAY = datetime.timedelta(days=6)


class NormalizedName(Func):
    """A task name case-folded, trimmed, with runs of white space collapsed (DOMAIN.md)."""

    template = "lower(regexp_replace(trim(%(expressions)s), '\\s+', ' ', 'g'))"


# --- Deadlines (DOMAIN.md, Work and Deadlines) ---------------------------------------------


def live_tasks(day: datetime.date) -> QuerySet[Task]:
    """Tasks that existed on `day` and are not deleted."""
    return Task.objects.filter(deleted_at__isnull=True, created_on__lte=day)


def committed_as_of(day: datetime.date) -> Coalesce:
    """A task's committed due date on `day`: the to-date of the last postponement approved by
    then (by approval date, then to-date), else its first due date."""
    last_approved = (
        Postponement.objects.filter(
            task=OuterRef("pk"), status=PostponementStatus.APPROVED, approved_on__lte=day
        )
        .order_by("-approved_on", "-to_due_on")
        .values("to_due_on")[:1]
    )
    return Coalesce(Subquery(last_approved), F("first_due_on"), output_field=DateField())


def missed_on(day: datetime.date) -> Q:
    """Missed on `day`, for tasks annotated with `committed`: completed after the committed
    date, or still open (a completion after `day` is still open on it) with `day` after it.
    A task due on `day` and open is not missed yet."""
    return Q(committed__lt=day) & (
        Q(completed_on__isnull=True) | Q(completed_on__gt=F("committed"))
    )


def _count(queryset) -> Coalesce:
    """The number of rows of a correlated queryset, 0 when none."""
    counted = queryset.order_by().values("task").annotate(rows=Count("pk")).values("rows")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def tasks_as_of(*, day: datetime.date, zone) -> QuerySet[Task]:
    """Live tasks as they stood on `day`, with client and assignee, each annotated with:
    `committed` (committed due date then), `completed_by` (completion date if on or before
    `day`, else None: still open then), `is_missed`, `deadline` (met, missed, open or
    undated: the status key) and `deadline_label` (its words), `postponements_approved` (by
    `day`), `unapproved_changes` (due-date edits made in the source by the end of `day`, in
    the agency's zone, that no postponement approved by then to the same date covers) and
    `possible_recreation` (same client, same normalised name as a task missed on `day`, and
    created after that task's committed due date)."""
    end_moment = datetime.datetime.combine(day + DAY, datetime.time.min, tzinfo=zone)
    approved_by_day = Postponement.objects.filter(
        status=PostponementStatus.APPROVED, approved_on__lte=day
    )
    covering = approved_by_day.filter(task=OuterRef("task"), to_due_on=OuterRef("to_due_on"))
    unapproved = DeadlineChange.objects.filter(
        task=OuterRef("pk"), changed_at__lt=end_moment
    ).exclude(Exists(covering))
    earlier_missed = (
        live_tasks(day)
        .annotate(norm=NormalizedName("name"), committed=committed_as_of(day))
        .filter(missed_on(day))
        .filter(
            client=OuterRef("client"),
            norm=OuterRef("norm"),
            committed__lt=OuterRef("created_on"),
        )
        .exclude(pk=OuterRef("pk"))
    )
    missed = When(missed_on(day), then=Value(True))
    return (
        live_tasks(day)
        .select_related("client", "assignee")
        .annotate(norm=NormalizedName("name"), committed=committed_as_of(day))
        .annotate(
            is_missed=Case(missed, default=Value(False), output_field=BooleanField()),
            completed_by=Case(
                When(completed_on__lte=day, then=F("completed_on")), output_field=DateField()
            ),
            postponements_approved=_count(approved_by_day.filter(task=OuterRef("pk"))),
            unapproved_changes=_count(unapproved),
            possible_recreation=Exists(earlier_missed),
        )
        .annotate(
            deadline=Case(
                When(committed__isnull=True, then=Value("undated")),
                When(is_missed=True, then=Value("missed")),
                When(completed_on__lte=day, then=Value("met")),
                default=Value("open"),
                output_field=CharField(),
            ),
            deadline_label=Case(
                When(committed__isnull=True, then=Value("No due date")),
                When(is_missed=True, completed_on__lte=day, then=Value("Missed · done late")),
                When(is_missed=True, then=Value("Missed · still open")),
                When(completed_on__lte=day, then=Value("Done on time")),
                When(committed=day, then=Value("Due today")),
                default=Value("Open"),
                output_field=CharField(),
            ),
        )
    )


# Which of a list's tasks to show (?show=), in the order the filter offers them.
TASK_FILTERS = {
    "all": ("All", Q()),
    "missed": ("Missed", Q(is_missed=True)),
    "changed": ("Date changed without approval", Q(unapproved_changes__gt=0)),
    "recreations": ("Possible recreations", Q(possible_recreation=True)),
}


def task_filter_counts(tasks: QuerySet[Task]) -> dict[str, int]:
    """How many of the tasks each filter of TASK_FILTERS keeps (one aggregate query)."""
    return tasks.aggregate(
        **{name: Count("pk", filter=condition) for name, (_, condition) in TASK_FILTERS.items()}
    )


def client_tasks(*, client: Client, day: datetime.date, zone, show: str = "all"):
    """The client's tasks as they stood on `day` (see tasks_as_of), latest committed due date
    first and undated last, and the count behind each filter; `show` picks a TASK_FILTERS
    entry. Returns (tasks, counts)."""
    tasks = tasks_as_of(day=day, zone=zone).filter(client=client)
    counts = task_filter_counts(tasks)
    shown = tasks.filter(TASK_FILTERS[show][1]).order_by(
        F("committed").desc(nulls_last=True), "name", "pk"
    )
    return shown, counts


def person_tasks(
    *, person: Staff, start: datetime.date, end: datetime.date, zone, show: str = "all"
):
    """The tasks assigned to person that are due in [start, end] as of end (committed due
    date in the period: the tasks `tasks_due` counts), latest first, and the count behind
    each filter (`all` is tasks_due, `missed` is tasks_missed). Returns (tasks, counts)."""
    tasks = tasks_as_of(day=end, zone=zone).filter(assignee=person, committed__range=(start, end))
    counts = task_filter_counts(tasks)
    shown = tasks.filter(TASK_FILTERS[show][1]).order_by(F("committed").desc(), "name", "pk")
    return shown, counts


# --- Weekly goals ----------------------------------------------------------------------------


def _weekly_goals(day: datetime.date) -> QuerySet[WeeklyGoal]:
    """Weekly goals with client, staff and client goal, annotated with `week_end` (its
    Sunday) and `not_closed` (still open although its week ended before `day`)."""
    return (
        WeeklyGoal.objects.select_related("client", "staff", "client_goal")
        .annotate(
            week_end=ExpressionWrapper(F("week_start") + WEEK_LAST_DAY, output_field=DateField()),
            not_closed=ExpressionWrapper(
                Q(status="open", week_start__lt=day - WEEK_LAST_DAY), output_field=BooleanField()
            ),
        )
        .order_by("-week_start", "client__name", "pk")
    )


def client_weekly_goals(*, client: Client, day: datetime.date) -> QuerySet[WeeklyGoal]:
    """The client's weekly goals, newest week first (weeks planned ahead included), as of
    `day`."""
    return _weekly_goals(day).filter(client=client)


def person_weekly_goals(
    *, person: Staff, start: datetime.date, end: datetime.date
) -> QuerySet[WeeklyGoal]:
    """The person's weekly goals of the weeks starting in [start, end], newest first, as of
    end."""
    return _weekly_goals(end).filter(staff=person, week_start__range=(start, end))


# --- Postponements, tactics, training --------------------------------------------------------


def person_postponements(
    *, person: Staff, start: datetime.date, end: datetime.date, zone
) -> QuerySet[Postponement]:
    """Postponements of the person's tasks, or requested or decided by them, that were
    requested or decided in [start, end] (requested at a moment of those days in the
    agency's zone), newest request first, with the task, its client and both people."""
    start_moment = datetime.datetime.combine(start, datetime.time.min, tzinfo=zone)
    end_moment = datetime.datetime.combine(end + DAY, datetime.time.min, tzinfo=zone)
    return (
        Postponement.objects.filter(
            Q(task__assignee=person) | Q(requested_by=person) | Q(approved_by=person)
        )
        .filter(
            Q(requested_at__gte=start_moment, requested_at__lt=end_moment)
            | Q(approved_on__range=(start, end))
        )
        .select_related("task", "task__client", "requested_by", "approved_by")
        .order_by("-requested_at", "-pk")
    )


def postponement_counts(postponements: QuerySet[Postponement]) -> dict[str, int]:
    """How many of the postponements there are (`all`) and in each status (one query)."""
    return postponements.aggregate(
        all=Count("pk"),
        **{status: Count("pk", filter=Q(status=status)) for status in PostponementStatus.values},
    )


def client_tactics(*, client: Client) -> QuerySet[Tactic]:
    """The client's tactics and CRO tests with their owner, latest started first."""
    return client.tactics.select_related("owner").order_by("-started_on", "name", "pk")


def person_tactics(*, person: Staff, start: datetime.date, end: datetime.date):
    """The tactics the person owns that were running at some time in [start, end], with
    their client, latest started first."""
    return (
        Tactic.objects.filter(owner=person, started_on__lte=end)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=start))
        .select_related("client")
        .order_by("-started_on", "name", "pk")
    )


def training_of(*, person: Staff, as_of: datetime.date) -> QuerySet[TrainingModule]:
    """The modules required of the person (required, and of their department or of none)
    and any other they took, each annotated with their latest result on or before as_of
    (`score`, `completed_on`), `attempts`, `is_required` and `passed` (score >= pass score;
    None when not taken). Required modules first, then by name."""
    results = TrainingResult.objects.filter(
        staff=person, module=OuterRef("pk"), completed_on__lte=as_of
    )
    latest = results.order_by("-completed_on")
    required = Q(required=True) & (Q(department__isnull=True) | Q(department=person.department_id))
    attempts = results.order_by().values("module").annotate(rows=Count("pk")).values("rows")
    return (
        TrainingModule.objects.select_related("department")
        .annotate(
            is_required=ExpressionWrapper(required, output_field=BooleanField()),
            score=Subquery(latest.values("score")[:1]),
            completed_on=Subquery(latest.values("completed_on")[:1]),
            attempts=Coalesce(Subquery(attempts, output_field=IntegerField()), 0),
        )
        .annotate(
            passed=Case(
                When(score__isnull=True, then=Value(None)),
                When(score__gte=F("pass_score"), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .filter(Q(is_required=True) | Q(attempts__gt=0))
        .order_by("-is_required", "name")
    )
