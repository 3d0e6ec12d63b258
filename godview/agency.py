"""Dates as the agency sees them: every "today" comes from here, in the agency's time zone."""

import datetime

from django.utils import timezone

from .models import AgencySettings


def agency_zone():
    return AgencySettings.load().zone


def agency_today() -> datetime.date:
    """Today's date in the agency's time zone (never the server clock's)."""
    return timezone.now().astimezone(agency_zone()).date()


def local_date(moment: datetime.datetime) -> datetime.date:
    """The agency-local date of an aware datetime (integrations send UTC)."""
    if timezone.is_naive(moment):
        raise ValueError("local_date needs an aware datetime")
    return moment.astimezone(agency_zone()).date()


def week_start(day: datetime.date) -> datetime.date:
    """The Monday of the week (Monday to Sunday) that contains day."""
    return day - datetime.timedelta(days=day.weekday())
