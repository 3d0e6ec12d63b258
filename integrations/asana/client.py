"""The Asana SDK, configured as ``shared/docs/notes/asana-api.md`` §1 recommends, and a thin
wrapper the sync calls through.

- :func:`asana_client` builds an ``asana.ApiClient`` with in-SDK retries OFF (urllib3
  ``Retry(0, respect_retry_after_header=False)``: without the last flag urllib3 still retries
  429/503 that carry ``Retry-After``), and an explicit ``(connect, read)`` timeout applied to
  every request, including each page of a listing (the SDK's default is no timeout, and it
  ignores a float timeout). Our Celery retries and the shared budget decide when to try again.
- :class:`AsanaApi` acquires the shared :class:`~integrations.ratelimit.RequestBudget` before
  every HTTP request. The SDK's page iterator makes one ``ApiClient.call_api`` per page, and
  every call ends in ``ApiClient.request``; our client subclass hooks ``request``, so each page
  is counted, whoever iterates. ``call`` also materialises listings (the notes: lazy iteration
  lets offsets expire) and maps errors to the exceptions below, so callers never see the SDK's.

Create one client per worker process, after fork, and reuse it: each ``ApiClient`` starts a
thread pool.
"""

from __future__ import annotations

import json
import logging
import types
from collections.abc import Callable
from typing import Any

import asana
import urllib3
from asana.rest import ApiException
from urllib3.util.retry import Retry

from integrations.ratelimit import RequestBudget

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5, 60)
# When a 429 comes without a usable Retry-After (Asana always sends one), wait this long.
DEFAULT_RETRY_AFTER = 60
# Keyword arguments ``call`` passes to the SDK method rather than into the query string.
SDK_KWARGS = frozenset({"full_payload", "item_limit", "header_params", "_request_timeout"})


class AsanaError(Exception):
    """An Asana call failed. ``status`` is the HTTP status (None for transport failures);
    ``body`` the parsed error envelope when there was one. Never carries the token."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class RateLimited(AsanaError):
    """429: retry after ``retry_after`` seconds (the budget is already paused that long)."""

    def __init__(self, retry_after: int, message: str = "rate limited", **kwargs: Any):
        super().__init__(f"{message} (retry after {retry_after}s)", **kwargs)
        self.retry_after = retry_after


class ConnectionBroken(AsanaError):
    """401/403: the token is wrong, revoked or lacks access; retrying will not help."""


class Transient(AsanaError):
    """5xx, timeouts, connection errors: retry with backoff."""


class NotFound(AsanaError):
    """404: the object does not exist (deleted or trashed) or the path is unknown."""


class PaymentRequired(AsanaError):
    """402: the workspace's plan does not include this feature."""


class NotConfigured(AsanaError):
    """ASANA_ACCESS_TOKEN or ASANA_WORKSPACE_GID is not set."""


class _ApiClient(asana.ApiClient):
    """``asana.ApiClient`` whose every HTTP request gets the default timeout and first calls
    ``before_request`` (if set)."""

    default_timeout: tuple[float, float] = DEFAULT_TIMEOUT
    before_request: Callable[[], None] | None = None

    def request(self, method, url, *args, _request_timeout=None, **kwargs):
        if self.before_request is not None:
            self.before_request()
        return super().request(
            method, url, *args, _request_timeout=_timeout(_request_timeout, self), **kwargs
        )


def _timeout(value: Any, client: _ApiClient) -> Any:
    # rest.py honours an int (total) or a 2-tuple; a float would silently mean no timeout.
    if value is None:
        return client.default_timeout
    if isinstance(value, int | float):
        return (value, value)
    return value


def asana_client(
    *, token: str, base_url: str, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT
) -> asana.ApiClient:
    """An SDK client for ``token`` at ``base_url``: no in-SDK retries, explicit timeouts."""
    cfg = asana.Configuration()
    cfg.access_token = token
    cfg.host = base_url.rstrip("/")
    # total=0 disables connect/read/status retries and redirects; without
    # respect_retry_after_header=False urllib3 would still retry a 429/503 with Retry-After.
    cfg.retry_strategy = Retry(total=0, raise_on_status=False, respect_retry_after_header=False)
    client = _ApiClient(cfg)
    client.default_timeout = _timeout(timeout, client)
    return client


