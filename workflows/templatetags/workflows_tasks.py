"""What a task or tactic list needs to offer its row actions."""

from django import template
from django.db.models import Exists, OuterRef, QuerySet

from ..models import Postponement, PostponementStatus

register = template.Library()


def postponement_requested() -> Exists:
    """Whether a postponement of the task waits for a decision (for Task querysets)."""
    return Exists(
        Postponement.objects.filter(task=OuterRef("pk"), status=PostponementStatus.REQUESTED)
    )


@register.filter
def with_postponement_state(tasks):
    """A list page's tasks, each with `postponement_requested` (whether its "Postpone…"
    action gives way to "postponement requested"). A page not fetched yet gets it in its own
    query, so the list costs no extra query; rows already fetched get it in one."""
    if isinstance(tasks, QuerySet) and tasks._result_cache is None:
        return tasks.annotate(postponement_requested=postponement_requested())
    tasks = list(tasks)
    waiting = set(
        Postponement.objects.filter(
            task__in=[task.pk for task in tasks], status=PostponementStatus.REQUESTED
        ).values_list("task_id", flat=True)
    )
    for task in tasks:
        task.postponement_requested = task.pk in waiting
    return tasks
