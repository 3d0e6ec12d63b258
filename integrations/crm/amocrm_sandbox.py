"""A local amoCRM: an HTTP server speaking amoCRM's API v4 for the endpoints the CRM sync reads.

Standard library only and no Django, so it runs in a thread of a test or as its own process.
It follows the amoCRM part of section 4.1 of the CRM notes (``shared/docs/notes/crm-api.md``):
Bearer auth with problem+json errors and a 403 for a whitelist miss; ``application/hal+json``
pages with ``_page``, full-URL ``_links`` and ``_embedded``, and 204 with no body for an empty
page; ``limit``/``page``/``order[...]``/``filter[...]``/``with`` spelled as amoCRM spells them;
leads whose pipelines all hold statuses 142 (won) and 143 (lost); notes per entity type, tasks,
entity links and the events stream; more than 7 requests a second answered 429, repeated 429s
turned into a 403 IP block; an "alpha filters off" mode; unsigned form-encoded webhooks.

    with AmoCRMSandbox(token="t") as amo:
        ann = amo.add_user("Ann", "ann@agency.test")
        acme = amo.add_company("Acme", web="acme.test")
        lead = amo.add_lead("Website", price=5000, company=acme, responsible_user_id=ann)
        amo.add_call("leads", lead, direction="out", duration=120)
        amo.advance(3600)
        amo.close_lead(lead, won=True)
        # point AMOCRM_BASE_URL at amo.base_url (any Host header is accepted)

Everything lives in memory on the instance; arrange helpers and the HTTP handler share one
lock. Record times come from a settable clock (``now``/``advance``) in unix seconds, as amoCRM
sends them; the rate limiter and the IP block run on real time shifted by ``advance``.

Where the notes mark a behaviour UNVERIFIED, the sandbox picks the documented (or most
plausible) one and says so beside the code; the choices that change a client's logic are
constructor switches (``rate_limit_body``, ``over_limit``, ``next_link``, ``alpha_filters``,
``events_newest_first``, the block's thresholds).
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

API_PREFIX = "/api/v4"
DEFAULT_START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
ACCOUNT_ID = 31_000_001
WON_STATUS, LOST_STATUS = 142, 143
DEFAULT_LIMIT = 50  # UNVERIFIED default; every client here sends limit explicitly
MAX_LIMIT = 250
MAX_EVENTS_LIMIT = 100
MAX_EVENT_ENTITY_IDS = 10
RATE_LIMIT_PER_SECOND = 7
NOTE_ENTITIES = ("leads", "contacts", "companies")
SINGULAR = {"leads": "lead", "contacts": "contact", "companies": "company", "tasks": "task"}
TASK_CALL, TASK_MEETING = 1, 2
# call_status in a call note's params, as amoCRM's call docs number them.
CALL_LEFT_MESSAGE, CALL_BACK_LATER, CALL_NOT_AVAILABLE, CALL_ANSWERED = 1, 2, 3, 4
CALL_WRONG_NUMBER, CALL_NO_ANSWER, CALL_BUSY = 5, 6, 7
FIELD_PHONE, FIELD_EMAIL, FIELD_WEB = 1_100_001, 1_100_003, 1_100_005
OPEN_STATUSES = ("First contact", "Negotiation", "Decision making")
# amoCRM's documented retry schedule for a webhook: 5 min, 15 min, 15 min, 1 h [via SEC2].
WEBHOOK_RETRY_DELAYS = (300, 900, 900, 3600)
WEBHOOK_FAILURE_WINDOW = 2 * 3600
NGINX_PAGE = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
# The event types the sandbox writes. The names are Kommo's published list; ``entity_merged``
# is not in the part of it we could read (UNVERIFIED, like every delete type per the notes).
EVENT_TYPES = {
    "lead_added": "New lead",
    "lead_deleted": "Lead deleted",
    "lead_restored": "Lead restored",
    "lead_status_changed": "Lead status changed",
    "contact_added": "New contact",
    "contact_deleted": "Contact deleted",
    "contact_restored": "Contact restored",
    "company_added": "New company",
    "company_deleted": "Company deleted",
    "company_restored": "Company restored",
    "task_added": "New task",
    "task_deleted": "Task deleted",
    "task_completed": "Task completed",
    "incoming_call": "Incoming call",
    "outgoing_call": "Outgoing call",
    "incoming_mail": "Incoming email",
    "outgoing_mail": "Outgoing email",
    "incoming_sms": "Incoming SMS",
    "outgoing_sms": "Outgoing SMS",
    "incoming_chat_message": "Incoming chat message",
    "outgoing_chat_message": "Outgoing chat message",
    "sale_field_changed": "Sale field changed",
    "name_field_changed": "Name field changed",
    "entity_responsible_changed": "Responsible user changed",
    "common_note_added": "Note added",
    "service_note_added": "Service note added",
    "entity_merged": "Entities merged",
}
NOTE_EVENTS = {
    "call_in": "incoming_call",
    "call_out": "outgoing_call",
    "sms_in": "incoming_sms",
    "sms_out": "outgoing_sms",
    "common": "common_note_added",
    "service_message": "service_note_added",
}


class ApiError(Exception):
    """Raised inside the handler to answer with amoCRM's problem+json (or a raw body)."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        validation: list[dict[str, str]] | None = None,
        body: bytes | None = None,
        content_type: str = "application/problem+json",
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.validation = validation
        self.body = body
        self.content_type = content_type

    def render(self) -> bytes:
        if self.body is not None:
            return self.body
        problem: dict[str, Any] = {
            "title": HTTPStatus(self.status).phrase,
            "type": f"https://httpstatus.es/{self.status}",
            "status": self.status,
            "detail": self.detail,
        }
        if self.validation:
            problem["validation-errors"] = [{"request_id": "0", "errors": self.validation}]
        return json.dumps(problem, ensure_ascii=False).encode()


def invalid(path: str, detail: str, code: str = "InvalidType") -> ApiError:
    """A 400 with amoCRM's ``validation-errors`` list naming the bad parameter."""
    return ApiError(
        400,
        "Request validation failed",
        validation=[{"code": code, "path": path, "detail": detail}],
    )


class LoggedRequest(NamedTuple):
    """One request the sandbox answered. ``path`` is relative to ``/api/v4``."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    token: str | None
    ip: str


@dataclass
class _Fault:
    status: int | None
    body: bytes | None = None
    delay: float = 0.0
    path: str | None = None  # only requests to this path (relative to /api/v4)
    skip: int = 0  # let this many matching requests through first


@dataclass
class _Hook:
    callback: Callable[[AmoCRMSandbox], Any]
    path: str | None
    skip: int
    times: int


@dataclass
class Webhook:
    """A webhook subscription: ``settings`` are amoCRM's names (``add_lead``, ``note_lead``...)."""

    id: int
    destination: str
    settings: list[str]
    created_at: int
    sort: int = 10
    disabled: bool = False
    failures: deque = field(default_factory=deque)  # sandbox times of invalid answers


@dataclass(eq=False)
class _Delivery:
    hook: Webhook
    body: bytes
    due_at: int
    attempts: int = 0


class _Table:
    """One collection: rows by id, and (sort value, id) keys kept sorted, live apart from deleted.

    Listings bisect these keys for ``filter[updated_at]`` and ``order[updated_at]``, so a page
    costs a slice, not a scan of every row.
    """

    def __init__(self, sort_field: str = "updated_at"):
        self.sort_field = sort_field
        self.rows: dict[int, dict[str, Any]] = {}
        self.live: list[tuple[int, int]] = []
        self.trash: list[tuple[int, int]] = []
        self.live_ids: list[int] = []
        self.version = 0

    def _keys(self, row: dict[str, Any]) -> list[tuple[int, int]]:
        return self.trash if row["_deleted"] else self.live

    def _index(self, row: dict[str, Any]) -> None:
        bisect.insort(self._keys(row), (row[self.sort_field], row["id"]))
        if not row["_deleted"]:
            if not self.live_ids or self.live_ids[-1] < row["id"]:
                self.live_ids.append(row["id"])
            else:
                bisect.insort(self.live_ids, row["id"])
        self.version += 1

    def _unindex(self, row: dict[str, Any]) -> None:
        keys = self._keys(row)
        del keys[bisect.bisect_left(keys, (row[self.sort_field], row["id"]))]
        if not row["_deleted"]:
            del self.live_ids[bisect.bisect_left(self.live_ids, row["id"])]
        self.version += 1

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        row.setdefault("_deleted", False)
        self.rows[row["id"]] = row
        self._index(row)
        return row

    def update(self, row: dict[str, Any], **values: Any) -> None:
        """Change fields, re-filing the row when its sort value or deleted flag moves."""
        self._unindex(row)
        row.update(values)
        self._index(row)

    def get(self, row_id: int, deleted: bool | None = False) -> dict[str, Any] | None:
        row = self.rows.get(row_id)
        if row is None or (deleted is not None and row["_deleted"] != deleted):
            return None
        return row


