"""Each client's tasks with fixed deadlines: approved postponements, unapproved date edits in
the source, misses, open overdue work and a few tasks recreated to escape a missed one."""

import dataclasses
import datetime

from workflows.models import (
    DeadlineChange,
    Postponement,
    PostponementStatus,
    Task,
    TaskSource,
)
from workflows.services import committed_due_date

from . import vocabulary
from .base import DAY, office_hours, random_day, rng_for, workday_before
from .clients import ClientPlan
from .goals import fill
from .people import Agency

TASKS_PER_CLIENT = 500  # over the two years, at full scale
UNDATED_SHARE = 0.03
LEAD_DAYS = (1, 2, 3, 4, 5, 7, 7, 10, 14, 21)
POSTPONED_SHARE = 0.04
SECOND_POSTPONEMENT_SHARE = 0.2
POSTPONED_DAYS = (2, 3, 5, 7, 7, 10, 14)
DECLINED_SHARE = 0.005
REQUESTED_SHARE = 0.03  # of open tasks due soon: a request waiting for a decision
UNAPPROVED_EDIT_SHARE = 0.012
EDIT_DAYS = (-3, -2, -1, 1, 2, 3, 5, 7, 10)
LATE_SHARE = 0.055  # times the assignee's lateness (0.5-2.2)
OVERDUE_SHARE = 0.02  # likewise: still open after the due date
RECREATION_SHARE = 0.015  # of missed tasks
POSTPONEMENT_REASONS = (
    "Client moved the launch date.",
    "Waiting on assets from the client.",
    "Priority change: urgent request from the client.",
    "Tracking fix depends on the client's developer.",
    "Budget approval delayed on the client's side.",
)


@dataclasses.dataclass
class ClientTasks:
    tasks: list[Task]
    postponements: list[Postponement]
    deadline_changes: list[DeadlineChange]


