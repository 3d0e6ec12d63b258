"""The sandbox as a server: Bearer auth and scopes, HubSpot's rate limits, faults, HTTP.

Order of checks for every request, as HubSpot's edge applies them: authentication (401),
scopes (403), then the limits: search requests count against the account's 5/s search limit
and carry no rate-limit headers; everything else counts against the app's rolling 10-second
window and the account's daily quota and carries ``X-HubSpot-RateLimit-*`` headers (no
``Daily`` headers for OAuth tokens). Then hooks run, injected faults fire, and the handler
answers.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from .api import CrmApi, canonical_path, is_search, parse_json, required_scopes
from .store import DEFAULT_START
from .wire import (
    HubSpotError,
    correlation_id,
    expired,
    missing_scopes,
    ms_of,
    rate_limited,
    server_error,
    unauthenticated,
)

WINDOW_SECONDS = 10.0


class LoggedRequest(NamedTuple):
    """One request the sandbox answered; ``path`` is the canonical v3/v4 path."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    token: str | None


@dataclass
class Token:
    token: str
    app_id: int
    scopes: frozenset[str] | None  # None: every scope
    oauth: bool
    expires_ms: int | None
    requests_per_10s: int | None


@dataclass
class _Fault:
    status: int | None
    path: str | None
    method: str | None
    skip: int
    retry_after: int | None = None
    body: Any = None
    delay: float = 0.0


@dataclass
class _Hook:
    callback: Callable[[Any], None]
    path: str | None
    method: str | None
    skip: int


def _matches(path: str, method: str, want_path: str | None, want_method: str | None) -> bool:
    if want_method is not None and want_method.upper() != method:
        return False
    if want_path is None:
        return True
    want = canonical_path(want_path)
    return path == want or path.startswith(want.rstrip("/") + "/")


