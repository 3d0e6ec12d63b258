"""The fortnightly growth review: its decision per client, kept as the client's history."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from clients.models import Client
from godview.models import Staff

from ..models import GrowthReview, ReviewDecision


@transaction.atomic
def record_growth_review(
    *, client: Client, decision: str, note: str, by: Staff, on: datetime.date
) -> GrowthReview:
    """Record the review's decision (keep course or pivot) for a client; a pivot says why."""
    note = (note or "").strip()
    errors = {}
    if decision not in ReviewDecision.values:
        errors["decision"] = "Choose keep course or pivot."
    elif decision == ReviewDecision.PIVOT and not note:
        errors["note"] = "Say what changes with the pivot."
    if errors:
        raise ValidationError(errors)
    return GrowthReview.objects.create(
        client=client, decision=decision, note=note, reviewed_by=by, reviewed_on=on
    )
