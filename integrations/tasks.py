"""Celery tasks: thin wrappers around the sync services, with the retry policy.

429 -> retry after the server's Retry-After (the shared budget already pauses every worker);
5xx, timeouts, a full request budget -> retry with exponential backoff and jitter; 401/403 ->
the connection is marked broken (by the sync) and nothing retries; a project another run
holds -> skipped (the next beat tick comes soon). Watermarks, not messages, carry the state,
so a lost or repeated task loses nothing and a tick missed while Redis was down is caught up
by the next run."""

import random

from celery import shared_task
from django.utils import timezone

from .asana import sync
from .asana.client import ConnectionBroken, NotConfigured, RateLimited, Transient
from .ratelimit import BudgetExhausted

MAX_RETRIES = 8


def _backoff(retries: int) -> float:
    return min(15 * 2**retries, 30 * 60) * random.uniform(0.5, 1.5)  # noqa: S311 - jitter


def _retry(task, exc: Exception):
    if isinstance(exc, RateLimited | BudgetExhausted):
        countdown = exc.retry_after + random.uniform(0, 5)  # noqa: S311 - jitter
    else:
        countdown = _backoff(task.request.retries)
    raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES)


RETRYABLE = (RateLimited, Transient, BudgetExhausted)


@shared_task(name="asana.sync_all")
def sync_all_projects(full: bool = False) -> dict:
    """The beat's tick: refresh the project and user lists, then one task per mapped project."""
    try:
        sync._raise_if_broken()
        api = sync.api_from_settings()
        sync.refresh_directory(api)
    except NotConfigured:
        return {"skipped": "Asana is not configured"}
    except ConnectionBroken as exc:
        if not sync.connection_status().is_broken:
            sync.mark_broken(exc.message)
        return {"skipped": exc.message}
    gids = sorted(sync.mapped_projects())
    for gid in gids:
        sync_project.delay(gid, full=full)
    return {"queued": len(gids)}


@shared_task(name="asana.sync_project", bind=True, acks_late=True)
def sync_project(self, gid: str, full: bool = False) -> dict:
    try:
        result = sync.sync_project(gid, full=full)
    except RETRYABLE as exc:
        _retry(self, exc)
    except (ConnectionBroken, NotConfigured, sync.Unmapped) as exc:
        return {"project": gid, "stopped": str(exc)}
    if result is None:
        return {"project": gid, "skipped": "another run holds this project"}
    return {"project": gid, **result.stats, "api_calls": result.api_calls}


@shared_task(name="asana.reconcile_all")
def reconcile_all_projects() -> dict:
    """Nightly: one reconciliation per mapped project."""
    gids = sorted(sync.mapped_projects())
    for gid in gids:
        reconcile_project.delay(gid)
    return {"queued": len(gids)}


@shared_task(name="asana.reconcile_project", bind=True, acks_late=True)
def reconcile_project(self, gid: str) -> dict:
    try:
        result = sync.reconcile_project(gid)
    except RETRYABLE as exc:
        _retry(self, exc)
    except (ConnectionBroken, NotConfigured, sync.Unmapped) as exc:
        return {"project": gid, "stopped": str(exc)}
    if result is None:
        raise self.retry(countdown=_backoff(self.request.retries), max_retries=MAX_RETRIES)
    return {"project": gid, **result.stats}


@shared_task(name="asana.process_webhook_delivery", bind=True, acks_late=True)
def process_webhook_delivery(self, delivery_id: int) -> dict:
    """Re-read the tasks a webhook delivery named (webhooks are hints; polling stays on)."""
    from .models import WebhookDelivery

    delivery = (
        WebhookDelivery.objects.select_related("webhook__project").filter(pk=delivery_id).first()
    )
    if delivery is None or delivery.processed_at is not None:
        return {"delivery": delivery_id, "skipped": "unknown or already processed"}
    project = delivery.webhook.project.gid
    try:
        result = sync.sync_task_gids(delivery.task_gids, project=project)
    except RETRYABLE as exc:
        _retry(self, exc)
    except (ConnectionBroken, NotConfigured, sync.Unmapped) as exc:
        return {"delivery": delivery_id, "stopped": str(exc)}
    if result is None:  # the project is being synced; its listing may already cover these
        raise self.retry(countdown=_backoff(self.request.retries), max_retries=MAX_RETRIES)
    WebhookDelivery.objects.filter(pk=delivery_id).update(processed_at=timezone.now())
    return {"delivery": delivery_id, **result.stats}


@shared_task(name="crm.sync", bind=True, acks_late=True)
def sync_crm(self, full: bool = False) -> dict:
    """The beat's tick (every 10 minutes): the active CRM's changes since the last run."""
    from .crm import errors as crm_errors
    from .crm import sync as crm_sync
    from .crm.connection import NotConfigured as CrmNotConfigured
    from .crm.connection import adapter_from_settings

    try:
        adapter = adapter_from_settings()
        result = crm_sync.sync_crm(adapter, full=full)
    except CrmNotConfigured as exc:
        return {"skipped": exc.message}
    except crm_errors.ConnectionBroken as exc:
        return {"stopped": exc.message}
    except (crm_errors.RateLimited, crm_errors.Transient, BudgetExhausted) as exc:
        retry_after = getattr(exc, "retry_after", None)
        countdown = (
            retry_after + random.uniform(0, 5)  # noqa: S311 - jitter
            if retry_after
            else _backoff(self.request.retries)
        )
        raise self.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES) from None
    if result is None:
        return {"skipped": "another run holds the CRM"}
    return {"source": result.source, **result.stats, "api_calls": result.api_calls}
