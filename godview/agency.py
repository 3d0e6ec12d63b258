"""Dates as the agency sees them: every "today" comes from here, in the agency's time zone."""

import datetime

from django.utils import timezone

from .models import AgencySettings


def agency_zone():
    return AgencySettings.load().zone


def agency_today() -> datetime.date:
    """Today's date in the agency's time zone (never the server clock's)."""
    return timezone.now().astimezone(agency_zone()).date()
