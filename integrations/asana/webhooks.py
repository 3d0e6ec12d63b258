"""Asana webhooks: create and remove them, and receive what Asana sends to them.

Webhooks are hints (notes §6, QUALITY R5): a delivery is verified, stored once and handed to
a Celery task that re-reads the tasks it names; polling and the nightly reconciliation stay on,
so a delivery Asana never sends loses nothing.

Creating one is a two-step dance: *during* our ``POST /webhooks`` Asana POSTs a handshake to
the target and waits for the ``X-Hook-Secret`` to be echoed. So the row (and with it the
target URL, keyed by our own pk) exists and is committed before the POST, with a placeholder
gid; the receiving view, on another connection, stores the secret; the 201 then fills in the
gid (and the secret again, from the body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asana
from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from integrations.asana.client import AsanaApi, ConnectionBroken, NotFound, api_from_settings
from integrations.models import AsanaProject, AsanaWebhook, WebhookDelivery

logger = logging.getLogger(__name__)

PROCESS_DELIVERY_TASK = "asana.process_webhook_delivery"
PENDING_PREFIX = "pending-"
# Deliveries that name tasks (task events; stories point at their task). Section, project
# and tag events change nothing the sync stores per task, so Asana need not send them.
WEBHOOK_FILTERS = [
    *(
        {"resource_type": "task", "action": action}
        for action in ("added", "changed", "removed", "deleted", "undeleted")
    ),
    {"resource_type": "story"},
]
Headers = Mapping[str, str]
Reply = tuple[int, dict[str, str]]


class WebhookError(Exception):
    """Creating or removing a webhook failed; the message says why (never a secret)."""


class QueueUnavailable(Exception):
    """The broker refused the follow-up task; Asana is asked to deliver again later."""


def receive_url(hook: AsanaWebhook) -> str:
    """The public URL Asana posts to for ``hook`` (``SITE_URL`` + the receiving view)."""
    return settings.SITE_URL + reverse("integrations:asana-webhook", args=[hook.pk])


def create_webhook(project: AsanaProject, *, api: AsanaApi | None = None) -> AsanaWebhook:
    """Ask Asana to deliver ``project``'s task and story changes to us; returns the stored
    hook with Asana's gid and the handshake secret.

    Must run outside a transaction (an admin action, a shell): Asana's handshake arrives on
    another connection while the POST is in flight and has to find the row committed. On any
    failure the placeholder row is removed and the error raised (:class:`WebhookError` when
    Asana refused the target)."""
    if connection.in_atomic_block:
        raise WebhookError(
            "create_webhook must run outside a transaction: Asana's handshake arrives on "
            "another connection during the request and must find the webhook row committed."
        )
    api = api or api_from_settings()
    hook = AsanaWebhook.objects.create(
        gid=f"{PENDING_PREFIX}{uuid.uuid4().hex}", project=project, target=""
    )
    hook.target = receive_url(hook)
    hook.save(update_fields=["target"])
    body = {"data": {"resource": project.gid, "target": hook.target, "filters": WEBHOOK_FILTERS}}
    try:
        created = api.call(
            asana.WebhooksApi(api.client).create_webhook,
            body,
            opt_fields="gid,active,target",
            full_payload=True,
        )
    except ConnectionBroken as exc:
        hook.delete()
        if exc.status == 403:
            raise WebhookError(
                f"Asana refused the webhook for {project.name} (403): the target must be a "
                f"public HTTPS address (SITE_URL is {settings.SITE_URL}) and the token needs "
                "access to the project."
            ) from exc
        raise
    except BaseException:
        hook.delete()
        raise
    gid = str((created.get("data") or {}).get("gid") or "")
    secret = created.get("X-Hook-Secret") or ""
    if not gid:
        hook.delete()
        raise WebhookError("Asana created the webhook but its answer had no gid.")
    hook.refresh_from_db(fields=["secret"])
    if secret and hook.secret and not hmac.compare_digest(secret.encode(), hook.secret.encode()):
        # Someone else's handshake reached this URL first; Asana signs with its own secret.
        logger.warning("Asana webhook %s: handshake secret replaced by the creation answer", gid)
    AsanaWebhook.objects.filter(pk=hook.pk).update(gid=gid, secret=secret or hook.secret)
    hook.refresh_from_db()
    logger.info("Asana webhook %s created for project %s (row %s)", gid, project.gid, hook.pk)
    return hook


def remove_webhook(hook: AsanaWebhook, *, api: AsanaApi | None = None) -> None:
    """Delete ``hook`` in Asana, then ours. Asana answering 404 (it already deleted the hook,
    for instance after 24 hours of failed deliveries) still removes ours."""
    if not hook.gid.startswith(PENDING_PREFIX):
        api = api or api_from_settings()
        hooks = asana.WebhooksApi(api.client)

        def delete(_opts: dict[str, Any]) -> Any:  # delete_webhook takes no opts dict
            return hooks.delete_webhook(hook.gid)

        try:
            api.call(delete)
        except NotFound:
            logger.info("Asana webhook %s was already gone in Asana", hook.gid)
    hook.delete()


def _header(headers: Headers, name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict from a test or a shell
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _signature_ok(secret: str, signature: str | None, body: bytes) -> bool:
    if not secret or not signature:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    # Bytes, so a non-ASCII header is a mismatch rather than a TypeError.
    return hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace"))


def _link(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def task_gids(events: list[dict[str, Any]]) -> list[str]:
    """The tasks a delivery's events touch, in order, once each: the task of every task
    event (deleted and removed ones too: the sync confirms them) and the task a story was
    added to (Asana gives it as the event's parent)."""
    gids: dict[str, None] = {}
    for event in events:
        resource, parent = _link(event.get("resource")), _link(event.get("parent"))
        if resource.get("resource_type") == "task":
            task = resource.get("gid")
        elif resource.get("resource_type") == "story" and parent.get("resource_type") == "task":
            task = parent.get("gid")
        else:
            continue
        if task:
            gids[str(task)] = None
    return list(gids)


def _events(body: bytes) -> list[dict[str, Any]] | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return None
    return events


def _enqueue(delivery_pk: int) -> None:
    try:
        current_app.send_task(PROCESS_DELIVERY_TASK, args=[delivery_pk])
    except (OperationalError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc


def receive(hook: AsanaWebhook, headers: Headers, body: bytes) -> Reply:
    """Answer one request Asana made to ``hook``'s URL: ``(status, response headers)``.

    A handshake stores the secret (only the first, only while the hook is being created) and
    echoes it. A delivery must carry
    a valid ``X-Hook-Signature`` (else 401: nothing stored, nothing queued); it is stored
    once per body (a replay changes nothing) and its tasks are left to a Celery task after
    commit. No Asana calls: the answer takes a few queries. The body is never logged."""
    handshake = _header(headers, "X-Hook-Secret")
    if handshake is not None:
        return _handshake(hook, handshake)
    if not _signature_ok(hook.secret, _header(headers, "X-Hook-Signature"), body):
        logger.warning("Asana webhook row %s: delivery with a bad or missing signature", hook.pk)
        return HTTPStatus.UNAUTHORIZED, {}
    events = _events(body)
    if events is None:
        logger.warning("Asana webhook row %s: signed delivery is not {events: [...]}", hook.pk)
        return HTTPStatus.BAD_REQUEST, {}
    now = timezone.now()
    if not events:  # a heartbeat: Asana checks that we are alive
        AsanaWebhook.objects.filter(pk=hook.pk).update(last_delivery_at=now)
        return HTTPStatus.OK, {}
    gids = task_gids(events)
    digest = hashlib.sha256(body).hexdigest()
    created = False
    try:
        with transaction.atomic():
            AsanaWebhook.objects.filter(pk=hook.pk).update(last_delivery_at=now)
            # get_or_create inserts in a savepoint and re-reads on IntegrityError, so two
            # copies arriving at once still make one row.
            delivery, created = WebhookDelivery.objects.get_or_create(
                webhook=hook,
                digest=digest,
                defaults={
                    "events": len(events),
                    "task_gids": gids,
                    "processed_at": None if gids else now,
                },
            )
            if created and gids:
                transaction.on_commit(lambda: _enqueue(delivery.pk))
    except QueueUnavailable:
        # Committed but not queued: forget it, so Asana's retry is stored and queued anew.
        WebhookDelivery.objects.filter(pk=delivery.pk, processed_at=None).delete()
        logger.exception("Asana webhook row %s: could not queue the delivery", hook.pk)
        return HTTPStatus.SERVICE_UNAVAILABLE, {}
    logger.info(
        "Asana webhook row %s: %s delivery, %d events, %d tasks",
        hook.pk,
        "new" if created else "repeated",
        len(events),
        len(gids),
    )
    return HTTPStatus.OK, {}


def _handshake(hook: AsanaWebhook, secret: str) -> Reply:
    secret = secret.strip()
    if not secret or len(secret) > AsanaWebhook._meta.get_field("secret").max_length:
        return HTTPStatus.BAD_REQUEST, {}
    # Conditional update: only a hook being created takes a secret, and of two racing
    # handshakes only the first.
    stored = AsanaWebhook.objects.filter(
        pk=hook.pk, secret="", gid__startswith=PENDING_PREFIX
    ).update(secret=secret)
    if not stored:
        # Asana never repeats a handshake; a second one would be someone pointing another
        # webhook at this URL. Not echoing makes their creation fail.
        logger.warning("Asana webhook row %s: second handshake ignored", hook.pk)
        return HTTPStatus.CONFLICT, {}
    hook.secret = secret
    logger.info("Asana webhook row %s: handshake answered", hook.pk)
    return HTTPStatus.OK, {"X-Hook-Secret": secret}
