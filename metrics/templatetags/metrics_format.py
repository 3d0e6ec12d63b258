"""Showing metric values the same way everywhere: by the registry's unit, nulls explained."""

from django import template
from django.utils.html import format_html

from godview.templatetags.godview import money
from metrics.registry import BY_KEY, COUNT, DAYS, MONEY, PERCENT

register = template.Library()

NULL_REASON = "No value: nothing to divide by in this period (for example no clients at its start)"
NOT_COMPUTED = "Not computed yet: figures are refreshed shortly after changes, and nightly"


def formatted(key: str, value) -> str:
    unit = BY_KEY[key].unit
    if unit == MONEY:
        return money(value)
    if unit == PERCENT:
        return f"{value:.1f}%"
    if unit == COUNT:
        return f"{int(value):,}"
    if unit == DAYS:
        return f"{value:g}"
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


@register.simple_tag
def metric_value(key: str, value):
    """A metric's value as text; null shows as an em dash with a tooltip saying why. A value
    missing from the stored row (an empty string in a template: someone added since the last
    refresh) says so."""
    if value == "":
        return format_html('<span class="null" title="{}">—</span>', NOT_COMPUTED)
    if value is None:
        return format_html('<span class="null" title="{}">—</span>', NULL_REASON)
    return formatted(key, value)


@register.simple_tag
def metric_change(key: str, change, better):
    """The change since the previous period, with a word (not colour alone) for its sense."""
    if change is None or change == 0:
        return format_html('<span class="change flat">{}</span>', "no change")
    arrow = "▲" if change > 0 else "▼"
    sense = "better" if better else "worse" if better is not None else ""
    css = {"better": "ok", "worse": "bad"}.get(sense, "muted")
    unit = BY_KEY[key].unit
    amount = f"{abs(change):.1f} pts" if unit == PERCENT else formatted(key, abs(change))
    return format_html('<span class="change {}">{} {} {}</span>', css, arrow, amount, sense)


@register.filter
def metric_label(key: str) -> str:
    return BY_KEY[key].label
