"""Tactics and CRO tests: start one for a client, close it as win, loss or inconclusive."""

import datetime
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from clients.models import Client
from godview.models import Staff
from godview.services import schedule_metrics_refresh

from ..models import Tactic, TacticKind, TacticOutcome

NAME_MAX = Tactic._meta.get_field("name").max_length


@transaction.atomic
def start_tactic(
    *,
    client: Client,
    name: str,
    kind: str,
    started_on: datetime.date,
    owner: Staff,
    today: datetime.date,
) -> Tactic:
    """Record a tactic or CRO test that started for a client (running until closed)."""
    name = " ".join((name or "").split())
    errors = {}
    if not name:
        errors["name"] = "Name the tactic."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    if kind not in TacticKind.values:
        errors["kind"] = "Choose a tactic or a CRO test."
    if started_on > today:
        errors["started_on"] = "The start date is in the future."
    if errors:
        raise ValidationError(errors)
    tactic = Tactic.objects.create(
        key=f"tactic-{uuid.uuid4().hex[:12]}",  # tactics logged here have no outside key
        client=client,
        name=name,
        kind=kind,
        started_on=started_on,
        owner=owner,
    )
    schedule_metrics_refresh()
    return tactic


@transaction.atomic
def close_tactic(
    *,
    tactic: Tactic,
    outcome: str,
    ended_on: datetime.date,
    today: datetime.date,
    confidence: Decimal | None = None,
    lift_pct: Decimal | None = None,
) -> Tactic:
    """Close a running tactic as win, loss or inconclusive; a CRO test also needs its
    statistical confidence (0-100) and may carry its lift."""
    tactic = Tactic.objects.select_for_update().get(pk=tactic.pk)
    if tactic.outcome != TacticOutcome.RUNNING:
        raise ValidationError(f"This tactic is already closed as {tactic.get_outcome_display()}.")
    errors = {}
    if outcome not in (TacticOutcome.WIN, TacticOutcome.LOSS, TacticOutcome.INCONCLUSIVE):
        errors["outcome"] = "Choose win, loss or inconclusive."
    if ended_on < tactic.started_on:
        errors["ended_on"] = f"It started on {tactic.started_on:%d %b %Y}; end on or after."
    elif ended_on > today:
        errors["ended_on"] = "The end date is in the future."
    if tactic.kind == TacticKind.CRO_TEST and confidence is None:
        errors["confidence"] = "A CRO test needs its statistical confidence (0-100)."
    if confidence is not None and not 0 <= confidence <= 100:
        errors["confidence"] = "Confidence is between 0 and 100."
    if errors:
        raise ValidationError(errors)
    tactic.outcome = outcome
    tactic.ended_on = ended_on
    tactic.confidence = confidence
    tactic.lift_pct = lift_pct
    tactic.save(update_fields=["outcome", "ended_on", "confidence", "lift_pct"])
    schedule_metrics_refresh()
    return tactic
