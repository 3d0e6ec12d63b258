"""An Asana sandbox workspace generated from the agency in the database, so anyone can watch
a sync work without an Asana account (``manage.py asana_sandbox``).

The sandbox gets a project per client (named like the client), a user per staff member (same
email, so the sync maps them), a task per open or recently completed task (same name, due
date, assignee, completion, subtasks under their parent) and a goal per open client goal,
supported by the client's project. The database is then mapped to it, in one transaction:
``Client.asana_project_gid``, ``Task.asana_gid`` (and ``source = "asana"``) and
``ClientGoal.asana_gid``.

Gids already in the database are reused (``gid=``), so running the command again recreates
the same workspace and the mapping, the sync's rows and the ``ASANA_WORKSPACE_GID`` in your
environment stay valid. Tasks mapped by an earlier run stay in the sandbox even when no longer
recent: otherwise the nightly reconciliation would find them gone and soft-delete them.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from clients.models import Client, ClientGoal, GoalStatus
from godview.models import AgencySettings, Staff
from integrations.asana.sandbox import AsanaSandbox
from integrations.models import AsanaProject, AsanaUser
from workflows.models import Task, TaskSource

# How an Asana goal's status reads for each of our goal statuses.
GOAL_STATUS = {GoalStatus.OPEN: "green", GoalStatus.MET: "achieved", GoalStatus.MISSED: "missed"}
COMMENTS = (
    "Sent the draft to the client for review.",
    "Client asked for one more round of changes.",
    "Waiting on assets from the client.",
    "Done on our side; checking the numbers tomorrow.",
)


@dataclass
class DemoWorkspace:
    """What was generated: sandbox gids by database pk, and how many rows were remapped."""

    workspace_gid: str
    projects: dict[int, str] = field(default_factory=dict)  # Client pk -> project gid
    users: dict[int, str] = field(default_factory=dict)  # Staff pk -> user gid
    tasks: dict[int, str] = field(default_factory=dict)  # Task pk -> task gid
    goals: dict[int, str] = field(default_factory=dict)  # ClientGoal pk -> goal gid
    subtasks: int = 0
    remapped: dict[str, int] = field(default_factory=dict)  # model -> rows whose gid changed


def _reusing(add: Callable[..., str], gid: str | None, **fields) -> str:
    """Create with the database's gid when it is still free, else with a new one."""
    if gid:
        try:
            return add(gid=gid, **fields)
        except ValueError:
            pass  # not numeric, or taken by another object: the row gets a new gid
    return add(**fields)


def _moment(day: datetime.date | None, zone, now: datetime.datetime) -> datetime.datetime | None:
    # Noon in the agency's zone reads back as the same date anywhere near it; never later
    # than the sandbox's clock, or modified_at would lie in the future of the next edit.
    if day is None:
        return None
    return min(datetime.datetime.combine(day, datetime.time(12), tzinfo=zone), now)


def selected_tasks(*, today: datetime.date, recent_days: int) -> list[Task]:
    """The tasks the sandbox holds: open ones, ones completed in the last ``recent_days``,
    ones an earlier run mapped, and the parents of all of these; parents first."""
    cutoff = today - datetime.timedelta(days=recent_days)
    live = Task.objects.filter(deleted_at__isnull=True, client__isnull=False)
    chosen = {
        t.pk: t
        for t in live.filter(
            Q(completed_on__isnull=True) | Q(completed_on__gte=cutoff) | Q(asana_gid__isnull=False)
        )
    }
    missing = {t.parent_id for t in chosen.values() if t.parent_id} - set(chosen)
    while missing:
        parents = list(live.filter(pk__in=missing))
        chosen.update((t.pk, t) for t in parents)
        missing = {t.parent_id for t in parents if t.parent_id} - set(chosen)
    ordered, placed = [], set()

    def place(task: Task) -> None:
        if task.pk in placed:
            return
        if task.parent_id in chosen:
            place(chosen[task.parent_id])
        placed.add(task.pk)
        ordered.append(task)

    for task in sorted(chosen.values(), key=lambda t: t.pk):
        place(task)
    return ordered


def _workspace_gid(preferred: str | None) -> str | None:
    if preferred and preferred.isdigit():
        return preferred
    return (
        AsanaProject.objects.exclude(workspace_gid="")
        .values_list("workspace_gid", flat=True)
        .first()
    )


def _numeric(values: Iterable[str | None]) -> list[str]:
    return [v for v in values if v and v.isdigit()]


