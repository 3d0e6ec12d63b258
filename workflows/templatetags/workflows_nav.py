"""The main navigation's figure for directors and leadership: how many postponements wait
for a decision. It lives here, not in godview's context processor, because godview may not
import workflows (ARCHITECTURE.md, import direction)."""

from django import template

from godview.access import scope_by_pod

from ..models import Postponement, PostponementStatus

register = template.Library()


def pending_postponements_count(user) -> int:
    """The requests waiting for a decision in the pods the user may see (one query)."""
    waiting = Postponement.objects.filter(status=PostponementStatus.REQUESTED)
    return scope_by_pod(waiting, user, "task__client__pod").count()


@register.inclusion_tag("workflows/postponement_nav_count.html", takes_context=True)
def postponements_nav_count(context, oob: bool = False) -> dict:
    """The count as the badge beside "Postponements" (empty when nothing waits); `oob` marks
    it for htmx to swap into the page after a decision."""
    return {"count": pending_postponements_count(context["request"].user), "oob": oob}