class _TaskMaker:
    """Builds one client's tasks; a name is used once per client unless a task is recreated."""

    def __init__(self, plan: ClientPlan, agency: Agency):
        self.plan = plan
        self.agency = agency
        self.today = agency.today
        self.rng = rng_for(agency.seed, "tasks", plan.key)
        self.used_names: set[str] = set()
        self.result = ClientTasks([], [], [])

    def name(self, role: str, created_on: datetime.date) -> str:
        rng = self.rng
        for _ in range(6):
            cadence = rng.random()
            if cadence < 0.45:
                week = created_on.isocalendar()
                base = rng.choice(vocabulary.WEEKLY_TASKS[role])
                name = f"{base} - week {week.week}, {week.year}"
            elif cadence < 0.65:
                base = rng.choice(vocabulary.MONTHLY_TASKS[role])
                month = vocabulary.MONTH_NAMES[created_on.month - 1]
                name = f"{base} - {month} {created_on.year}"
            else:
                name = fill(rng.choice(vocabulary.ONE_OFF_TASKS[role]), rng)
            if name not in self.used_names:
                break
        else:
            name = f"{name} ({created_on.isoformat()})"
            suffix = 2
            while name in self.used_names:
                name, suffix = f"{name.rsplit(' #', 1)[0]} #{suffix}", suffix + 1
        self.used_names.add(name)
        return name

    def assignee(self, role: str, created_on: datetime.date):
        team, rng = self.plan.team, self.rng
        formers = [
            member
            for member in team.former_members
            if member.role == role and self.agency.works_on(member, created_on)
        ]
        if formers and rng.random() < 0.35:
            return rng.choice(formers)
        if role == "designer":
            return team.designer
        if rng.random() < 0.85:
            return self.plan.account_manager
        return rng.choice(team.account_managers)

    def add(self, created_on, service_end, name=None, role=None):
        """Add a task created on that day; returns it."""
        rng = self.rng
        role = role or ("designer" if rng.random() < 0.25 else "account_manager")
        assignee = self.assignee(role, created_on)
        task = Task(
            key=f"demo-task-{self.plan.number:04d}-{len(self.result.tasks) + 1:05d}",
            source=TaskSource.MANUAL,
            client=self.plan.client,
            assignee=assignee,
            name=name or self.name(role, created_on),
            created_on=created_on,
        )
        self.result.tasks.append(task)
        if rng.random() < UNDATED_SHARE:
            if created_on <= self.today - 3 * DAY and rng.random() < 0.8:
                task.completed_on = random_day(
                    rng, created_on, min(created_on + 20 * DAY, self.today)
                )
        else:
            first_due = created_on + rng.choice(LEAD_DAYS) * DAY
            task.first_due_on = max(created_on, workday_before(first_due))
            approved = self.postpone(task, assignee, role)
            task.committed_due_on = committed_due_date(
                first_due_on=task.first_due_on, approved=approved
            )
            task.completed_on = self.completion(task, self.agency.lateness[assignee.key])
            task.due_on = self.source_edits(task, approved)
            if task.completed_on is None:
                self.maybe_request(task, assignee)
        if service_end < self.today and (
            task.completed_on is None or task.completed_on > service_end
        ):
            task.completed_on = service_end  # closed out when the client left
        return task

    def approver(self, role: str):
        team = self.plan.team
        return self.agency.design_director if role == "designer" else team.director

    def postpone(self, task: Task, assignee, role: str) -> list[Postponement]:
        rng, today = self.rng, self.today
        if rng.random() < DECLINED_SHARE:
            self.result.postponements.append(
                Postponement(
                    task=task,
                    from_due_on=task.first_due_on,
                    to_due_on=task.first_due_on + 7 * DAY,
                    reason=rng.choice(POSTPONEMENT_REASONS),
                    status=PostponementStatus.DECLINED,
                    requested_by=assignee,
                    requested_at=office_hours(task.created_on),
                    approved_by=self.approver(role),
                    approved_on=random_day(rng, task.created_on, min(task.first_due_on, today)),
                )
            )
        if rng.random() >= POSTPONED_SHARE:
            return []
        approved = []
        due, approved_on = task.first_due_on, task.created_on
        for number in range(2):
            if number == 1 and rng.random() >= SECOND_POSTPONEMENT_SHARE:
                break
            approved_on = random_day(rng, approved_on, min(due + 2 * DAY, today))
            if approved_on is None:
                break
            to_due_on = due + rng.choice(POSTPONED_DAYS) * DAY
            approved.append(
                Postponement(
                    task=task,
                    from_due_on=due,
                    to_due_on=to_due_on,
                    reason=rng.choice(POSTPONEMENT_REASONS),
                    status=PostponementStatus.APPROVED,
                    requested_by=assignee,
                    requested_at=office_hours(max(task.created_on, approved_on - DAY)),
                    approved_by=self.approver(role),
                    approved_on=approved_on,
                )
            )
            due = to_due_on
        self.result.postponements.extend(approved)
        return approved

    def completion(self, task: Task, lateness: float):
        """Mostly on time; late or still open more often for people with a high lateness."""
        rng, today, due = self.rng, self.today, task.committed_due_on
        if due >= today:
            if rng.random() < 0.3:
                return random_day(rng, task.created_on, today)
            return None
        draw = rng.random()
        if draw < OVERDUE_SHARE * lateness and ((today - due).days <= 60 or rng.random() < 0.1):
            return None
        if draw < (OVERDUE_SHARE + LATE_SHARE) * lateness:
            completed_on = due + rng.randint(1, 14) * DAY
            return completed_on if completed_on <= today else None
        return random_day(rng, max(task.created_on, due - 4 * DAY), due)

    def source_edits(self, task: Task, approved: list[Postponement]):
        """The due date in the source today: moved along with every approved postponement,
        and now and then edited without approval. Each edit is a DeadlineChange."""
        rng = self.rng
        source_due = task.first_due_on
        edits = [(p.approved_on, p.to_due_on) for p in approved]
        if rng.random() < UNAPPROVED_EDIT_SHARE:
            last_approval = approved[-1].approved_on if approved else task.created_on
            edited_on = random_day(rng, last_approval, min(task.committed_due_on, self.today))
            moved_to = task.committed_due_on + rng.choice(EDIT_DAYS) * DAY
            if edited_on is not None and moved_to not in [p.to_due_on for p in approved]:
                edits.append((edited_on, moved_to))
        for edited_on, moved_to in edits:
            changed_at = datetime.datetime.combine(
                edited_on,
                datetime.time(rng.randint(8, 18), rng.randint(0, 59)),
                tzinfo=self.agency.zone,
            )
            self.result.deadline_changes.append(
                DeadlineChange(
                    task=task,
                    changed_at=changed_at,
                    from_due_on=source_due,
                    to_due_on=moved_to,
                    changed_by_name=task.assignee.name,
                    external_id=f"{task.key}-{len(self.result.deadline_changes) + 1}",
                )
            )
            source_due = moved_to
        return source_due

    def maybe_request(self, task: Task, assignee) -> None:
        if task.committed_due_on >= self.today - 3 * DAY and self.rng.random() < REQUESTED_SHARE:
            self.result.postponements.append(
                Postponement(
                    task=task,
                    from_due_on=task.committed_due_on,
                    to_due_on=task.committed_due_on + 7 * DAY,
                    reason=self.rng.choice(POSTPONEMENT_REASONS),
                    requested_by=assignee,
                    requested_at=office_hours(self.today - DAY),
                )
            )

    def recreate_some_missed(self) -> None:
        """Now and then a missed task is recreated under the same name (give or take case and
        spacing) after its committed due date: a possible recreation."""
        rng, today = self.rng, self.today
        for task in list(self.result.tasks):
            due = task.committed_due_on
            missed = (
                due is not None
                and due < today
                and (task.completed_on is None or task.completed_on > due)
            )
            if not missed or rng.random() >= RECREATION_SHARE:
                continue
            created_on = due + rng.randint(1, 10) * DAY
            if created_on > today or not self.plan.active_on(created_on):
                continue
            name = rng.choice(
                (task.name, task.name.lower(), task.name.replace(" ", "  ", 1), task.name.upper())
            )
            role = "designer" if task.assignee.role == "designer" else "account_manager"
            self.add(created_on, self.service_end_on(created_on), name=name, role=role)

    def service_end_on(self, day: datetime.date) -> datetime.date:
        for start, end, _ in self.plan.spans_within(self.agency.history_start, self.today):
            if start <= day <= end:
                return end
        raise ValueError(f"{self.plan.key} is not served on {day}")


