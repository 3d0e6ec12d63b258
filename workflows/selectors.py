"""Reads of the work: tasks and their deadlines, weekly goals, postponements, tactics and
training. Callers pass a client or person already fetched through the user's scope
(`clients.selectors.clients_visible_to`, `godview.access.staff_visible_to`).

The deadline rules are DOMAIN.md's, written once here in SQL for lists as of a date D (the
metrics compute them over frames in `metrics.compute.work`; tests check that both agree).
"""

import datetime
from collections import defaultdict

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
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber

from clients.models import Client, ClientGoal, Engagement, GoalStatus
from clients.selectors import active_clients_on, clients_visible_to, days_inactive
from godview.models import Pod, Staff

from .models import (
    DeadlineChange,
    GrowthReview,
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


# --- Pod meeting -----------------------------------------------------------------------------

WEEK = datetime.timedelta(weeks=1)


def pod_meeting(
    *, pod: Pod, week_start: datetime.date, day: datetime.date, zone, sla_days: int
) -> dict:
    """The weekly meeting of a pod (fetched through the user's scope) for the week starting
    `week_start` (a Monday), as it stands on `day`. `clients`: each client of the pod active
    on `day`, by name, with `days_inactive`, `past_sla` (more days than `sla_days`) and
    `days_over_sla`, `last_week` and `this_week` (its weekly goals, see _weekly_goals),
    `overdue` (its tasks missed on `day` and still open then, see tasks_as_of, oldest
    commitment first, each with `days_overdue`) and `all_clear`; `past_sla`: those past the
    SLA, most days first; `summary`: the counts the meeting opens with. Five queries
    whatever the size."""
    clients = list(
        active_clients_on(day).filter(pod=pod).select_related("account_manager").order_by("name")
    )
    ids = [client.id for client in clients]
    inactive = days_inactive(clients, on=day)
    last_week_start = week_start - WEEK
    goals = defaultdict(list)
    for goal in (
        _weekly_goals(day)
        .filter(client_id__in=ids, week_start__in=(last_week_start, week_start))
        .order_by("client_id", "week_start", "staff__name", "pk")
    ):
        goals[goal.client_id, goal.week_start].append(goal)
    overdue = defaultdict(list)
    for task in (
        tasks_as_of(day=day, zone=zone)
        .filter(client_id__in=ids, is_missed=True, completed_by__isnull=True)
        .order_by("committed", "name", "pk")
    ):
        task.days_overdue = (day - task.committed).days
        overdue[task.client_id].append(task)

    rows = []
    for client in clients:
        days = inactive[client.id]
        past_sla = days is not None and days > sla_days
        results, planned = goals[client.id, last_week_start], goals[client.id, week_start]
        rows.append(
            {
                "client": client,
                "days_inactive": days,
                "past_sla": past_sla,
                "days_over_sla": days - sla_days if past_sla else 0,
                "last_week": results,
                "this_week": planned,
                "overdue": overdue[client.id],
                # Nothing for the meeting to raise: every goal of last week met, goals set
                # for this week, nothing overdue, within the SLA.
                "all_clear": bool(results and planned)
                and all(goal.status == GoalStatus.MET for goal in results)
                and not overdue[client.id]
                and not past_sla,
            }
        )
    last_week = [goal for row in rows for goal in row["last_week"]]
    breaches = sorted(
        (row for row in rows if row["past_sla"]),
        key=lambda row: (-row["days_inactive"], row["client"].name),
    )
    return {
        "clients": rows,
        "past_sla": breaches,
        "summary": {
            "clients": len(rows),
            "past_sla": len(breaches),
            "goals_last_week": len(last_week),
            "goals_met": sum(goal.status == GoalStatus.MET for goal in last_week),
            "goals_missed": sum(goal.status == GoalStatus.MISSED for goal in last_week),
            "goals_not_closed": sum(goal.not_closed for goal in last_week),
            "overdue_tasks": sum(len(row["overdue"]) for row in rows),
            "without_goals": sum(not row["this_week"] for row in rows),
        },
    }


# --- Growth reviews --------------------------------------------------------------------------

REVIEWS_NEWEST_FIRST = ("-reviewed_on", "-created_at", "-pk")


def client_growth_reviews(*, client: Client) -> QuerySet[GrowthReview]:
    """The client's growth review decisions, newest first, with who recorded each."""
    return client.growth_reviews.select_related("reviewed_by").order_by(*REVIEWS_NEWEST_FIRST)


def latest_growth_reviews(*, client_ids, last: int) -> dict[int, list[GrowthReview]]:
    """client id -> the client's `last` latest growth review decisions, newest first, with who
    recorded each and `reviews`, how many the client has in all (one query)."""
    newest_first = [F(name.lstrip("-")).desc() for name in REVIEWS_NEWEST_FIRST]
    reviews = (
        GrowthReview.objects.filter(client_id__in=list(client_ids))
        .select_related("reviewed_by")
        .annotate(
            position=Window(RowNumber(), partition_by=[F("client_id")], order_by=newest_first),
            reviews=Window(Count("pk"), partition_by=[F("client_id")]),
        )
        .filter(position__lte=last)
        .order_by("client_id", "position")
    )
    latest = defaultdict(list)
    for review in reviews:
        latest[review.client_id].append(review)
    return dict(latest)


# --- My week ---------------------------------------------------------------------------------


def _with_week_goals(clients: QuerySet[Client], week_start: datetime.date) -> QuerySet[Client]:
    """Clients with `week_goals` (their weekly goals of the week starting week_start and of
    the week before, with who last changed them and their quarterly goal) and
    `quarterly_goals` (all their client goals, latest due first) prefetched."""
    weeks = (week_start - datetime.timedelta(weeks=1), week_start)
    goals = WeeklyGoal.objects.filter(week_start__in=weeks).select_related(
        "client_goal", "updated_by"
    )
    return clients.prefetch_related(
        Prefetch("weekly_goals", queryset=goals.order_by("pk"), to_attr="week_goals"),
        Prefetch(
            "goals",
            queryset=ClientGoal.objects.order_by("-due_on", "title", "pk"),
            to_attr="quarterly_goals",
        ),
    )


def week_clients(*, user, pod: Pod, week_start: datetime.date) -> QuerySet[Client]:
    """The clients of `pod` the user may see that were served at some time in the week
    starting week_start or the week before (whose goals are closed out on the same screen),
    or have a goal in either, by name, with their goals of both weeks and their quarterly
    goals prefetched (see _with_week_goals): three queries for any number of clients."""
    first_day = week_start - datetime.timedelta(weeks=1)
    last_day = week_start + WEEK_LAST_DAY
    served = Engagement.objects.filter(client=OuterRef("pk"), started_on__lte=last_day).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=first_day)
    )
    with_goals = WeeklyGoal.objects.filter(
        client=OuterRef("pk"), week_start__in=(first_day, week_start)
    )
    clients = (
        clients_visible_to(user)
        .filter(pod=pod)
        .filter(Exists(served) | Exists(with_goals))
        .order_by("name", "pk")
    )
    return _with_week_goals(clients, week_start)


def week_client(*, user, key: str, week_start: datetime.date) -> Client:
    """One client the user may see, as week_clients gives them; raises Client.DoesNotExist
    for a client the user may not see."""
    return _with_week_goals(clients_visible_to(user).filter(key=key), week_start).get()


def week_tasks(
    *, clients, week_start: datetime.date, day: datetime.date, zone
) -> dict[int, list[Task]]:
    """client id -> its tasks as they stand on `day` (see tasks_as_of) that are due in the
    week starting week_start or overdue on `day` (still open after their committed due
    date: missed and not completed by then), each annotated with `overdue`; overdue first,
    then by committed due date. One query whatever the number of clients."""
    overdue = Q(is_missed=True, completed_by__isnull=True)
    tasks = (
        tasks_as_of(day=day, zone=zone)
        .filter(client__in=[client.id for client in clients])
        .filter(Q(committed__range=(week_start, week_start + WEEK_LAST_DAY)) | overdue)
        .annotate(overdue=ExpressionWrapper(overdue, output_field=BooleanField()))
        .order_by("-overdue", "committed", "name", "pk")
    )
    by_client = {client.id: [] for client in clients}
    for task in tasks:
        by_client[task.client_id].append(task)
    return by_client
