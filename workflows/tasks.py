"""Celery tasks: thin wrappers around workflows.services."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="workflows.reminders")
def send_reminders() -> dict:
    """Send the reminder emails that are due and were not sent before (run hourly)."""
    return services.send_due_reminders(now=timezone.now())
