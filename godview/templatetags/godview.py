"""Formatting filters shared by every page: money, plain numbers, status colours."""

from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

register = template.Library()

# One place maps a status to its colour class (STYLE.md: "a status colour is mapped in one
# template tag").
STATUS_CLASSES = {
    "met": "ok",
    "win": "ok",
    "won": "ok",
    "approved": "ok",
    "open": "info",
    "running": "info",
    "requested": "info",
    "missed": "bad",
    "loss": "bad",
    "lost": "bad",
    "declined": "bad",
    "inconclusive": "muted",
}


@register.filter
def status_class(status: str) -> str:
    return STATUS_CLASSES.get(status, "muted")


@register.filter
def money(value) -> str:
    """1234.5 -> '1,234.50' (currency-neutral: the agency's own currency)."""
    if value is None:
        return ""
    return intcomma(f"{Decimal(value):.2f}")


@register.filter
def normalize(value) -> str:
    """A decimal without trailing zeros: 4.0000 -> '4', 2.5000 -> '2.5'."""
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
