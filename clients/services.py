"""Writes about clients that must go through one place: logging a touchpoint by hand."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from godview.models import Staff
from godview.services import schedule_metrics_refresh

from .models import Channel, Client, Direction, Touchpoint, TouchpointSource

SUMMARY_MAX = Touchpoint._meta.get_field("summary").max_length
OLDEST_DAYS = 366


@transaction.atomic
def log_touchpoint(
    *,
    client: Client,
    channel: str,
    occurred_on: datetime.date,
    by: Staff,
    today: datetime.date,
    direction: str = Direction.OUTBOUND,
    summary: str = "",
) -> Touchpoint:
    """Record a conversation with the client that someone had (a call, a meeting, an email
    sent...). Whether it resets days inactive follows DOMAIN.md's one rule
    (`COUNTS_FOR_CONTACT`): every call or meeting, other channels only outbound."""
    summary = " ".join((summary or "").split())
    errors = {}
    if channel not in Channel.values:
        errors["channel"] = "Choose how you talked to the client."
    if direction not in Direction.values:
        errors["direction"] = "Choose who started the conversation."
    if occurred_on > today:
        errors["occurred_on"] = "The date is in the future."
    elif occurred_on < today - datetime.timedelta(days=OLDEST_DAYS):
        errors["occurred_on"] = "The date is more than a year ago."
    if len(summary) > SUMMARY_MAX:
        errors["summary"] = f"Keep the note under {SUMMARY_MAX} characters."
    if errors:
        raise ValidationError(errors)
    touchpoint = Touchpoint.objects.create(
        client=client,
        staff=by,
        occurred_on=occurred_on,
        channel=channel,
        direction=direction,
        summary=summary,
        source=TouchpointSource.MANUAL,
    )
    schedule_metrics_refresh()
    return touchpoint
