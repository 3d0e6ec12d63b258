"""HubSpot webhook deliveries: event arrays of at most 100, signed v1, v2 and v3.

Events are recorded by the store's arrange helpers (creation, propertyChange, deletion, merge,
restore, associationChange) for each subscription that wants them. ``deliver()`` is one
delivery round, time-compressed: a batch that fails (non-2xx, no connection, or slower than
five seconds) stays pending with its ``attemptNumber`` raised, and is dropped after ten
attempts, as HubSpot gives up after ten retries. Rounds can duplicate and reorder events,
because HubSpot's deliveries do both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .wire import ObjectType

MAX_EVENTS = 100
MAX_ATTEMPTS = 10
DELIVERY_TIMEOUT = 5.0
NAMED_SUBSCRIPTIONS = ("companies", "deals", "contacts")  # the rest are object.* (BETA)


def sign_v1(secret: str, body: bytes | str) -> str:
    """``X-HubSpot-Signature`` v1: hex SHA-256 of secret + body."""
    raw = body.encode() if isinstance(body, str) else body
    return hashlib.sha256(secret.encode() + raw).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: bytes | str) -> str:
    """``X-HubSpot-Signature`` v2: hex SHA-256 of secret + method + URI + body."""
    raw = body.encode() if isinstance(body, str) else body
    return hashlib.sha256((secret + method + uri).encode() + raw).hexdigest()


def sign_v3(secret: str, method: str, uri: str, body: bytes | str, timestamp_ms: int) -> str:
    """``X-HubSpot-Signature-v3``: base64 HMAC-SHA256 of method + URI + body + timestamp."""
    raw = body.encode() if isinstance(body, str) else body
    message = method.encode() + uri.encode() + raw + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def signature_headers(
    secret: str, uri: str, body: bytes, versions: tuple[str, ...], timestamp_ms: int
) -> dict[str, str]:
    headers: dict[str, str] = {}
    legacy = [v for v in versions if v in ("v1", "v2")]
    if legacy:  # one X-HubSpot-Signature header: the newest legacy version asked for
        version = max(legacy)
        headers["X-HubSpot-Signature"] = (
            sign_v2(secret, "POST", uri, body) if version == "v2" else sign_v1(secret, body)
        )
        headers["X-HubSpot-Signature-Version"] = version
    if "v3" in versions:
        headers["X-HubSpot-Signature-v3"] = sign_v3(secret, "POST", uri, body, timestamp_ms)
        headers["X-HubSpot-Request-Timestamp"] = str(timestamp_ms)
    return headers


@dataclass
class Subscription:
    id: int
    target: str
    secret: str
    app_id: int
    types: frozenset[str] | None  # None: every event
    versions: tuple[str, ...]
    pending: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Delivery:
    """One POST the emitter made."""

    subscription_id: int
    status: int | None  # None: no connection or slower than the timeout
    events: list[dict[str, Any]]
    headers: dict[str, str]
    body: bytes


class WebhookEmitter:
    """Subscriptions, their pending events, and the delivery log (``deliveries``)."""

    def __init__(self, store: Any):
        self._store = store
        self.subscriptions: list[Subscription] = []
        self.deliveries: list[Delivery] = []
        self._event_ids = itertools.count(1)
        self._subscription_ids = itertools.count(1001)

    def subscribe(
        self,
        target: str,
        secret: str,
        types: tuple[str, ...] | None = None,
        app_id: int = 1_000_001,
        versions: tuple[str, ...] = ("v1", "v3"),
    ) -> Subscription:
        """Deliver events (``"deal.propertyChange"``, ``"object.creation"``, ...) to
        ``target``, signed with the app's client ``secret``."""
        with self._store._lock:
            sub = Subscription(
                next(self._subscription_ids),
                target,
                secret,
                app_id,
                frozenset(types) if types else None,
                versions,
            )
            self.subscriptions.append(sub)
            return sub

    def record(
        self, kind: ObjectType, object_id: int, change: str, occurred_ms: int, **fields: Any
    ) -> None:
        """Queue an event for every subscription that wants it (called under the lock)."""
        if not self.subscriptions:
            return
        named = kind.name in NAMED_SUBSCRIPTIONS
        subscription_type = f"{kind.singular if named else 'object'}.{change}"
        for sub in self.subscriptions:
            if sub.types is not None and subscription_type not in sub.types:
                continue
            event = {
                "eventId": next(self._event_ids),
                "subscriptionId": sub.id,
                "portalId": self._store.portal_id,
                "appId": sub.app_id,
                "occurredAt": occurred_ms,
                "subscriptionType": subscription_type,
                "attemptNumber": 0,
                "objectId": object_id,
                "changeSource": "CRM",
                **fields,
            }
            if not named:
                event["objectTypeId"] = kind.type_id
            sub.pending.append(event)

    def deliver(
        self,
        duplicate: int = 0,
        shuffle: bool = False,
        timeout: float = DELIVERY_TIMEOUT,
        timestamp_ms: int | None = None,
        seed: int | None = None,
    ) -> list[Delivery]:
        """One delivery round for every subscription with pending events.

        ``duplicate`` sends the first n events of each batch twice; ``shuffle`` reorders
        them; ``timestamp_ms`` overrides the v3 timestamp (default: the wall clock, which is
        what a receiver compares against).
        """
        rng = random.Random(seed)  # noqa: S311 - reordering test data, not security
        rounds = []
        with self._store._lock:
            for sub in self.subscriptions:
                batch = sub.pending[:MAX_EVENTS]
                if batch:
                    rounds.append((sub, batch))
        made = []
        for sub, batch in rounds:
            events = [dict(e) for e in batch]
            events += [dict(e) for e in events[:duplicate]]
            if shuffle:
                rng.shuffle(events)
            events = events[:MAX_EVENTS]
            body = json.dumps(events, separators=(",", ":")).encode()
            stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
            headers = {
                "Content-Type": "application/json",
                **signature_headers(sub.secret, sub.target, body, sub.versions, stamp),
            }
            status = _post(sub.target, body, headers, timeout)
            delivery = Delivery(sub.id, status, events, headers, body)
            made.append(delivery)
            with self._store._lock:
                self.deliveries.append(delivery)
                sent = {id(e) for e in batch}
                if status is not None and 200 <= status < 300:
                    sub.pending = [e for e in sub.pending if id(e) not in sent]
                    continue
                for event in batch:
                    event["attemptNumber"] += 1
                keep = [e for e in batch if e["attemptNumber"] < MAX_ATTEMPTS]
                sub.dropped += [e for e in batch if e["attemptNumber"] >= MAX_ATTEMPTS]
                sub.pending = keep + [e for e in sub.pending if id(e) not in sent]
        return made


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int | None:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None
