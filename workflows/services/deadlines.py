"""Deadlines: the committed due date moves only through an approved postponement."""

import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from godview.models import AgencySettings, Role, Staff
from godview.services import schedule_metrics_refresh

from ..models import COMMITTED_DUE_GUARD_FLAG, Postponement, PostponementStatus, Task


class PostponementError(ValueError):
    """A decision that cannot be taken (already decided, or by the wrong person)."""


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


def may_decide_postponements(staff: Staff | None) -> bool:
    """Directors and leadership approve or decline postponements."""
    return staff is not None and staff.active and staff.role in (Role.DIRECTOR, Role.LEADERSHIP)


@transaction.atomic
def request_postponement(
    *, task: Task, to_due_on: datetime.date, reason: str, by: Staff, today: datetime.date
) -> Postponement:
    """Ask to move an open task's committed due date to a later day, with a reason. A request
    by leadership is approved at once when the agency's setting says so; everyone else's waits
    for a director or leader. Raises ValidationError naming the field at fault."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    reason = (reason or "").strip()
    if task.completed_on is not None:
        raise ValidationError("This task is already done; there is nothing to postpone.")
    if task.committed_due_on is None:
        raise ValidationError("This task has no committed due date to move.")
    if Postponement.objects.filter(task=task, status=PostponementStatus.REQUESTED).exists():
        raise ValidationError("A postponement of this task is already waiting for a decision.")
    errors = {}
    if to_due_on <= task.committed_due_on:
        errors["to_due_on"] = (
            f"The new date must be after the committed due date ({task.committed_due_on:%d %b %Y})."
        )
    elif to_due_on < today:
        errors["to_due_on"] = "The new date is in the past."
    if not reason:
        errors["reason"] = "Say why the deadline has to move."
    if errors:
        raise ValidationError(errors)
    postponement = Postponement.objects.create(
        task=task,
        from_due_on=task.committed_due_on,
        to_due_on=to_due_on,
        reason=reason,
        requested_by=by,
    )
    if by.role == Role.LEADERSHIP and AgencySettings.load().leadership_postponements_auto_approved:
        _decide(
            postponement,
            status=PostponementStatus.APPROVED,
            by=by,
            on=today,
            note="Approved automatically: requested by leadership.",
        )
    return postponement


def _decide(postponement: Postponement, *, status: str, by: Staff, on, note: str) -> None:
    postponement.status = status
    postponement.approved_by = by
    postponement.approved_on = on
    postponement.decision_note = note
    postponement.save(update_fields=["status", "approved_by", "approved_on", "decision_note"])
    if status == PostponementStatus.APPROVED:
        recompute_committed_due_dates([postponement.task_id])
    schedule_metrics_refresh()


def _pending(postponement: Postponement, approver: Staff) -> Postponement:
    postponement = Postponement.objects.select_for_update().get(pk=postponement.pk)
    if postponement.status != PostponementStatus.REQUESTED:
        raise PostponementError(f"This postponement is already {postponement.status}.")
    if postponement.requested_by_id == approver.id:
        raise PostponementError("A postponement needs another person to decide on it.")
    if not may_decide_postponements(approver) and not approver.user.is_superuser:
        raise PostponementError("Only directors and leadership decide on postponements.")
    return postponement


@transaction.atomic
def approve_postponement(
    *, postponement: Postponement, approver: Staff, on: datetime.date, note: str = ""
) -> Postponement:
    """Approve a requested postponement and move the task's committed due date, recording
    who and when. The only way, besides an import of approved postponements, to move a
    deadline."""
    postponement = _pending(postponement, approver)
    _decide(postponement, status=PostponementStatus.APPROVED, by=approver, on=on, note=note)
    return postponement


@transaction.atomic
def decline_postponement(
    *, postponement: Postponement, approver: Staff, on: datetime.date, note: str
) -> Postponement:
    """Decline a requested postponement with a reason: nothing moves, the request stays
    visible as declined."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say why it is declined."})
    postponement = _pending(postponement, approver)
    _decide(postponement, status=PostponementStatus.DECLINED, by=approver, on=on, note=note)
    return postponement
