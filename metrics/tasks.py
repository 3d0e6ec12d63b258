"""Celery tasks: thin wrappers around metrics.services (ids and dates only, idempotent)."""

import datetime

from celery import shared_task
from django.core.cache import cache

from godview.agency import agency_today
from godview.services import METRICS_REFRESH_PENDING_KEY

from . import services


@shared_task(name="metrics.refresh")
def refresh_metrics() -> int:
    """Recompute the current figures (debounced by godview.services.schedule_metrics_refresh)."""
    cache.delete(METRICS_REFRESH_PENDING_KEY)  # writes from now on schedule another refresh
    return len(services.refresh_current())


@shared_task(name="metrics.nightly")
def nightly_snapshot() -> int:
    """Finish yesterday's daily snapshot and refresh today's figures."""
    today = agency_today()
    services.snapshot_day(day=today - datetime.timedelta(days=1))
    return len(services.refresh_current(today=today))