def build_demo_workspace(
    sandbox: AsanaSandbox,
    *,
    today: datetime.date,
    recent_days: int = 30,
    workspace_gid: str | None = None,
) -> DemoWorkspace:
    """Fill ``sandbox`` from the database and map the database to it (one transaction).

    ``workspace_gid`` (e.g. the ``ASANA_WORKSPACE_GID`` already configured) is reused when
    numeric, so the environment keeps working across runs."""
    agency = AgencySettings.load()
    zone, now = agency.zone, sandbox.now
    clients = list(Client.objects.order_by("pk"))
    staff = list(Staff.objects.order_by("pk"))
    tasks = selected_tasks(today=today, recent_days=recent_days)
    goals = list(
        ClientGoal.objects.filter(Q(status=GoalStatus.OPEN) | Q(asana_gid__isnull=False))
        .select_related("client")
        .order_by("pk")
    )
    user_gids = {
        email.lower(): gid for gid, email in AsanaUser.objects.values_list("gid", "email") if email
    }
    # First, so that without a configured gid it gets the same one on every run.
    built = DemoWorkspace(
        _reusing(sandbox.add_workspace, _workspace_gid(workspace_gid), name=agency.agency_name)
    )
    ws = built.workspace_gid
    # Every gid the database holds, so the sandbox's new gids never collide with them.
    sandbox.reserve_gids(
        _numeric(
            [
                *user_gids.values(),
                *Client.objects.values_list("asana_project_gid", flat=True),
                *Task.objects.values_list("asana_gid", flat=True),
                *ClientGoal.objects.values_list("asana_gid", flat=True),
            ]
        )
    )

    for person in staff:
        built.users[person.pk] = _reusing(
            sandbox.add_user,
            user_gids.get(person.email.lower()),
            email=person.email,
            name=person.name,
        )
    for client in clients:
        built.projects[client.pk] = _reusing(
            sandbox.add_project,
            client.asana_project_gid,
            name=client.name,
            workspace=ws,
            owner=built.users.get(client.account_manager_id),
        )
    for task in tasks:
        subtask = task.parent_id is not None and task.parent_id in built.tasks
        built.subtasks += subtask
        built.tasks[task.pk] = _reusing(
            sandbox.add_task,
            task.asana_gid,
            # Like in Asana, a subtask lives under its parent, not in the project's list.
            project=None if subtask else built.projects[task.client_id],
            parent=built.tasks[task.parent_id] if subtask else None,
            name=task.name,
            due_on=task.due_on.isoformat() if task.due_on else None,
            assignee=built.users.get(task.assignee_id),
            completed=task.completed_on is not None,
            created_at=_moment(task.created_on, zone, now),
            completed_at=_moment(task.completed_on, zone, now),
        )
    for goal in goals:
        built.goals[goal.pk] = _reusing(
            sandbox.add_goal,
            goal.asana_gid,
            name=goal.title,
            workspace=ws,
            project=built.projects[goal.client_id],
            owner=built.users.get(goal.client.account_manager_id),
            start_on=goal.starts_on.isoformat(),
            due_on=goal.due_on.isoformat(),
            status=GOAL_STATUS.get(goal.status),
            initial=float(goal.baseline),
            target=float(goal.target),
            current=float(goal.current) if goal.current is not None else None,
        )
    _map_database(built, clients, tasks, goals)
    return built


@transaction.atomic
def _map_database(
    built: DemoWorkspace, clients: list[Client], tasks: list[Task], goals: list[ClientGoal]
) -> None:
    """Point the database at the sandbox's gids. A mapped task's source becomes "asana": from
    now on Asana is where it is edited, and the sync (reconciliation included) treats it
    exactly like a task it found there first."""
    changed_clients = [c for c in clients if c.asana_project_gid != built.projects[c.pk]]
    for client in changed_clients:
        client.asana_project_gid = built.projects[client.pk]
    changed_tasks = [
        t for t in tasks if (t.asana_gid, t.source) != (built.tasks[t.pk], TaskSource.ASANA)
    ]
    for task in changed_tasks:
        task.asana_gid, task.source = built.tasks[task.pk], TaskSource.ASANA
    changed_goals = [g for g in goals if g.asana_gid != built.goals[g.pk]]
    for goal in changed_goals:
        goal.asana_gid = built.goals[goal.pk]
    # New gids are above every gid the database held (reserve_gids), so no unique
    # constraint can trip on a row that still has it.
    Client.objects.bulk_update(changed_clients, ["asana_project_gid"], batch_size=500)
    Task.objects.bulk_update(changed_tasks, ["asana_gid", "source"], batch_size=500)
    ClientGoal.objects.bulk_update(changed_goals, ["asana_gid"], batch_size=500)
    built.remapped = {
        "clients": len(changed_clients),
        "tasks": len(changed_tasks),
        "goals": len(changed_goals),
    }


class DemoActivity:
    """People at work in the sandbox: each :meth:`step` moves one open task's due date,
    completes another and comments on a third, at the sandbox clock's "now"."""

    def __init__(self, sandbox: AsanaSandbox, seed: int | None = None):
        self.sandbox = sandbox
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not security

    def _open_tasks(self) -> list[str]:
        return [g for g in self.sandbox.gids("task") if not self.sandbox.get(g)["completed"]]

    def step(self, now: datetime.datetime | None = None) -> list[str]:
        """Make the edits; returns one line per edit for the console."""
        box = self.sandbox
        if now is not None and now > box.now:
            box.now = now
        open_tasks = self._open_tasks()
        if not open_tasks:
            return []
        picked = self.rng.sample(open_tasks, min(3, len(open_tasks)))
        lines = []
        moved = box.get(picked[0])
        due = (
            datetime.date.fromisoformat(moved["due_on"])
            if moved["due_on"]
            else box.now.date() + datetime.timedelta(days=7)
        )
        new_due = due + datetime.timedelta(days=self.rng.randint(1, 7))
        box.edit_task(picked[0], due_on=new_due.isoformat())
        lines.append(f"moved the due date of {moved['name']!r} to {new_due}")
        if len(picked) > 1:
            box.edit_task(picked[1], completed=True)
            lines.append(f"completed {box.get(picked[1])['name']!r}")
        if len(picked) > 2:
            task = box.get(picked[2])
            author = task["assignee"] or self.rng.choice(box.gids("user"))
            box.add_comment(picked[2], self.rng.choice(COMMENTS), author=author)
            lines.append(f"commented on {task['name']!r}")
        return lines
