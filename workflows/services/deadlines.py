"""Writes about the work that must go through one place: deadlines and postponements."""

import datetime

from django.db import connection, transaction

from godview.models import Staff

from .models import COMMITTED_DUE_GUARD_FLAG, Postponement, PostponementStatus, Task


class PostponementError(ValueError):
    pass


def committed_due_date(*, first_due_on, approved: list[Postponement]) -> datetime.date | None:
    """DOMAIN.md: approved postponements apply in order of approval date, then of to date;
    the last one sets the committed date. Without any, the first due date stands."""
    ordered = sorted(approved, key=lambda p: (p.approved_on, p.to_due_on))
    return ordered[-1].to_due_on if ordered else first_due_on


def set_committed_due_dates(tasks: dict[int, datetime.date | None]) -> int:
    """Write committed due dates (task id -> date) past the database guard, inside the
    caller's transaction. Returns how many rows changed; unchanged rows are not touched."""
    current = Task.objects.filter(id__in=list(tasks)).only("id", "committed_due_on")
    changed = [task for task in current if task.committed_due_on != tasks[task.id]]
    if not changed:
        return 0
    for task in changed:
        task.committed_due_on = tasks[task.id]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [COMMITTED_DUE_GUARD_FLAG])
        Task.objects.bulk_update(changed, ["committed_due_on"], batch_size=1000)
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, '', true)", [COMMITTED_DUE_GUARD_FLAG])
    return len(changed)


def recompute_committed_due_dates(task_ids) -> int:
    """Recompute each task's committed due date from its approved postponements."""
    task_ids = list(task_ids)
    approved: dict[int, list[Postponement]] = {task_id: [] for task_id in task_ids}
    for postponement in Postponement.objects.filter(
        task_id__in=task_ids, status=PostponementStatus.APPROVED
    ):
        approved[postponement.task_id].append(postponement)
    firsts = dict(Task.objects.filter(id__in=task_ids).values_list("id", "first_due_on"))
    return set_committed_due_dates(
        {
            task_id: committed_due_date(first_due_on=firsts[task_id], approved=approved[task_id])
            for task_id in task_ids
        }
    )


@transaction.atomic
def approve_postponement(
    *, postponement: Postponement, approver: Staff, on: datetime.date
) -> Postponement:
    """Approve a requested postponement and move the task's committed due date.
    The only way, besides an import of approved postponements, to move a deadline."""
    postponement = Postponement.objects.select_for_update().get(pk=postponement.pk)
    if postponement.status != PostponementStatus.REQUESTED:
        raise PostponementError(f"This postponement is already {postponement.status}.")
    if postponement.requested_by_id == approver.id:
        raise PostponementError("A postponement needs another person to approve it.")
    postponement.status = PostponementStatus.APPROVED
    postponement.approved_by = approver
    postponement.approved_on = on
    postponement.save(update_fields=["status", "approved_by", "approved_on"])
    recompute_committed_due_dates([postponement.task_id])
    return postponement