def _opt_value(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    return value


def _error_message(exc: ApiException) -> tuple[str, Any]:
    body = None
    try:
        body = json.loads(exc.body) if exc.body else None
        messages = [e.get("message", "") for e in body.get("errors", [])]
        text = "; ".join(m for m in messages if m)
    except (ValueError, TypeError, AttributeError):
        text = ""
    return f"Asana answered {exc.status}" + (f": {text}" if text else f" {exc.reason}"), body


def _retry_after(exc: ApiException) -> int:
    raw = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return max(1, int(float(raw)))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


class AsanaApi:
    """Calls SDK methods under the shared budget and maps failures to our exceptions.

    ``api.call(asana.TasksApi(api.client).get_tasks, project=gid, opt_fields=["name"])``
    builds a fresh ``opts`` dict per call (the SDK mutates it while paginating), joins list
    ``opt_fields`` with commas, returns a list for listings (every page fetched before
    returning) and the unwrapped ``data`` for single resources.
    """

    def __init__(
        self,
        client: asana.ApiClient,
        budget: RequestBudget | None = None,
        *,
        acquire_timeout: float = 30.0,
    ):
        if not isinstance(client, _ApiClient):
            raise TypeError("AsanaApi needs a client built by asana_client()")
        self.client = client
        self.budget = budget
        self.acquire_timeout = acquire_timeout
        self.requests = 0  # HTTP requests made (each page counts), for SyncRun.api_calls
        client.before_request = self._before_request

    def _before_request(self) -> None:
        if self.budget is not None:
            self.budget.acquire(self.acquire_timeout)
        self.requests += 1

    def api(self, cls: type) -> Any:
        """An SDK API class bound to this client, e.g. ``api.api(asana.TasksApi)``."""
        return cls(self.client)

    def call(self, fn: Callable[..., Any], *args: Any, **opts: Any) -> Any:
        kwargs = {k: opts.pop(k) for k in list(opts) if k in SDK_KWARGS}
        query = {k: _opt_value(v) for k, v in opts.items() if v is not None}
        try:
            result = fn(*args, query, **kwargs)
            if isinstance(result, types.GeneratorType):  # a listing: fetch every page now
                result = list(result)
            return result
        except ApiException as exc:
            raise self._map(exc) from exc
        except urllib3.exceptions.HTTPError as exc:
            # Timeouts, refused connections, dropped connections (MaxRetryError wraps them).
            reason = getattr(exc, "reason", None) or exc
            raise Transient(f"Asana request failed: {type(reason).__name__}") from exc

    def _map(self, exc: ApiException) -> AsanaError:
        status = exc.status or 0
        message, body = _error_message(exc)
        if status == 429:
            retry_after = _retry_after(exc)
            if self.budget is not None:
                self.budget.pause_until(retry_after)
            return RateLimited(retry_after, message, status=status, body=body)
        if status in (401, 403):
            return ConnectionBroken(message, status=status, body=body)
        if status == 402:
            return PaymentRequired(message, status=status, body=body)
        if status == 404:
            return NotFound(message, status=status, body=body)
        if status == 0 or status >= 500:
            return Transient(message, status=status or None, body=body)
        return AsanaError(message, status=status, body=body)


_clients: dict[tuple[str, str], asana.ApiClient] = {}


def api_from_settings(*, acquire_timeout: float = 30.0) -> AsanaApi:
    """The configured connection (``ASANA_*`` settings) under the shared per-token budget.

    ``acquire_timeout``: how long a request may wait for the budget before
    ``BudgetExhausted`` (Celery tasks retry later; a command in the foreground waits longer).
    One SDK client per process and (token, base URL), built on first use, so each worker
    child builds its own after fork. Raises :class:`NotConfigured` when the token or the
    workspace is missing."""
    import redis
    from django.conf import settings

    token, base_url = settings.ASANA_ACCESS_TOKEN, settings.ASANA_BASE_URL
    if not token or not settings.ASANA_WORKSPACE_GID:
        raise NotConfigured(
            "Asana is not configured: set ASANA_ACCESS_TOKEN and ASANA_WORKSPACE_GID."
        )
    client = _clients.get((token, base_url))
    if client is None:
        client = _clients[(token, base_url)] = asana_client(token=token, base_url=base_url)
    budget = RequestBudget.for_token(
        redis.Redis.from_url(settings.REDIS_URL), token, settings.ASANA_REQUESTS_PER_MINUTE
    )
    return AsanaApi(client, budget, acquire_timeout=acquire_timeout)