def parse_query(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style nesting: ``filter[updated_at][from]=1`` and ``filter[id][]=1`` become dicts and
    lists, the way amoCRM reads its query string."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        if not match:
            root[key] = value
            continue
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = None if last else parts[i + 1]
            if isinstance(node, list):
                if last:
                    node.append(value)
                else:
                    child: Any = [] if nxt == "" else {}
                    node.append(child)
                    node = child
                continue
            if last:
                node[part] = value
            else:
                child = node.get(part)
                want_list = nxt == ""
                if not isinstance(child, list if want_list else dict):
                    child = [] if want_list else {}
                    node[part] = child
                node = child
    return root


def _int(value: Any, path: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise invalid(path, "This value should be of type int")


def _values(value: Any) -> list[str]:
    """A filter value given as ``a,b``, ``[]=a&[]=b`` or ``[0]=a&[1]=b``, as strings."""
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, list):
        items = value
    else:
        items = str(value).split(",")
    return [str(v).strip() for v in items if isinstance(v, str) and v.strip() != ""]


def _ints(value: Any, path: str) -> list[int]:
    return [_int(v, path) for v in _values(value)]


def _range(value: Any, path: str) -> tuple[int | None, int | None]:
    """``ts`` (from ts on), ``a,b`` (from a to b) or ``[from]``/``[to]``; bounds inclusive.

    UNVERIFIED: the docs do not say whether the bounds are inclusive; inclusive is the choice
    that makes an overlapping watermark safe, so it is the one a client must tolerate.
    """
    if isinstance(value, dict):
        unknown = set(value) - {"from", "to"}
        if unknown:
            raise invalid(f"{path}.{sorted(unknown)[0]}", "This field was not expected")
        low, high = value.get("from"), value.get("to")
        return (
            None if low in (None, "") else _int(low, f"{path}.from"),
            None if high in (None, "") else _int(high, f"{path}.to"),
        )
    if isinstance(value, str):
        parts = [p for p in value.split(",") if p.strip()]
        if len(parts) == 1:
            return _int(parts[0], path), None
        if len(parts) == 2:
            return _int(parts[0], path), _int(parts[1], path)
    raise invalid(path, "This value should be a timestamp or a from/to range")


def _in_range(value: int | None, bounds: tuple[int | None, int | None]) -> bool:
    low, high = bounds
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _event_id(seq: int) -> str:
    """A 26-character lower-case id like amoCRM's event ids, sorting in creation order."""
    digits = []
    for _ in range(24):
        seq, rest = divmod(seq, 32)
        digits.append(CROCKFORD[rest])
    return "01" + "".join(reversed(digits))


def _custom_field(field_id: int, code: str, name: str, value: str) -> dict[str, Any]:
    kind = "url" if code == "WEB" else "multitext"
    values: dict[str, Any] = {"value": value}
    if kind == "multitext":
        values["enum_code"] = "WORK"
    return {
        "field_id": field_id,
        "field_name": name,
        "field_code": code,
        "field_type": kind,
        "values": [values],
    }


class AmoCRMSandbox:
    """An in-memory amoCRM account behind a real HTTP server. See the module docstring."""

    def __init__(
        self,
        token: str = "sandbox-token",  # noqa: S107 - a fake server's fake token
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        start: datetime = DEFAULT_START,
        subdomain: str = "sandbox",
        timezone: str = "Europe/Moscow",
        requests_per_second: int | None = RATE_LIMIT_PER_SECOND,
        block_after: int = 10,
        block_window: float = 60.0,
        block_seconds: float = 600.0,
        rate_limit_body: str = "html",
        over_limit: str = "clamp",
        next_link: str = "when_full",
        alpha_filters: bool = True,
        events_newest_first: bool = True,
        allowed_ips: Iterable[str] | None = None,
        webhook_timeout: float = 2.0,
        webhook_retry_delays: Iterable[int] = WEBHOOK_RETRY_DELAYS,
        webhook_max_failures: int = 100,
        admin_name: str = "Sandbox Admin",
        admin_email: str = "admin@sandbox.test",
    ):
        """Switches (each UNVERIFIED against the real service, hence a switch):

        - ``requests_per_second``: served requests per rolling second per client IP before a
          429 (None: no limit). Whether amoCRM counts per IP or per token is unknown; per IP
          matches the IP block.
        - ``block_after`` 429s within ``block_window`` seconds block the IP for
          ``block_seconds``: every request then gets 403, whatever its token or path.
        - ``rate_limit_body``: ``"html"`` (an nginx page, the non-JSON body amoCRM's PHP
          library expects), ``"json"`` (problem+json) or ``"empty"``.
        - ``over_limit``: a ``limit`` above 250 (events: 100) is ``"clamp"``-ed or an
          ``"error"`` (400).
        - ``next_link``: ``"when_full"`` gives ``_links.next`` on every full page, so the last
          one leads to a 204; ``"exact"`` only when more records exist.
        - ``alpha_filters=False``: ``filter[updated_at]`` on leads, contacts and companies is
          ignored (the filters page still calls filtering "alpha, limited accounts").
        - ``events_newest_first``: the events list's order (no ``order`` parameter exists).
        - ``allowed_ips``: the account's IP whitelist; a miss is 403 (amoCRM error 113).
        """
        for name, value, choices in (
            ("rate_limit_body", rate_limit_body, ("html", "json", "empty")),
            ("over_limit", over_limit, ("clamp", "error")),
            ("next_link", next_link, ("when_full", "exact")),
        ):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, not {value!r}")
        self.token = token
        self.subdomain = subdomain
        self.timezone = timezone
        self.requests_per_second = requests_per_second
        self.block_after = block_after
        self.block_window = block_window
        self.block_seconds = block_seconds
        self.rate_limit_body = rate_limit_body
        self.over_limit = over_limit
        self.next_link = next_link
        self.alpha_filters = alpha_filters
        self.events_newest_first = events_newest_first
        self.allowed_ips = set(allowed_ips) if allowed_ips is not None else None
        self.webhook_timeout = webhook_timeout
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_max_failures = webhook_max_failures
        self.request_log: list[LoggedRequest] = []
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._now = start
        self._skew = 0.0
        self._ids = {
            "user": 5_000_000,
            "pipeline": 7_000_000,
            "status": 40_000_000,
            "lead": 20_000_000,
            "company": 30_000_000,
            "contact": 35_000_000,
            "note": 100_000_000,
            "task": 60_000_000,
            "webhook": 900_000,
            "event": 0,
        }
        self._users = _Table()
        self._pipelines: dict[int, dict[str, Any]] = {}
        self._leads = _Table()
        self._companies = _Table()
        self._contacts = _Table()
        self._notes = {entity: _Table() for entity in NOTE_ENTITIES}
        self._note_entity: dict[int, str] = {}  # note id -> entity type
        self._notes_of: dict[tuple[str, int], list[int]] = {}
        self._tasks = _Table()
        self._events = _Table(sort_field="created_at")
        self._event_seq: dict[str, int] = {}
        self._leads_of_company: dict[int, set[int]] = {}
        self._contacts_of_company: dict[int, set[int]] = {}
        self._leads_of_contact: dict[int, set[int]] = {}
        self._cache: dict[tuple, tuple[int, list[int]]] = {}
        self._faults: list[_Fault] = []
        self._hooks: list[_Hook] = []
        self._tokens: set[str] = {token}
        self._revoked: set[str] = set()
        self._hits: dict[str, deque] = {}
        self._strikes: dict[str, deque] = {}
        self._blocked_until: dict[str, float] = {}
        self.webhooks: dict[int, Webhook] = {}
        self._deliveries: list[_Delivery] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.admin = self.add_user(admin_name, admin_email, is_admin=True)
        self.main_pipeline = self.add_pipeline("Sales", is_main=True)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> AmoCRMSandbox:
        class Handler(_Handler):
            sandbox = self

        server = ThreadingHTTPServer((self._host, self._port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
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

    def __enter__(self) -> AmoCRMSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the sandbox first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The account's origin, as ``https://{subdomain}.amocrm.ru`` would be (no ``/api/v4``)."""
        return f"http://{self._host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    # ----------------------------------------------------------------- clock
    @property
    def now(self) -> datetime:
        with self._lock:
            return self._now

    @now.setter
    def now(self, value: datetime) -> None:
        with self._lock:
            value = value if value.tzinfo else value.replace(tzinfo=UTC)
            self._skew += (value - self._now).total_seconds()
            self._now = value

    @property
    def timestamp(self) -> int:
        """The clock in unix seconds, the unit of every amoCRM time field."""
        with self._lock:
            return int(self._now.timestamp())

    def advance(self, seconds: float) -> datetime:
        """Move the clock on; the rate limiter's window and the IP block move with it."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._skew += seconds
            return self._now

    def _ts(self, at: datetime | int | None) -> int:
        if at is None:
            return int(self._now.timestamp())
        if isinstance(at, datetime):
            return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp())
        return int(at)

    # ----------------------------------------------------------------- faults and switches
    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        path: str | None = None,
        after: int = 0,
        body: bytes | None = None,
    ) -> None:
        """Answer the next ``n`` authorised requests with ``status`` (500, 502, 503, 504...);
        with ``path`` (relative to /api/v4, e.g. ``"/leads"``) only requests to it, after
        letting ``after`` of them through. 502-504 carry nginx's HTML page, as a proxy would."""
        with self._lock:
            # Only the first of the batch waits: ``after`` pass, then ``n`` in a row fail.
            self._faults.extend(
                _Fault(status, body=body, path=path, skip=after if i == 0 else 0) for i in range(n)
            )

    def slow_next(
        self, n: int = 1, seconds: float = 1.0, *, path: str | None = None, after: int = 0
    ) -> None:
        """Delay the next ``n`` authorised requests by ``seconds``, then answer normally."""
        with self._lock:
            self._faults.extend(
                _Fault(None, delay=seconds, path=path, skip=after if i == 0 else 0)
                for i in range(n)
            )

    def on_request(
        self,
        callback: Callable[[AmoCRMSandbox], Any],
        *,
        path: str | None = None,
        after: int = 0,
        times: int = 1,
    ) -> None:
        """Call ``callback(sandbox)`` once a matching request has been answered successfully,
        before its response is sent, so the client's next request sees the change: a record
        updated mid-sync. Skips ``after`` matching requests first; fires ``times`` times."""
        with self._lock:
            self._hooks.append(_Hook(callback, path, after, times))

    def add_token(self, token: str) -> None:
        """Accept another token (a second integration, or a refreshed one)."""
        with self._lock:
            self._tokens.add(token)
            self._revoked.discard(token)

    def revoke_token(self, token: str | None = None) -> None:
        """Requests with the token answer 401 from now on."""
        with self._lock:
            self._revoked.add(token or self.token)

    def block_ip(self, ip: str = "127.0.0.1", seconds: float | None = None) -> None:
        """Block an IP as repeated 429s would: every request 403 for ``seconds``."""
        with self._lock:
            moment = time.monotonic() + self._skew
            self._blocked_until[ip] = moment + (seconds or self.block_seconds)

    def unblock(self) -> None:
        with self._lock:
            self._blocked_until.clear()
            self._strikes.clear()
            self._hits.clear()

    def blocked(self, ip: str = "127.0.0.1") -> bool:
        with self._lock:
            return self._blocked_until.get(ip, 0) > time.monotonic() + self._skew

    def calls(self, path: str | None = None, method: str = "GET") -> list[LoggedRequest]:
        """Logged requests, optionally those to ``path`` exactly (relative to /api/v4)."""
        with self._lock:
            return [
                r
                for r in self.request_log
                if r.method == method and (path is None or r.path.rstrip("/") == path)
            ]

    # ----------------------------------------------------------------- arrange: users, pipelines
    def _next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def add_user(
        self, name: str, email: str, *, is_admin: bool = False, is_active: bool = True
    ) -> int:
        """A user of the account (amoCRM's deal owners); ``is_active=False`` is a deactivated
        one, still listed."""
        with self._lock:
            user_id = self._next_id("user")
            self._users.add(
                {
                    "id": user_id,
                    "name": name,
                    "email": email,
                    "is_admin": is_admin,
                    "is_active": is_active,
                    "updated_at": user_id,  # users have no times; file them by id
                }
            )
            return user_id

    def add_pipeline(
        self, name: str, *, statuses: Iterable[str] = OPEN_STATUSES, is_main: bool = False
    ) -> int:
        """A pipeline: an unsorted status, the given open ones, then 142 and 143 (the same
        ids in every pipeline, as in amoCRM)."""
        with self._lock:
            pipeline_id = self._next_id("pipeline")
            rows = [(self._next_id("status"), "Incoming leads", 1, False)]
            rows += [(self._next_id("status"), s, 0, True) for s in statuses]
            rows += [
                (WON_STATUS, "Closed - won", 0, False),
                (LOST_STATUS, "Closed - lost", 0, False),
            ]
            self._pipelines[pipeline_id] = {
                "id": pipeline_id,
                "name": name,
                "sort": 10 * (len(self._pipelines) + 1),
                "is_main": is_main,
                "is_unsorted_on": True,
                "is_archive": False,
                "statuses": [
                    {
                        "id": status_id,
                        "name": status_name,
                        "sort": 10 * (i + 1)
                        if status_id not in (WON_STATUS, LOST_STATUS)
                        else 10_000 + (status_id - WON_STATUS) * 1_000,
                        "is_editable": editable,
                        "pipeline_id": pipeline_id,
                        "color": "#99ccff",
                        "type": status_type,
                        "account_id": ACCOUNT_ID,
                    }
                    for i, (status_id, status_name, status_type, editable) in enumerate(rows)
                ],
            }
            return pipeline_id

    def open_status(self, pipeline_id: int | None = None) -> int:
        """The first open (not unsorted, not closed) status of a pipeline."""
        with self._lock:
            statuses = self._pipelines[pipeline_id or self.main_pipeline]["statuses"]
            return next(s["id"] for s in statuses if s["is_editable"])

    # ----------------------------------------------------------------- arrange: companies, contacts
    def add_company(
        self,
        name: str,
        *,
        web: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        custom_fields_values: list[dict[str, Any]] | None = None,
        responsible_user_id: int | None = None,
        at: datetime | int | None = None,
    ) -> int:
        """A company; ``web``/``phone``/``email`` become the standard WEB/PHONE/EMAIL fields."""
        with self._lock:
            moment = self._ts(at)
            fields = list(custom_fields_values or [])
            for value, field_id, code, label in (
                (web, FIELD_WEB, "WEB", "Web"),
                (phone, FIELD_PHONE, "PHONE", "Phone"),
                (email, FIELD_EMAIL, "EMAIL", "Email"),
            ):
                if value:
                    fields.append(_custom_field(field_id, code, label, value))
            row = self._companies.add(
                {
                    "id": self._next_id("company"),
                    "name": name,
                    "responsible_user_id": responsible_user_id or self.admin,
                    "created_by": self.admin,
                    "updated_by": self.admin,
                    "created_at": moment,
                    "updated_at": moment,
                    "custom_fields_values": fields or None,
                }
            )
            self._event("company_added", "company", row["id"], moment)
            self._changed("company", "add", row)
            return row["id"]

    def add_contact(
        self,
        name: str,
        *,
        company: int | None = None,
        email: str | None = None,
        phone: str | None = None,
        responsible_user_id: int | None = None,
        at: datetime | int | None = None,
    ) -> int:
        """A contact, linked to at most one company (amoCRM's rule)."""
        with self._lock:
            moment = self._ts(at)
            first, _, last = name.partition(" ")
            fields = [
                _custom_field(field_id, code, label, value)
                for value, field_id, code, label in (
                    (phone, FIELD_PHONE, "PHONE", "Phone"),
                    (email, FIELD_EMAIL, "EMAIL", "Email"),
                )
                if value
            ]
            row = self._contacts.add(
                {
                    "id": self._next_id("contact"),
                    "name": name,
                    "first_name": first,
                    "last_name": last,
                    "responsible_user_id": responsible_user_id or self.admin,
                    "created_by": self.admin,
                    "updated_by": self.admin,
                    "created_at": moment,
                    "updated_at": moment,
                    "custom_fields_values": fields or None,
                    "_company": None,
                }
            )
            self._set_contact_company(row, company)
            self._event("contact_added", "contact", row["id"], moment)
            self._changed("contact", "add", row)
            return row["id"]

    def _set_contact_company(self, row: dict[str, Any], company: int | None) -> None:
        if company is not None:
            self._live(self._companies, company, "company")
        if row["_company"] is not None:
            self._contacts_of_company[row["_company"]].discard(row["id"])
        row["_company"] = company
        if company is not None:
            self._contacts_of_company.setdefault(company, set()).add(row["id"])

    # ----------------------------------------------------------------- arrange: leads
    def add_lead(
        self,
        name: str,
        *,
        price: int = 0,
        company: int | None = None,
        contacts: Iterable[int] = (),
        responsible_user_id: int | None = None,
        pipeline_id: int | None = None,
        status_id: int | None = None,
        at: datetime | int | None = None,
    ) -> int:
        """An open lead (deal) in the main pipeline's first open status unless told otherwise."""
        with self._lock:
            moment = self._ts(at)
            pipeline_id = pipeline_id or self.main_pipeline
            status_id = status_id or self.open_status(pipeline_id)
            row = self._leads.add(
                {
                    "id": self._next_id("lead"),
                    "name": name,
                    "price": int(price),
                    "responsible_user_id": responsible_user_id or self.admin,
                    "status_id": status_id,
                    "pipeline_id": pipeline_id,
                    "loss_reason_id": None,
                    "created_by": self.admin,
                    "updated_by": self.admin,
                    "created_at": moment,
                    "updated_at": moment,
                    "closed_at": moment if status_id in (WON_STATUS, LOST_STATUS) else None,
                    "_company": None,
                    "_contacts": [],
                }
            )
            self._set_lead_links(row, company, list(contacts))
            self._event(
                "lead_added",
                "lead",
                row["id"],
                moment,
                after=[{"lead_status": {"id": status_id, "pipeline_id": pipeline_id}}],
            )
            self._changed("lead", "add", row)
            return row["id"]

    def _set_lead_links(self, row: dict[str, Any], company: int | None, contacts: list) -> None:
        if company is not None:
            self._live(self._companies, company, "company")
        for contact in contacts:
            self._live(self._contacts, contact, "contact")
        if row["_company"] is not None:
            self._leads_of_company[row["_company"]].discard(row["id"])
        for contact in row["_contacts"]:
            self._leads_of_contact[contact].discard(row["id"])
        row["_company"] = company  # amoCRM: a lead has at most one company
        row["_contacts"] = list(dict.fromkeys(contacts))  # the first is the main contact
        if company is not None:
            self._leads_of_company.setdefault(company, set()).add(row["id"])
        for contact in row["_contacts"]:
            self._leads_of_contact.setdefault(contact, set()).add(row["id"])

    def close_lead(
        self,
        lead: int,
        *,
        won: bool = True,
        at: datetime | int | None = None,
        loss_reason_id: int | None = None,
    ) -> None:
        """Move a lead to 142 (won) or 143 (lost) with ``closed_at`` (default: now)."""
        fields: dict[str, Any] = {"status_id": WON_STATUS if won else LOST_STATUS}
        if loss_reason_id is not None:
            fields["loss_reason_id"] = loss_reason_id
        self.edit("lead", lead, at=at, **fields)

    # ----------------------------------------------------------------- arrange: notes, tasks
    def add_note(
        self,
        entity_type: str,
        entity_id: int,
        note_type: str = "common",
        params: dict[str, Any] | None = None,
        *,
        responsible_user_id: int | None = None,
        at: datetime | int | None = None,
    ) -> int:
        """A note on a lead, contact or company (``entity_type`` plural, as in the URL).

        ``created_at`` and ``updated_at`` are ``at``; ``params`` is stored as given (see
        ``add_call``/``add_email`` for the shapes amoCRM uses)."""
        if entity_type not in NOTE_ENTITIES:
            raise ValueError(f"notes belong to one of {NOTE_ENTITIES}, not {entity_type!r}")
        with self._lock:
            self._live(self._entity_table(entity_type), entity_id, SINGULAR[entity_type])
            moment = self._ts(at)
            author = responsible_user_id or self.admin
            row = self._notes[entity_type].add(
                {
                    "id": self._next_id("note"),
                    "entity_id": entity_id,
                    "created_by": author,
                    "updated_by": author,
                    "created_at": moment,
                    "updated_at": moment,
                    "responsible_user_id": author,
                    "note_type": note_type,
                    "params": dict(params or {}),
                }
            )
            self._note_entity[row["id"]] = entity_type
            self._notes_of.setdefault((entity_type, entity_id), []).append(row["id"])
            event = NOTE_EVENTS.get(note_type)
            if note_type == "amomail_message":
                event = "incoming_mail" if row["params"].get("income") else "outgoing_mail"
            if event:
                # UNVERIFIED: which notes write events; calls, mail and SMS plausibly do.
                self._event(
                    event,
                    SINGULAR[entity_type],
                    entity_id,
                    moment,
                    after=[{"note": {"id": row["id"]}}],
                    by=author,
                )
            self._changed(SINGULAR[entity_type], "note", row)
            return row["id"]

    def add_call(
        self,
        entity_type: str,
        entity_id: int,
        *,
        direction: str = "out",
        duration: int = 60,
        call_status: int = CALL_ANSWERED,
        phone: str = "+79990000000",
        call_result: str = "",
        responsible_user_id: int | None = None,
        at: datetime | int | None = None,
    ) -> int:
        """A ``call_in``/``call_out`` note with amoCRM's call params."""
        if direction not in ("in", "out"):
            raise ValueError("direction is 'in' or 'out'")
        with self._lock:
            uniq = f"sandbox-call-{self._ids['note'] + 1}"
            params = {
                "uniq": uniq,
                "duration": duration,
                "source": "sandbox",
                "link": "",
                "phone": phone,
                "call_result": call_result,
                "call_status": call_status,
            }
            return self.add_note(
                entity_type,
                entity_id,
                f"call_{direction}",
                params,
                responsible_user_id=responsible_user_id,
                at=at,
            )

    def add_email(
        self,
        entity_type: str,
        entity_id: int,
        *,
        incoming: bool,
        subject: str = "Hello",
        address: str = "client@client.test",
        responsible_user_id: int | None = None,
        at: datetime | int | None = None,
    ) -> int:
        """An ``amomail_message`` note; ``params.income`` tells incoming from outgoing."""
        agency = {"email": "manager@agency.test", "name": "Manager"}
        client = {"email": address, "name": address.split("@")[0]}
        with self._lock:
            params = {
                "income": incoming,
                "thread_id": self._ids["note"] + 1,
                "message_id": self._ids["note"] + 1,
                "private": False,
                "from": client if incoming else agency,
                "to": agency if incoming else client,
                "subject": subject,
                "content_summary": subject,
                "attach_cnt": 0,
                "delivery": {"status": "delivered", "time": self._ts(at)},
            }
            return self.add_note(
                entity_type,
                entity_id,
                "amomail_message",
                params,
                responsible_user_id=responsible_user_id,
                at=at,
            )

    def add_task(
        self,
        entity_type: str,
        entity_id: int,
        *,
        task_type_id: int = TASK_CALL,
        text: str = "Call the client",
        complete_till: datetime | int | None = None,
        is_completed: bool = False,
        result: str | None = None,
        duration: int = 0,
        responsible_user_id: int | None = None,
        at: datetime | int | None = None,
    ) -> int:
        """A task on a lead, contact or company; ``task_type_id`` 1 is a call, 2 a meeting."""
        with self._lock:
            self._live(self._entity_table(entity_type), entity_id, SINGULAR[entity_type])
            moment = self._ts(at)
            row = self._tasks.add(
                {
                    "id": self._next_id("task"),
                    "created_by": self.admin,
                    "updated_by": self.admin,
                    "created_at": moment,
                    "updated_at": moment,
                    "responsible_user_id": responsible_user_id or self.admin,
                    "entity_id": entity_id,
                    "entity_type": entity_type,
                    "duration": duration,
                    "is_completed": is_completed,
                    "task_type_id": task_type_id,
                    "text": text,
                    "result": {"text": result} if result else [],
                    "complete_till": self._ts(complete_till) if complete_till else moment,
                }
            )
            self._event("task_added", "task", row["id"], moment)
            if is_completed:
                self._event("task_completed", "task", row["id"], moment)
            self._changed("task", "add", row)
            return row["id"]

    def complete_task(
        self, task: int, *, result: str = "", at: datetime | int | None = None
    ) -> None:
        """Mark a task done (a meeting that took place, a call made) with a result text."""
        self.edit("task", task, at=at, is_completed=True, result=result)

    # ----------------------------------------------------------------- arrange: edits
    def edit(
        self, kind: str, record_id: int, *, at: datetime | int | None = None, **fields: Any
    ) -> None:
        """Change a lead, company, contact, note, task or user and bump its ``updated_at``.

        Leads take ``company=`` and ``contacts=`` to relink; contacts take ``company=``; a lead
        moved to 142/143 gets ``closed_at`` (``at``) and one moved out loses it. Status, price,
        name and owner changes write the events amoCRM writes for them."""
        with self._lock:
            moment = self._ts(at)
            table = self._kind_table(kind, record_id)
            row = self._live(table, record_id, kind)
            before = dict(row)
            if kind == "lead" and ("company" in fields or "contacts" in fields):
                self._set_lead_links(
                    row,
                    fields.pop("company", row["_company"]),
                    list(fields.pop("contacts", row["_contacts"])),
                )
            if kind == "contact" and "company" in fields:
                self._set_contact_company(row, fields.pop("company"))
            if kind == "task" and "result" in fields:
                fields["result"] = {"text": fields["result"]} if fields["result"] else []
            if kind == "lead" and "status_id" in fields:
                closed = fields["status_id"] in (WON_STATUS, LOST_STATUS)
                fields.setdefault("closed_at", moment if closed else None)
            unknown = set(fields) - set(row)
            if unknown or any(f.startswith("_") or f == "id" for f in fields):
                raise ValueError(f"{kind} has no editable field(s) {sorted(unknown or fields)}")
            if kind != "user":
                fields.setdefault("updated_at", moment)
                fields.setdefault("updated_by", self.admin)
            table.update(row, **fields)
            self._edit_events(kind, before, row, moment)

    def _edit_events(self, kind: str, before: dict, row: dict, moment: int) -> None:
        if kind == "user":
            return
        if kind == "lead":
            if before["status_id"] != row["status_id"]:
                self._event(
                    "lead_status_changed",
                    "lead",
                    row["id"],
                    moment,
                    before=[
                        {
                            "lead_status": {
                                "id": before["status_id"],
                                "pipeline_id": before["pipeline_id"],
                            }
                        }
                    ],
                    after=[
                        {"lead_status": {"id": row["status_id"], "pipeline_id": row["pipeline_id"]}}
                    ],
                )
                self._changed("lead", "status", row, old=before)
            if before["price"] != row["price"]:
                self._event(
                    "sale_field_changed",
                    "lead",
                    row["id"],
                    moment,
                    before=[{"sale_field_value": {"sale": before["price"]}}],
                    after=[{"sale_field_value": {"sale": row["price"]}}],
                )
        if kind in ("lead", "company", "contact"):
            if before["name"] != row["name"]:
                self._event(
                    "name_field_changed",
                    kind,
                    row["id"],
                    moment,
                    before=[{"name_field_value": {"name": before["name"]}}],
                    after=[{"name_field_value": {"name": row["name"]}}],
                )
            if before["responsible_user_id"] != row["responsible_user_id"]:
                self._event(
                    "entity_responsible_changed",
                    kind,
                    row["id"],
                    moment,
                    before=[{"responsible_user": {"id": before["responsible_user_id"]}}],
                    after=[{"responsible_user": {"id": row["responsible_user_id"]}}],
                )
                self._changed(kind, "responsible", row)
        if kind == "task" and row["is_completed"] and not before["is_completed"]:
            self._event("task_completed", "task", row["id"], moment)
        if kind != "note":
            self._changed(kind, "update", row)

    def touch(self, kind: str, record_id: int, *, at: datetime | int | None = None) -> None:
        """Bump ``updated_at`` with no other change (an edit in a field the sandbox lacks)."""
        self.edit(kind, record_id, at=at)

    def delete(self, kind: str, record_id: int, *, at: datetime | int | None = None) -> None:
        """Delete a record as a user would.

        A lead goes to the trash: gone from lists, listed with ``with=only_deleted`` as
        ``{id, updated_at, is_deleted: true}``, and a ``lead_deleted`` event. A company or
        contact leaves the lists with a ``*_deleted`` event only (``only_deleted`` is
        documented for leads alone). A task writes ``task_deleted``; a note just goes
        (UNVERIFIED: no note-deletion event is written)."""
        with self._lock:
            moment = self._ts(at)
            table = self._kind_table(kind, record_id)
            row = self._live(table, record_id, kind)
            values: dict[str, Any] = {"_deleted": True, "updated_at": moment}
            if kind == "lead":
                values["is_deleted"] = True
            table.update(row, **values)
            if kind in ("lead", "company", "contact", "task"):
                self._event(f"{kind}_deleted", kind, record_id, moment)
                self._changed(kind, "delete", row)

    def restore(self, kind: str, record_id: int, *, at: datetime | int | None = None) -> None:
        """Take a deleted lead, company or contact out of the trash (``*_restored`` event)."""
        if kind not in ("lead", "company", "contact"):
            raise ValueError(f"only leads, companies and contacts are restored, not {kind!r}")
        with self._lock:
            moment = self._ts(at)
            table = self._kind_table(kind, record_id)
            row = table.get(record_id, deleted=True)
            if row is None:
                raise KeyError(f"no deleted {kind} {record_id}")
            values: dict[str, Any] = {"_deleted": False, "updated_at": moment}
            if kind == "lead":
                values["is_deleted"] = False
            table.update(row, **values)
            self._event(f"{kind}_restored", kind, record_id, moment)
            self._changed(kind, "restore", row)

    def merge(
        self, kind: str, survivor: int, merged: Iterable[int], *, at: datetime | int | None = None
    ) -> None:
        """Merge duplicates of a lead, company or contact into ``survivor``.

        Their notes, tasks and links move to the survivor (each moved record's ``updated_at``
        bumps), the duplicates leave the lists (a lead to the trash), and one ``entity_merged``
        event on the survivor lists them: ``value_before`` is ``[{"entity": {"id": dup}}...]``.
        UNVERIFIED: the event's name and shape, and whether moved records are bumped."""
        with self._lock:
            moment = self._ts(at)
            table = self._kind_table(kind, survivor)
            keep = self._live(table, survivor, kind)
            entity_type = {"lead": "leads", "company": "companies", "contact": "contacts"}[kind]
            merged = [m for m in merged if m != survivor]
            for dup_id in merged:
                dup = self._live(table, dup_id, kind)
                self._move_children(entity_type, dup_id, survivor, moment)
                if kind == "lead":
                    company = keep["_company"] or dup["_company"]
                    self._set_lead_links(keep, company, keep["_contacts"] + dup["_contacts"])
                    self._set_lead_links(dup, None, [])
                    table.update(dup, _deleted=True, is_deleted=True, updated_at=moment)
                    continue
                if kind == "company":
                    for contact in list(self._contacts_of_company.get(dup_id, ())):
                        contact_row = self._contacts.rows[contact]
                        self._set_contact_company(contact_row, survivor)
                        self._contacts.update(contact_row, updated_at=moment)
                    for lead in list(self._leads_of_company.get(dup_id, ())):
                        lead_row = self._leads.rows[lead]
                        self._set_lead_links(lead_row, survivor, lead_row["_contacts"])
                        self._leads.update(lead_row, updated_at=moment)
                else:
                    if keep["_company"] is None and dup["_company"] is not None:
                        self._set_contact_company(keep, dup["_company"])
                    for lead in list(self._leads_of_contact.get(dup_id, ())):
                        lead_row = self._leads.rows[lead]
                        contacts = [survivor if c == dup_id else c for c in lead_row["_contacts"]]
                        self._set_lead_links(lead_row, lead_row["_company"], contacts)
                        self._leads.update(lead_row, updated_at=moment)
                table.update(dup, _deleted=True, updated_at=moment)
            table.update(keep, updated_at=moment)
            self._event(
                "entity_merged",
                kind,
                survivor,
                moment,
                before=[{"entity": {"id": dup_id}} for dup_id in merged],
                after=[{"entity": {"id": survivor}}],
            )
            self._changed(kind, "update", keep)

    def _move_children(self, entity_type: str, old: int, new: int, moment: int) -> None:
        notes = self._notes[entity_type]
        moved = self._notes_of.pop((entity_type, old), [])
        for note_id in moved:
            notes.update(notes.rows[note_id], entity_id=new, updated_at=moment)
        self._notes_of.setdefault((entity_type, new), []).extend(moved)
        # Merges are rare arrange steps, so a scan of the tasks is fine here.
        for task in list(self._tasks.rows.values()):
            if task["entity_type"] == entity_type and task["entity_id"] == old:
                self._tasks.update(task, entity_id=new, updated_at=moment)

    # ----------------------------------------------------------------- arrange: lookups
    def get(self, kind: str, record_id: int) -> dict[str, Any]:
        """The sandbox's own record (deleted or not), for assertions."""
        with self._lock:
            return dict(self._kind_table(kind, record_id).rows[record_id])

    def _entity_table(self, entity_type: str) -> _Table:
        tables = {"leads": self._leads, "contacts": self._contacts, "companies": self._companies}
        if entity_type not in tables:
            raise ValueError(f"entity type is one of {tuple(tables)}, not {entity_type!r}")
        return tables[entity_type]

    def _kind_table(self, kind: str, record_id: int) -> _Table:
        if kind == "note":
            return self._notes[self._note_entity[record_id]]
        tables = {
            "lead": self._leads,
            "company": self._companies,
            "contact": self._contacts,
            "task": self._tasks,
            "user": self._users,
        }
        if kind not in tables:
            raise ValueError(f"kind is one of {(*tables, 'note')}, not {kind!r}")
        return tables[kind]

    @staticmethod
    def _live(table: _Table, record_id: int, kind: str) -> dict[str, Any]:
        row = table.get(record_id)
        if row is None:
            raise KeyError(f"no live {kind} {record_id}")
        return row

    # ----------------------------------------------------------------- events and webhooks
    def _event(
        self,
        event_type: str,
        entity_type: str,
        entity_id: int,
        moment: int,
        *,
        before: list | None = None,
        after: list | None = None,
        by: int | None = None,
    ) -> None:
        seq = self._next_id("event")
        event_id = _event_id(seq)
        self._event_seq[event_id] = seq
        self._events.add(
            {
                "id": seq,
                "event_id": event_id,
                "type": event_type,
                "entity_id": entity_id,
                "entity_type": entity_type,
                "created_by": by if by is not None else self.admin,
                "created_at": moment,
                "value_before": before or [],
                "value_after": after or [],
            }
        )

    def add_webhook(self, destination: str, settings: Iterable[str], *, sort: int = 10) -> int:
        """Subscribe ``destination`` to amoCRM's webhook events (``add_lead``, ``status_lead``,
        ``note_company``...); the sandbox queues a delivery per matching change."""
        with self._lock:
            hook = Webhook(
                id=self._next_id("webhook"),
                destination=destination,
                settings=list(settings),
                created_at=self.timestamp,
                sort=sort,
            )
            self.webhooks[hook.id] = hook
            return hook.id

    def _changed(
        self, kind: str, action: str, row: dict[str, Any], old: dict | None = None
    ) -> None:
        """Queue a delivery for every webhook subscribed to ``{action}_{kind}``."""
        if not self.webhooks:
            return
        entity = "companies" if kind == "company" else f"{kind}s"
        setting = f"{action}_{kind}"
        if action == "note":
            entity_type = self._note_entity[row["id"]]
            setting = f"note_{SINGULAR[entity_type]}"
            entity = entity_type
        hooks = [h for h in self.webhooks.values() if not h.disabled and setting in h.settings]
        if not hooks:
            return
        # UNVERIFIED beyond the documented keys (leads[status][0][id], account[...]): the
        # per-record field names follow amoCRM's webhook format page.
        prefix = f"{'task' if kind == 'task' else entity}[{action}][0]"
        if action == "note":
            values = {
                "id": row["id"],
                "element_id": row["entity_id"],
                "element_type": {"leads": 2, "contacts": 1, "companies": 3}[entity],
                "note_type": row["note_type"],
                "created_by": row["created_by"],
                "date_create": row["created_at"],
                "last_modified": row["updated_at"],
                "account_id": ACCOUNT_ID,
            }
            pairs = [(f"{prefix}[note][{k}]", str(v)) for k, v in values.items()]
        else:
            values = {
                "id": row["id"],
                "name": row.get("name") or row.get("text"),
                "status_id": row.get("status_id"),
                "pipeline_id": row.get("pipeline_id"),
                "price": row.get("price"),
                "responsible_user_id": row.get("responsible_user_id"),
                "date_create": row.get("created_at"),
                "last_modified": row.get("updated_at"),
                "created_user_id": row.get("created_by"),
                "modified_user_id": row.get("updated_by"),
                "account_id": ACCOUNT_ID,
            }
            if old is not None:
                values["old_status_id"] = old.get("status_id")
                values["old_pipeline_id"] = old.get("pipeline_id")
            pairs = [(f"{prefix}[{k}]", str(v)) for k, v in values.items() if v is not None]
        pairs += [
            ("account[subdomain]", self.subdomain),
            ("account[id]", str(ACCOUNT_ID)),
            ("account[_links][self]", f"https://{self.subdomain}.amocrm.ru"),
        ]
        body = urlencode(pairs).encode()
        now = self.timestamp
        self._deliveries.extend(_Delivery(hook, body, now) for hook in hooks)

    def pending_deliveries(self) -> int:
        with self._lock:
            return len(self._deliveries)

    def deliver_webhooks(self) -> list[tuple[int, int | None]]:
        """POST every delivery that is due by the sandbox clock; returns ``[(webhook id, status
        or None when unreachable or slower than the timeout)]``.

        Like amoCRM: form-urlencoded, unsigned, ``webhook_timeout`` (2 s) to answer; a failed
        delivery is retried after 5, 15, 15 and 60 minutes of the sandbox clock (``advance``
        compresses them), then dropped; more than ``webhook_max_failures`` invalid answers in
        two hours disable the hook."""
        with self._lock:
            now = self.timestamp
            due = [d for d in self._deliveries if d.due_at <= now and not d.hook.disabled]
        results = []
        for delivery in due:
            status = self._post(delivery.hook.destination, delivery.body)
            with self._lock:
                hook, now = delivery.hook, self.timestamp
                results.append((hook.id, status))
                if status is not None and 200 <= status < 300:
                    self._deliveries.remove(delivery)
                    continue
                hook.failures.append(now)
                while hook.failures and hook.failures[0] <= now - WEBHOOK_FAILURE_WINDOW:
                    hook.failures.popleft()
                if len(hook.failures) > self.webhook_max_failures:
                    hook.disabled = True
                delivery.attempts += 1
                if delivery.attempts > len(self.webhook_retry_delays):
                    self._deliveries.remove(delivery)
                else:
                    delivery.due_at = now + self.webhook_retry_delays[delivery.attempts - 1]
        return results

    def _post(self, url: str, body: bytes) -> int | None:
        request = urllib.request.Request(  # noqa: S310 - the target is a test's own URL
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self.webhook_timeout
            ) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return None

    # ----------------------------------------------------------------- request handling
    def handle(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str],
        body: bytes,
        ip: str = "127.0.0.1",
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body). Used by the HTTP handler."""
        split = urlsplit(raw_path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        path = split.path
        rel = (path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path).rstrip("/") or "/"
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        host = headers.get("host") or f"{self._host}:{self._port}"
        origin = f"http://{host}"
        answer_headers: dict[str, str] = {}
        try:
            with self._lock:
                self._guard(ip)
                if not path.startswith(API_PREFIX + "/"):
                    raise ApiError(404, "Not found")
                if token is None or token not in self._tokens or token in self._revoked:
                    raise ApiError(401, "Unauthorized")
                fault = self._take_fault(rel)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status is not None:
                    raise self._fault_error(fault)
            with self._lock:
                status, payload = self._route(method, rel, pairs, body, origin)
            if payload is None:
                raw = b""
            else:
                raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
                answer_headers["Content-Type"] = "application/hal+json"
        except ApiError as exc:
            status, raw = exc.status, exc.render()
            if raw:
                answer_headers["Content-Type"] = exc.content_type
        with self._lock:
            self.request_log.append(LoggedRequest(method, rel, dict(pairs), status, token, ip))
            if status < 400:
                self._run_hooks(rel)
        return status, answer_headers, raw

    def _guard(self, ip: str) -> None:
        """The IP block, the whitelist and the per-second limit, before auth as a proxy would."""
        moment = time.monotonic() + self._skew
        until = self._blocked_until.get(ip)
        if until is not None and moment < until:
            # UNVERIFIED: the block's body; amoCRM documents only "every request gets 403".
            raise ApiError(403, "Too many requests: the IP address is blocked")
        self._blocked_until.pop(ip, None)
        if self.allowed_ips is not None and ip not in self.allowed_ips:
            raise ApiError(403, "Access denied: the IP address is not in the account's whitelist")
        if not self.requests_per_second:
            return
        hits = self._hits.setdefault(ip, deque())
        while hits and hits[0] <= moment - 1.0:
            hits.popleft()
        if len(hits) < self.requests_per_second:
            hits.append(moment)  # rejected requests do not count, as with nginx's limit_req
            return
        strikes = self._strikes.setdefault(ip, deque())
        while strikes and strikes[0] <= moment - self.block_window:
            strikes.popleft()
        strikes.append(moment)
        if len(strikes) >= self.block_after:
            self._blocked_until[ip] = moment + self.block_seconds
            strikes.clear()
            hits.clear()
        raise self._too_many()

    def _too_many(self) -> ApiError:
        # UNVERIFIED: amoCRM's 429 body and headers; no Retry-After is documented, so none.
        if self.rate_limit_body == "json":
            return ApiError(429, "Too many requests")
        if self.rate_limit_body == "empty":
            return ApiError(429, body=b"")
        page = NGINX_PAGE.format(code=429, phrase="Too Many Requests").encode()
        return ApiError(429, body=page, content_type="text/html")

    def _take_fault(self, rel: str) -> _Fault | None:
        for i, fault in enumerate(self._faults):
            if fault.path is not None and fault.path.rstrip("/") != rel:
                continue
            if fault.skip:
                fault.skip -= 1
                return None
            return self._faults.pop(i)
        return None

    @staticmethod
    def _fault_error(fault: _Fault) -> ApiError:
        status = fault.status or 500
        if fault.body is not None:
            return ApiError(status, body=fault.body, content_type="text/plain")
        if status in (502, 503, 504):
            page = NGINX_PAGE.format(code=status, phrase=HTTPStatus(status).phrase).encode()
            return ApiError(status, body=page, content_type="text/html")
        return ApiError(status, "Internal error")

    def _run_hooks(self, rel: str) -> None:
        for hook in list(self._hooks):
            if hook.path is not None and hook.path.rstrip("/") != rel:
                continue
            if hook.skip:
                hook.skip -= 1
                continue
            hook.times -= 1
            if hook.times <= 0:
                self._hooks.remove(hook)
            hook.callback(self)

    # ----------------------------------------------------------------- routing
    def _route(
        self, method: str, rel: str, pairs: list[tuple[str, str]], body: bytes, origin: str
    ) -> tuple[int, dict[str, Any] | None]:
        parts = rel.strip("/").split("/")
        q = parse_query(pairs)
        ctx = _Request(rel, pairs, q, origin)
        if parts == ["webhooks"]:
            return self._webhooks_api(method, body, ctx)
        if method != "GET":
            raise ApiError(405, "Method not allowed")
        head, n = parts[0], len(parts)
        numeric = n >= 2 and parts[1].isdigit()
        payload: dict[str, Any] | None
        if parts == ["account"]:
            payload = self._account(ctx)
        elif parts == ["leads", "pipelines"]:
            payload = self._pipelines_list(ctx)
        elif n == 3 and parts[:2] == ["leads", "pipelines"] and parts[2].isdigit():
            pipeline = self._pipelines.get(int(parts[2]))
            payload = self._pipeline(pipeline, ctx) if pipeline else None
        elif head in NOTE_ENTITIES and n == 1:
            payload = self._entities_list(head, ctx)
        elif head in NOTE_ENTITIES and n == 2 and parts[1] == "notes":
            payload = self._notes_list(head, ctx)
        elif head in NOTE_ENTITIES and n == 3 and parts[1] == "notes" and parts[2].isdigit():
            note = self._notes[head].get(int(parts[2]))
            payload = self._note(head, note, ctx) if note else None
        elif head in NOTE_ENTITIES and n == 2 and parts[1] == "links":
            ids = _ints(self._filter(ctx).get("entity_id", ""), "filter.entity_id")
            if not ids:
                raise invalid("filter.entity_id", "This value should not be blank", "FieldMissing")
            payload = self._links(head, ids, ctx)
        elif head in NOTE_ENTITIES and numeric and n == 2:
            payload = self._entity_one(head, int(parts[1]), ctx)
        elif head in NOTE_ENTITIES and numeric and n == 3 and parts[2] == "notes":
            ctx.q.setdefault("filter", {})
            if not isinstance(ctx.q["filter"], dict):
                ctx.q["filter"] = {}
            ctx.q["filter"]["entity_id"] = parts[1]
            payload = self._notes_list(head, ctx)
        elif head in NOTE_ENTITIES and numeric and n == 4 and parts[2] == "notes":
            note = self._notes[head].get(int(parts[3])) if parts[3].isdigit() else None
            ok = note is not None and note["entity_id"] == int(parts[1])
            payload = self._note(head, note, ctx) if ok else None
        elif head in NOTE_ENTITIES and numeric and n == 3 and parts[2] == "links":
            payload = self._links(head, [int(parts[1])], ctx)
        elif parts == ["users"]:
            payload = self._users_list(ctx)
        elif head == "users" and numeric and n == 2:
            user = self._users.get(int(parts[1]))
            payload = self._user(user, ctx) if user else None
        elif parts == ["tasks"]:
            payload = self._tasks_list(ctx)
        elif head == "tasks" and numeric and n == 2:
            task = self._tasks.get(int(parts[1]))
            payload = self._task(task, ctx) if task else None
        elif parts == ["events"]:
            payload = self._events_list(ctx)
        elif parts == ["events", "types"]:
            payload = self._event_types(ctx)
        elif head == "events" and n == 2:
            seq = self._event_seq.get(parts[1])
            payload = self._event_json(self._events.rows[seq], ctx) if seq else None
        else:
            raise ApiError(404, "Not found")
        # amoCRM answers 204 with no body for an empty list and for a missing record.
        return (200, payload) if payload is not None else (204, None)

    # ----------------------------------------------------------------- listing machinery
    def _paging(self, q: dict[str, Any], max_limit: int) -> tuple[int, int]:
        raw_limit, raw_page = q.get("limit"), q.get("page")
        limit = DEFAULT_LIMIT if raw_limit in (None, "") else _int(raw_limit, "limit")
        page = 1 if raw_page in (None, "") else _int(raw_page, "page")
        if limit < 1:
            raise invalid("limit", "This value should be greater than 0", "OutOfRange")
        if page < 1:
            raise invalid("page", "This value should be greater than 0", "OutOfRange")
        if limit > max_limit:
            if self.over_limit == "error":
                raise invalid(
                    "limit", f"This value should be less than or equal to {max_limit}", "OutOfRange"
                )
            limit = max_limit
        return limit, page

    @staticmethod
    def _order(
        q: dict[str, Any], allowed: tuple[str, ...], default: tuple[str, str]
    ) -> tuple[str, str]:
        order = q.get("order")
        if order in (None, ""):
            return default
        if not isinstance(order, dict) or len(order) != 1:
            raise invalid("order", "Expected order[field]=asc|desc")
        ((name, direction),) = order.items()
        if name not in allowed:
            raise invalid(
                f"order.{name}", f"Sorting is by one of {', '.join(allowed)}", "NotSupportedChoice"
            )
        if direction not in ("asc", "desc"):
            raise invalid(f"order.{name}", "The direction is asc or desc", "NotSupportedChoice")
        return name, direction

    def _select(
        self,
        ctx: _Request,
        table: _Table,
        *,
        deleted: bool = False,
        subset: Iterable[int] | None = None,
        window: tuple[int | None, int | None] = (None, None),
        order: tuple[str, str] = ("id", "asc"),
        predicates: Iterable[Callable[[dict[str, Any]], bool]] = (),
    ) -> list[int]:
        """Ids matching a listing, in order; cached per query until the table changes, so
        walking the pages of one query costs one selection plus a slice per page."""
        query_key = tuple(sorted((k, v) for k, v in ctx.pairs if k not in ("page", "limit")))
        key = (id(table), ctx.rel, query_key, deleted, self.alpha_filters, self.events_newest_first)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == table.version:
            return cached[1]
        rows, field_name = table.rows, order[0]
        low, high = window
        if subset is not None:
            ids = sorted(
                {i for i in subset if i in rows and rows[i]["_deleted"] == deleted},
                key=lambda i: (rows[i][table.sort_field], i),
            )
            ids = [i for i in ids if _in_range(rows[i][table.sort_field], window)]
        elif deleted or window != (None, None) or field_name == table.sort_field:
            keys = table.trash if deleted else table.live
            start = 0 if low is None else bisect.bisect_left(keys, (low,))
            stop = len(keys) if high is None else bisect.bisect_right(keys, (high, float("inf")))
            ids = [k[1] for k in keys[start:stop]]
        else:
            ids = list(table.live_ids)
        for predicate in predicates:
            ids = [i for i in ids if predicate(rows[i])]
        if field_name == "id":
            ids.sort()
        elif field_name != table.sort_field or subset is not None:
            ids.sort(key=lambda i: (rows[i][field_name] or 0, i))
        if order[1] == "desc":
            ids.reverse()
        if len(self._cache) >= 128:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (table.version, ids)
        return ids

    def _hal_page(
        self,
        ctx: _Request,
        ids: list[int],
        key: str,
        render: Callable[[int], dict[str, Any]],
        max_limit: int = MAX_LIMIT,
        totals: bool = False,
    ) -> dict[str, Any] | None:
        limit, page = self._paging(ctx.q, max_limit)
        start = (page - 1) * limit
        chunk = ids[start : start + limit]
        if not chunk:
            return None
        links = {"self": {"href": ctx.href(page, limit)}}
        more = len(chunk) == limit if self.next_link == "when_full" else start + limit < len(ids)
        if more:
            links["next"] = {"href": ctx.href(page + 1, limit)}
        if page > 1:
            links["first"] = {"href": ctx.href(1, limit)}
            links["prev"] = {"href": ctx.href(page - 1, limit)}
        payload: dict[str, Any] = {"_page": page}
        if totals:
            payload["_total_items"] = len(ids)
            payload["_page_count"] = -(-len(ids) // limit)
        payload["_links"] = links
        payload["_embedded"] = {key: [render(i) for i in chunk]}
        return payload

    @staticmethod
    def _with(ctx: _Request) -> set[str]:
        return {w.strip() for w in str(ctx.q.get("with") or "").split(",") if w.strip()}

    @staticmethod
    def _filter(ctx: _Request) -> dict[str, Any]:
        value = ctx.q.get("filter")
        return value if isinstance(value, dict) else {}

    def _entity_filters(
        self, ctx: _Request
    ) -> tuple[list[int] | None, tuple[int | None, int | None], list[Callable]]:
        """filter[id], filter[updated_at] (ignored with alpha filters off), filter[created_at]
        and filter[responsible_user_id]: shared by leads, contacts and companies."""
        flt = self._filter(ctx)
        subset = _ints(flt["id"], "filter.id") if "id" in flt else None
        window: tuple[int | None, int | None] = (None, None)
        if "updated_at" in flt and self.alpha_filters:
            window = _range(flt["updated_at"], "filter.updated_at")
        predicates: list[Callable] = []
        if "created_at" in flt:
            created = _range(flt["created_at"], "filter.created_at")
            predicates.append(lambda r: _in_range(r["created_at"], created))
        if "responsible_user_id" in flt:
            owners = set(_ints(flt["responsible_user_id"], "filter.responsible_user_id"))
            predicates.append(lambda r: r["responsible_user_id"] in owners)
        return subset, window, predicates

    # ----------------------------------------------------------------- leads, companies, contacts
    def _entities_list(self, entity: str, ctx: _Request) -> dict[str, Any] | None:
        table = self._entity_table(entity)
        subset, window, predicates = self._entity_filters(ctx)
        flt, with_ = self._filter(ctx), self._with(ctx)
        deleted = entity == "leads" and "only_deleted" in with_
        if entity == "leads":
            if "pipeline_id" in flt:
                pipelines = set(_ints(flt["pipeline_id"], "filter.pipeline_id"))
                predicates.append(lambda r: r["pipeline_id"] in pipelines)
            if isinstance(flt.get("statuses"), dict | list):
                statuses = flt["statuses"]
                items = statuses.values() if isinstance(statuses, dict) else statuses
                pairs = {
                    (
                        _int(s.get("pipeline_id", ""), "filter.statuses.pipeline_id"),
                        _int(s.get("status_id", ""), "filter.statuses.status_id"),
                    )
                    for s in items
                    if isinstance(s, dict)
                }
                predicates.append(lambda r: (r["pipeline_id"], r["status_id"]) in pairs)
            if "closed_at" in flt:
                closed = _range(flt["closed_at"], "filter.closed_at")
                predicates.append(lambda r: _in_range(r["closed_at"], closed))
        order = self._order(ctx.q, ("created_at", "updated_at", "id"), ("id", "asc"))
        ids = self._select(
            ctx,
            table,
            deleted=deleted,
            subset=subset,
            window=window,
            order=order,
            predicates=predicates,
        )
        render = {
            "leads": self._lead,
            "companies": self._company,
            "contacts": self._contact,
        }[entity]
        return self._hal_page(ctx, ids, entity, lambda i: render(table.rows[i], ctx, with_))

    def _entity_one(self, entity: str, record_id: int, ctx: _Request) -> dict[str, Any] | None:
        row = self._entity_table(entity).get(record_id)
        if row is None:
            return None
        render = {"leads": self._lead, "companies": self._company, "contacts": self._contact}
        return render[entity](row, ctx, self._with(ctx))

    def _ref(self, entity: str, record_id: int, ctx: _Request, **extra: Any) -> dict[str, Any]:
        return {
            "id": record_id,
            **extra,
            "_links": {"self": {"href": f"{ctx.origin}{API_PREFIX}/{entity}/{record_id}"}},
        }

    def _alive(self, table: _Table, ids: Iterable[int]) -> list[int]:
        return [i for i in ids if table.get(i) is not None]

    def _lead(self, row: dict[str, Any], ctx: _Request, with_: set[str]) -> dict[str, Any]:
        if row["_deleted"]:
            # with=only_deleted: restorable leads in the trash, reduced to these fields.
            return {"id": row["id"], "updated_at": row["updated_at"], "is_deleted": True}
        company = row["_company"]
        embedded: dict[str, Any] = {
            "tags": [],
            # Always present, at most one company (amoCRM's lead model).
            "companies": [self._ref("companies", company, ctx)]
            if company is not None and self._companies.get(company) is not None
            else [],
        }
        if "contacts" in with_:
            contacts = self._alive(self._contacts, row["_contacts"])
            embedded["contacts"] = [
                self._ref("contacts", c, ctx, is_main=i == 0) for i, c in enumerate(contacts)
            ]
        return {
            "id": row["id"],
            "name": row["name"],
            "price": row["price"],
            "responsible_user_id": row["responsible_user_id"],
            "group_id": 0,
            "status_id": row["status_id"],
            "pipeline_id": row["pipeline_id"],
            "loss_reason_id": row["loss_reason_id"],
            "created_by": row["created_by"],
            "updated_by": row["updated_by"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "closed_at": row["closed_at"],
            "closest_task_at": None,
            "is_deleted": False,
            "custom_fields_values": None,
            "score": None,
            "account_id": ACCOUNT_ID,
            "labor_cost": None,
            "_links": {"self": {"href": f"{ctx.origin}{API_PREFIX}/leads/{row['id']}"}},
            "_embedded": embedded,
        }

    def _company(self, row: dict[str, Any], ctx: _Request, with_: set[str]) -> dict[str, Any]:
        embedded: dict[str, Any] = {"tags": []}
        if "contacts" in with_:
            contacts = self._alive(self._contacts, self._contacts_of_company.get(row["id"], ()))
            embedded["contacts"] = [self._ref("contacts", c, ctx) for c in sorted(contacts)]
        if "leads" in with_:
            leads = self._alive(self._leads, self._leads_of_company.get(row["id"], ()))
            embedded["leads"] = [self._ref("leads", lead, ctx) for lead in sorted(leads)]
        return {
            "id": row["id"],
            "name": row["name"],
            "responsible_user_id": row["responsible_user_id"],
            "group_id": 0,
            "created_by": row["created_by"],
            "updated_by": row["updated_by"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "closest_task_at": None,
            "custom_fields_values": row["custom_fields_values"],
            "account_id": ACCOUNT_ID,
            "_links": {"self": {"href": f"{ctx.origin}{API_PREFIX}/companies/{row['id']}"}},
            "_embedded": embedded,
        }

    def _contact(self, row: dict[str, Any], ctx: _Request, with_: set[str]) -> dict[str, Any]:
        company = row["_company"]
        embedded: dict[str, Any] = {
            "tags": [],
            "companies": [self._ref("companies", company, ctx)]
            if company is not None and self._companies.get(company) is not None
            else [],
        }
        if "leads" in with_:
            leads = self._alive(self._leads, self._leads_of_contact.get(row["id"], ()))
            embedded["leads"] = [self._ref("leads", lead, ctx) for lead in sorted(leads)]
        return {
            "id": row["id"],
            "name": row["name"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "responsible_user_id": row["responsible_user_id"],
            "group_id": 0,
            "created_by": row["created_by"],
            "updated_by": row["updated_by"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "closest_task_at": None,
            "is_unsorted": False,
            "custom_fields_values": row["custom_fields_values"],
            "account_id": ACCOUNT_ID,
            "_links": {"self": {"href": f"{ctx.origin}{API_PREFIX}/contacts/{row['id']}"}},
            "_embedded": embedded,
        }

    def _links(self, entity: str, ids: list[int], ctx: _Request) -> dict[str, Any] | None:
        """Entity links: a lead's company and contacts, a contact's company and leads, a
        company's contacts and leads; ``filter[to_entity_type]`` narrows them."""
        flt = self._filter(ctx)
        wanted = set(_values(flt["to_entity_type"])) if "to_entity_type" in flt else None
        links = []
        for record_id in ids:
            row = self._entity_table(entity).get(record_id)
            if row is None:
                continue
            targets: list[tuple[str, int, dict | None]] = []
            if entity == "leads":
                if row["_company"] is not None:
                    targets.append(("companies", row["_company"], None))
                targets += [
                    ("contacts", c, {"main_contact": i == 0})
                    for i, c in enumerate(row["_contacts"])
                ]
            elif entity == "contacts":
                if row["_company"] is not None:
                    targets.append(("companies", row["_company"], None))
                targets += [
                    ("leads", x, None) for x in sorted(self._leads_of_contact.get(record_id, ()))
                ]
            else:
                contacts = sorted(self._contacts_of_company.get(record_id, ()))
                targets += [("contacts", c, {"main_contact": False}) for c in contacts]
                targets += [
                    ("leads", x, None) for x in sorted(self._leads_of_company.get(record_id, ()))
                ]
            for to_type, to_id, metadata in targets:
                if wanted is not None and to_type not in wanted:
                    continue
                if self._entity_table(to_type).get(to_id) is None:
                    continue
                links.append(
                    {
                        "entity_id": record_id,
                        "entity_type": entity,
                        "to_entity_id": to_id,
                        "to_entity_type": to_type,
                        "metadata": metadata,
                    }
                )
        if not links:
            return None
        return {
            "_total_items": len(links),
            "_links": {"self": {"href": ctx.href()}},
            "_embedded": {"links": links},
        }

    # ----------------------------------------------------------------- notes, tasks
    def _notes_list(self, entity: str, ctx: _Request) -> dict[str, Any] | None:
        table, flt = self._notes[entity], self._filter(ctx)
        subset: list[int] | None = None
        if "id" in flt:
            subset = _ints(flt["id"], "filter.id")
        if "entity_id" in flt:
            owned = [
                note
                for entity_id in _ints(flt["entity_id"], "filter.entity_id")
                for note in self._notes_of.get((entity, entity_id), ())
            ]
            subset = owned if subset is None else sorted(set(subset) & set(owned))
        window = _range(flt["updated_at"], "filter.updated_at") if "updated_at" in flt else None
        predicates: list[Callable] = []
        if "note_type" in flt:
            types = set(_values(flt["note_type"]))
            predicates.append(lambda r: r["note_type"] in types)
        order = self._order(ctx.q, ("updated_at", "id"), ("id", "asc"))
        ids = self._select(
            ctx,
            table,
            subset=subset,
            window=window or (None, None),
            order=order,
            predicates=predicates,
        )
        return self._hal_page(ctx, ids, "notes", lambda i: self._note(entity, table.rows[i], ctx))

    def _note(self, entity: str, row: dict[str, Any], ctx: _Request) -> dict[str, Any]:
        href = f"{ctx.origin}{API_PREFIX}/{entity}/{row['entity_id']}/notes/{row['id']}"
        return {
            "id": row["id"],
            "entity_id": row["entity_id"],
            "created_by": row["created_by"],
            "updated_by": row["updated_by"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "responsible_user_id": row["responsible_user_id"],
            "group_id": 0,
            "note_type": row["note_type"],
            "params": row["params"],
            "account_id": ACCOUNT_ID,
            "_links": {"self": {"href": href}},
        }

    def _tasks_list(self, ctx: _Request) -> dict[str, Any] | None:
        flt = self._filter(ctx)
        subset = _ints(flt["id"], "filter.id") if "id" in flt else None
        window = _range(flt["updated_at"], "filter.updated_at") if "updated_at" in flt else None
        predicates: list[Callable] = []
        if "is_completed" in flt:
            done = str(flt["is_completed"]).lower() in ("1", "true")
            predicates.append(lambda r: r["is_completed"] is done)
        if "task_type" in flt:
            types = set(_ints(flt["task_type"], "filter.task_type"))
            predicates.append(lambda r: r["task_type_id"] in types)
        if "entity_type" in flt:
            entity_types = set(_values(flt["entity_type"]))
            predicates.append(lambda r: r["entity_type"] in entity_types)
        if "entity_id" in flt:
            entity_ids = set(_ints(flt["entity_id"], "filter.entity_id"))
            predicates.append(lambda r: r["entity_id"] in entity_ids)
        if "responsible_user_id" in flt:
            owners = set(_ints(flt["responsible_user_id"], "filter.responsible_user_id"))
            predicates.append(lambda r: r["responsible_user_id"] in owners)
        # UNVERIFIED: the tasks docs name created_at, complete_till and id for sorting;
        # updated_at is accepted too, since an incremental read needs it.
        order = self._order(
            ctx.q, ("created_at", "complete_till", "updated_at", "id"), ("id", "asc")
        )
        ids = self._select(
            ctx,
            self._tasks,
            subset=subset,
            window=window or (None, None),
            order=order,
            predicates=predicates,
        )
        return self._hal_page(ctx, ids, "tasks", lambda i: self._task(self._tasks.rows[i], ctx))

    def _task(self, row: dict[str, Any], ctx: _Request) -> dict[str, Any]:
        return {
            "id": row["id"],
            "created_by": row["created_by"],
            "updated_by": row["updated_by"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "responsible_user_id": row["responsible_user_id"],
            "group_id": 0,
            "entity_id": row["entity_id"],
            "entity_type": row["entity_type"],
            "duration": row["duration"],
            "is_completed": row["is_completed"],
            "task_type_id": row["task_type_id"],
            "text": row["text"],
            # UNVERIFIED quirk kept on purpose: amoCRM's examples show "result": [] (an empty
            # PHP array) until a result is written, then {"text": ...}.
            "result": row["result"],
            "complete_till": row["complete_till"],
            "account_id": ACCOUNT_ID,
            "_links": {"self": {"href": f"{ctx.origin}{API_PREFIX}/tasks/{row['id']}"}},
        }

    # ----------------------------------------------------------------- users, pipelines, account
    def _users_list(self, ctx: _Request) -> dict[str, Any] | None:
        ids = list(self._users.live_ids)
        return self._hal_page(
            ctx, ids, "users", lambda i: self._user(self._users.rows[i], ctx), totals=True
        )

    def _user(self, row: dict[str, Any], ctx: _Request) -> dict[str, Any]:
        level = "A" if row["is_admin"] else "M"
        return {
            "id": row["id"],
            "name": row["name"],
            "email": row["email"],
            "lang": "en",
            "rights": {
                "leads": {"view": "A", "edit": level, "add": "A", "delete": level, "export": level},
                "contacts": {"view": "A", "edit": level, "add": "A", "delete": level},
                "companies": {"view": "A", "edit": level, "add": "A", "delete": level},
                "tasks": {"edit": level, "delete": level},
                "mail_access": True,
                "catalog_access": True,
                "status_rights": [],
                "is_admin": row["is_admin"],
                "is_free": False,
                "is_active": row["is_active"],
                "group_id": None,
                "role_id": None,
            },
            "_links": {"self": {"href": f"{ctx.origin}{API_PREFIX}/users/{row['id']}"}},
        }

    def _pipelines_list(self, ctx: _Request) -> dict[str, Any]:
        pipelines = [self._pipeline(p, ctx) for p in self._pipelines.values()]
        return {
            "_total_items": len(pipelines),
            "_links": {"self": {"href": ctx.href()}},
            "_embedded": {"pipelines": pipelines},
        }

    def _pipeline(self, pipeline: dict[str, Any], ctx: _Request) -> dict[str, Any]:
        base = f"{ctx.origin}{API_PREFIX}/leads/pipelines/{pipeline['id']}"
        statuses = [
            {**s, "_links": {"self": {"href": f"{base}/statuses/{s['id']}"}}}
            for s in pipeline["statuses"]
        ]
        return {
            **{k: v for k, v in pipeline.items() if k != "statuses"},
            "account_id": ACCOUNT_ID,
            "_links": {"self": {"href": base}},
            "_embedded": {"statuses": statuses},
        }

    def _account(self, ctx: _Request) -> dict[str, Any]:
        account: dict[str, Any] = {
            "id": ACCOUNT_ID,
            "name": "Sandbox agency",
            "subdomain": self.subdomain,
            "current_user_id": self.admin,
            "country": "RU",
            "currency": "RUB",
            "customers_mode": "disabled",
            "is_unsorted_on": True,
            "is_loss_reason_enabled": True,
            "_links": {"self": {"href": ctx.href()}},
        }
        if "datetime_settings" in self._with(ctx):
            account["_embedded"] = {"datetime_settings": {"timezone": self.timezone}}
        return account

    # ----------------------------------------------------------------- events
    def _events_list(self, ctx: _Request) -> dict[str, Any] | None:
        flt = self._filter(ctx)
        subset = None
        if "id" in flt:
            subset = [self._event_seq[e] for e in _values(flt["id"]) if e in self._event_seq]
        window: tuple[int | None, int | None] = (None, None)
        if "created_at" in flt:
            # ts (from it on), "a,b", or [from]/[to]: the three documented forms.
            window = _range(flt["created_at"], "filter.created_at")
        predicates: list[Callable] = []
        if "type" in flt:
            types = set(_values(flt["type"]))
            predicates.append(lambda r: r["type"] in types)
        entities = set(_values(flt["entity"])) if "entity" in flt else None
        if entities is not None:
            predicates.append(lambda r: r["entity_type"] in entities)
        if "entity_id" in flt:
            entity_ids = set(_ints(flt["entity_id"], "filter.entity_id"))
            if entities is None or len(entities) != 1:
                raise invalid("filter.entity_id", "Filter by entity_id needs one filter[entity]")
            if len(entity_ids) > MAX_EVENT_ENTITY_IDS:
                raise invalid(
                    "filter.entity_id",
                    f"No more than {MAX_EVENT_ENTITY_IDS} ids",
                    "OutOfRange",
                )
            predicates.append(lambda r: r["entity_id"] in entity_ids)
        if "created_by" in flt:
            authors = set(_ints(flt["created_by"], "filter.created_by"))
            predicates.append(lambda r: r["created_by"] in authors)
        # UNVERIFIED: the list's order (it takes no order parameter); newest first by default.
        direction = "desc" if self.events_newest_first else "asc"
        ids = self._select(
            ctx,
            self._events,
            subset=subset,
            window=window,
            order=("created_at", direction),
            predicates=predicates,
        )
        return self._hal_page(
            ctx,
            ids,
            "events",
            lambda i: self._event_json(self._events.rows[i], ctx),
            max_limit=MAX_EVENTS_LIMIT,
        )

    def _event_json(self, row: dict[str, Any], ctx: _Request) -> dict[str, Any]:
        entity_path = {"lead": "leads", "contact": "contacts", "company": "companies"}.get(
            row["entity_type"], "tasks"
        )
        return {
            "id": row["event_id"],
            "type": row["type"],
            "entity_id": row["entity_id"],
            "entity_type": row["entity_type"],
            "created_by": row["created_by"],
            "created_at": row["created_at"],
            "value_after": row["value_after"],
            "value_before": row["value_before"],
            "account_id": ACCOUNT_ID,
            "_links": {"self": {"href": f"{ctx.origin}{API_PREFIX}/events/{row['event_id']}"}},
            "_embedded": {"entity": self._ref(entity_path, row["entity_id"], ctx)},
        }

    def _event_types(self, ctx: _Request) -> dict[str, Any]:
        # UNVERIFIED shape (key, type, lang); the notes say to read the type names from here.
        types = [
            {"key": key, "type": i + 1, "lang": name}
            for i, (key, name) in enumerate(EVENT_TYPES.items())
        ]
        return {
            "_total_items": len(types),
            "_links": {"self": {"href": ctx.href()}},
            "_embedded": {"events_types": types},
        }

    # ----------------------------------------------------------------- webhooks API
    def _webhooks_api(self, method: str, body: bytes, ctx: _Request) -> tuple[int, Any]:
        def webhook_json(hook: Webhook) -> dict[str, Any]:
            return {
                "id": hook.id,
                "destination": hook.destination,
                "created_at": hook.created_at,
                "updated_at": hook.created_at,
                "account_id": ACCOUNT_ID,
                "created_by": self.admin,
                "sort": hook.sort,
                "disabled": hook.disabled,
                "settings": hook.settings,
            }

        if method == "GET":
            hooks = [webhook_json(h) for h in self.webhooks.values()]
            if not hooks:
                return 204, None
            return 200, {
                "_total_items": len(hooks),
                "_links": {"self": {"href": ctx.href()}},
                "_embedded": {"webhooks": hooks},
            }
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise invalid("body", "The body is not JSON") from None
        destination = data.get("destination") if isinstance(data, dict) else None
        if not destination:
            raise invalid("destination", "This value should not be blank", "FieldMissing")
        if method == "POST":
            settings = data.get("settings") or []
            if not isinstance(settings, list) or not settings:
                raise invalid("settings", "This value should not be blank", "FieldMissing")
            existing = [h for h in self.webhooks.values() if h.destination == destination]
            if existing:
                existing[0].settings = list(settings)
                existing[0].disabled = False
                return 200, webhook_json(existing[0])
            hook_id = self.add_webhook(destination, settings, sort=int(data.get("sort") or 10))
            return 200, webhook_json(self.webhooks[hook_id])
        if method == "DELETE":
            for hook_id, hook in list(self.webhooks.items()):
                if hook.destination == destination:
                    del self.webhooks[hook_id]
            return 204, None
        raise ApiError(405, "Method not allowed")


class _Request:
    """One request's query, kept for selection caching and for the HAL links it needs."""

    def __init__(self, rel: str, pairs: list[tuple[str, str]], q: dict[str, Any], origin: str):
        self.rel, self.pairs, self.q, self.origin = rel, pairs, q, origin

    def href(self, page: int | None = None, limit: int | None = None) -> str:
        """A full URL on the host the client used, with ``page``/``limit`` replaced."""
        pairs = [(k, v) for k, v in self.pairs if page is None or k not in ("page", "limit")]
        if page is not None:
            pairs += [("limit", str(limit)), ("page", str(page))]
        query = urlencode(pairs, safe="[],")
        return f"{self.origin}{API_PREFIX}{self.rel}" + (f"?{query}" if query else "")


class _Handler(BaseHTTPRequestHandler):
    sandbox: AmoCRMSandbox
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK holds
    # the body ~40 ms, which would dominate every benchmark against the sandbox.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, raw = self.sandbox.handle(
            self.command, self.path, headers, body, self.client_address[0]
        )
        try:
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            if status != 204:
                self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if status != 204:
                self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (a slow_next longer than its read timeout).
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def serve(sandbox: AmoCRMSandbox, until: Callable[[], bool] | None = None) -> None:
    """Run a started sandbox until interrupted (for ``python -m`` or a management command)."""
    try:
        while until is None or not until():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Serve an empty amoCRM sandbox.")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--token", default="sandbox-token")
    args = parser.parse_args()
    box = AmoCRMSandbox(token=args.token, port=args.port).start()
    print(f"amoCRM sandbox at {box.base_url} (token {args.token})")
    serve(box)