def tasks_for(plan: ClientPlan, agency: Agency, tasks_per_active_day: float) -> ClientTasks:
    """About `tasks_per_active_day` tasks for each day the client is served in the two years,
    created on workdays, due one day to three weeks later, plus a few recreations."""
    maker = _TaskMaker(plan, agency)
    rng = maker.rng
    spans = plan.spans_within(agency.history_start, agency.today)
    days_served = sum((end - start).days + 1 for start, end, _ in spans)
    count = round(days_served * tasks_per_active_day * rng.uniform(0.8, 1.2))
    offsets = sorted(rng.randrange(days_served) for _ in range(count)) if days_served else []
    span_index, span_offset = 0, 0
    for offset in offsets:
        while offset >= span_offset + (spans[span_index][1] - spans[span_index][0]).days + 1:
            span_offset += (spans[span_index][1] - spans[span_index][0]).days + 1
            span_index += 1
        start, end, _ = spans[span_index]
        created_on = start + (offset - span_offset) * DAY
        weekday_shift = {5: -1, 6: 1}.get(created_on.weekday(), 0)  # weekend to Fri or Mon
        if start <= created_on + weekday_shift * DAY <= end:
            created_on += weekday_shift * DAY
        maker.add(created_on, end)
    maker.recreate_some_missed()
    return maker.result