class HubSpotSandbox(CrmApi):
    """A HubSpot portal behind a real HTTP server. See the package docstring."""

    def __init__(
        self,
        token: str = "sandbox-token",  # noqa: S107 - a fake server's fake token
        requests_per_10s: int = 100,
        daily_limit: int = 250_000,
        search_per_second: int = 5,
        retry_after: bool = False,
        search_lag: float = 0.0,
        start: datetime | None = DEFAULT_START,
        timezone: str = "UTC",
        scopes: frozenset[str] | set[str] | None = None,
        oauth: bool = False,
        app_id: int = 1_000_001,
        portal_id: int = 4_100_001,
        merged_reads: str = "survivor",
        archive_retention_days: int = 90,
        strict_list_limit: bool = False,
        association_ids_as_numbers: bool = False,
        association_page_size: int = 500,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        super().__init__(
            start=start,
            search_lag=search_lag,
            archive_retention_days=archive_retention_days,
            merged_reads=merged_reads,
            portal_id=portal_id,
        )
        self.token = token
        self.requests_per_10s = requests_per_10s
        self.daily_limit = daily_limit
        self.search_per_second = search_per_second
        self.retry_after = retry_after
        self.timezone = ZoneInfo(timezone)
        self.app_id = app_id
        self.strict_list_limit = strict_list_limit
        self.association_ids_as_numbers = association_ids_as_numbers
        self.association_page_size = association_page_size
        self.request_log: list[LoggedRequest] = []
        self.errors: list[Exception] = []  # exceptions the handler raised (sandbox bugs)
        self._tokens: dict[str, Token] = {}
        self._revoked: set[str] = set()
        self._window: dict[int, list[float]] = {}  # app id -> request times (elapsed clock)
        self._search_hits: list[float] = []
        self._daily: dict[str, int] = {}  # account-local date -> requests
        self._faults: list[_Fault] = []
        self._hooks: list[_Hook] = []
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_token(token, scopes=scopes, oauth=oauth)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> HubSpotSandbox:
        class Handler(_Handler):
            sandbox = self

        server = ThreadingHTTPServer((self._host, self._port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self.base_url = f"http://{self._host}:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> HubSpotSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the sandbox first"
        return self._server.server_address[1]

    # ------------------------------------------------------------------ tokens
    def add_token(
        self,
        token: str,
        scopes: frozenset[str] | set[str] | None = None,
        oauth: bool = False,
        app_id: int | None = None,
        expires_at: datetime | None = None,
        requests_per_10s: int | None = None,
    ) -> None:
        """Accept another token: its app (own 10-second window), scopes (None: all), OAuth
        mode (no daily headers) and expiry (then 401 EXPIRED_AUTHENTICATION)."""
        with self._lock:
            self._tokens[token] = Token(
                token,
                app_id if app_id is not None else self.app_id,
                frozenset(scopes) if scopes is not None else None,
                oauth,
                ms_of(expires_at) if expires_at is not None else None,
                requests_per_10s,
            )
            self._revoked.discard(token)

    def revoke_token(self, token: str | None = None) -> None:
        """Requests with the token answer 401 INVALID_AUTHENTICATION from now on."""
        with self._lock:
            self._revoked.add(token or self.token)

    def expire_token(self, token: str | None = None, at: datetime | None = None) -> None:
        """The OAuth token expired at ``at`` (default: now)."""
        with self._lock:
            self._tokens[token or self.token].expires_ms = ms_of(at or self.now)

    # ------------------------------------------------------------------ faults and hooks
    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        path: str | None = None,
        after: int = 0,
        method: str | None = None,
        retry_after: int | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``n`` authorised requests (to ``path`` and below, when given) with
        ``status``, after letting ``after`` of them through. A 429 gets the ten-secondly body
        unless ``body`` says otherwise; ``retry_after`` adds the header."""
        with self._lock:
            self._faults.extend(
                _Fault(status, path, method, after, retry_after, body) for _ in range(n)
            )

    def slow_next(
        self,
        n: int = 1,
        seconds: float = 5.0,
        path: str | None = None,
        after: int = 0,
        method: str | None = None,
    ) -> None:
        """Hold the next ``n`` matching answers for ``seconds`` (longer than a client's
        timeout, to make it give up)."""
        with self._lock:
            self._faults.extend(_Fault(None, path, method, after, delay=seconds) for _ in range(n))

    def before_request(
        self,
        callback: Callable[[HubSpotSandbox], None],
        path: str | None = None,
        after: int = 0,
        method: str | None = None,
    ) -> None:
        """Call ``callback(sandbox)`` once, just before the matching request after ``after``
        others is answered: a record updated mid-sync, between two pages."""
        with self._lock:
            self._hooks.append(_Hook(callback, path, method, after))

    def reset_limits(self) -> None:
        with self._lock:
            self._window.clear()
            self._search_hits.clear()
            self._daily.clear()

    def calls(self, path: str | None = None, method: str | None = None) -> list[LoggedRequest]:
        """Logged requests to ``path`` (canonical, and below it), optionally one method."""
        with self._lock:
            return [r for r in self.request_log if _matches(r.path, r.method, path, method)]

    def _take(self, items: list, method: str, path: str) -> list:
        taken = []
        for item in list(items):
            if not _matches(path, method, item.path, item.method):
                continue
            if item.skip:
                item.skip -= 1
                continue
            items.remove(item)
            taken.append(item)
            if isinstance(item, _Fault):
                break  # one fault per request
        return taken

    # ------------------------------------------------------------------ limits
    def _account_day(self) -> str:
        return self.now.astimezone(self.timezone).date().isoformat()

    def _seconds_to_midnight(self) -> int:
        local = self.now.astimezone(self.timezone)
        midnight = datetime.combine(
            local.date() + timedelta(days=1), datetime.min.time(), self.timezone
        )
        return max(1, math.ceil((midnight - local).total_seconds()))

    def _spend(self, token: Token, search: bool) -> dict[str, str]:
        """Count one request against the limits; the rate-limit headers, or a 429."""
        now = self._elapsed()
        day = self._account_day()
        used_today = self._daily.get(day, 0)
        burst = token.requests_per_10s or self.requests_per_10s
        hits = [t for t in self._window.get(token.app_id, []) if t > now - WINDOW_SECONDS]
        self._window[token.app_id] = hits
        headers: dict[str, str] = {}
        if not search:
            headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_SECONDS * 1000)),
                "X-HubSpot-RateLimit-Max": str(burst),
                "X-HubSpot-RateLimit-Secondly": str(max(1, burst // 10)),
            }
        if used_today >= self.daily_limit:
            if not search and not token.oauth:
                headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = "0"
            wait = self._seconds_to_midnight() if self.retry_after else None
            raise rate_limited("DAILY", None, wait, headers)
        if search:
            self._search_hits = [t for t in self._search_hits if t > now - 1.0]
            if len(self._search_hits) >= self.search_per_second:
                wait = math.ceil(self._search_hits[0] + 1.0 - now) if self.retry_after else None
                group = f"publicapi:crm-search-secondly:{self.portal_id}"  # UNVERIFIED name
                raise rate_limited("SECONDLY", group, wait, {})
            self._search_hits.append(now)
            self._daily[day] = used_today + 1
            return {}
        if len(hits) >= burst:
            headers["X-HubSpot-RateLimit-Remaining"] = "0"
            headers["X-HubSpot-RateLimit-Secondly-Remaining"] = "0"
            wait = max(1, math.ceil(hits[0] + WINDOW_SECONDS - now)) if self.retry_after else None
            kind = "oauth" if token.oauth else "private_app"
            group = f"publicapi:{kind}-api-calls-ten-secondly:{token.app_id}:{self.portal_id}"
            raise rate_limited("TEN_SECONDLY_ROLLING", group, wait, headers)
        hits.append(now)
        self._daily[day] = used_today + 1
        last_second = sum(1 for t in hits if t > now - 1.0)
        headers["X-HubSpot-RateLimit-Remaining"] = str(burst - len(hits))
        headers["X-HubSpot-RateLimit-Secondly-Remaining"] = str(
            max(0, max(1, burst // 10) - last_second)
        )
        if not token.oauth:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(self.daily_limit - used_today - 1)
        return headers

    # ------------------------------------------------------------------ request handling
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body bytes). Used by the HTTP handler."""
        split = urlsplit(raw_path)
        path = canonical_path(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        auth = headers.get("authorization", "")
        token_text = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        extra: dict[str, str] = {}
        body: Any = None
        try:
            body = parse_json(raw_body)
        except HubSpotError as exc:
            body, bad_json = None, exc
        else:
            bad_json = None
        try:
            with self._lock:
                token = self._authenticate(token_text)
                scopes = required_scopes(method, path)
                if scopes is None:
                    raise HubSpotError(404, None)
                if token.scopes is not None and not set(scopes) <= token.scopes:
                    raise missing_scopes(scopes)
                extra = self._spend(token, is_search(method, path))
                hooks = self._take(self._hooks, method, path)
                faults = self._take(self._faults, method, path)
            for hook in hooks:
                hook.callback(self)
            for fault in faults:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status is not None:
                    raise self._fault_error(fault, extra)
            if bad_json is not None:
                raise bad_json
            with self._lock:
                status, payload = self._route(method, path, query, body)
        except HubSpotError as exc:
            status, payload = exc.status, exc.body
            extra = {**extra, **exc.headers}
        with self._lock:
            self.request_log.append(LoggedRequest(method, path, query, body, status, token_text))
        if isinstance(payload, str):
            raw = payload.encode()
            extra.setdefault("Content-Type", "text/html;charset=utf-8")
        else:
            raw = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        extra.setdefault("Content-Type", "application/json;charset=utf-8")
        extra["x-hubspot-correlation-id"] = (
            payload.get("correlationId", correlation_id())
            if isinstance(payload, dict)
            else correlation_id()
        )
        return status, extra, raw

    def _authenticate(self, token_text: str | None) -> Token:
        token = self._tokens.get(token_text or "")
        if token is None or token.token in self._revoked:
            raise unauthenticated()
        now = self._now_ms()
        if token.expires_ms is not None and token.expires_ms <= now:
            raise expired(token.expires_ms, now)
        return token

    def _fault_error(self, fault: _Fault, headers: dict[str, str]) -> HubSpotError:
        status = fault.status or 500
        if status == 429 and fault.body is None:
            group = f"publicapi:private_app-api-calls-ten-secondly:{self.app_id}:{self.portal_id}"
            error = rate_limited("TEN_SECONDLY_ROLLING", group, fault.retry_after, headers)
            return error
        out = dict(headers)
        if fault.retry_after is not None:
            out["Retry-After"] = str(fault.retry_after)
        body = fault.body if fault.body is not None else server_error(status)
        return HubSpotError(status, body, out)


class _Handler(BaseHTTPRequestHandler):
    sandbox: HubSpotSandbox
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK holds the
    # body ~40 ms, which would dominate every benchmark against the sandbox.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, extra, raw = self.sandbox.handle(self.command, self.path, headers, body)
        except Exception as exc:  # a sandbox bug: answer 500 and keep it for the test to see
            self.sandbox.errors.append(exc)
            status, extra, raw = 500, {}, repr(exc).encode()
        try:
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a slow_next fault)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def serve(sandbox: HubSpotSandbox, until: Callable[[], bool] | None = None) -> None:
    """Run a started sandbox until interrupted (for ``python -m`` or a management command)."""
    try:
        while until is None or not until():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
