"""The amoCRM adapter: API v4 on the account's own address, over `requests` with explicit
timeouts and no hidden retries (urllib3 `Retry(0)`: our tasks decide when to try again), every
request under the shared per-account budget. It turns amoCRM's records into the plain records
of `integrations.crm.records`, judging activities by the rules there.

Wire facts from shared/docs/notes/crm-api.md section 2: Bearer token; HAL pages
(`_links.next.href` is a full URL: only its path and query are kept, so the configured address
is used) ending in a 204 with no body; unix seconds everywhere; `filter[updated_at]` is "alpha,
limited accounts", so a window read notices when the filter was ignored and scans
`order[updated_at]=desc` down to the window instead; deleted leads listed with
`with=only_deleted`, other deletions only in the events stream; at most 7 requests a second,
then 429, then a 403 for the whole IP.

Activities are notes (on leads, contacts and companies) and tasks. A note reaches a company
directly, or through its lead's or contact's company link (`_embedded.companies`).
Linking a lead or contact to a company does not bump its notes, so a window read also re-reads
the notes and tasks of the leads and contacts changed in that window.
"""

from __future__ import annotations

import datetime
import email.utils
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.exceptions import ChunkedEncodingError
from urllib3.util.retry import Retry

from . import records
from .errors import ConnectionBroken, CrmError, NotFound, RateLimited, Transient
from .records import Activity, Company, DealRecord, Owner, Page

DEFAULT_TIMEOUT = (5, 30)
PAGE_SIZE = 250  # amoCRM's maximum `limit`
ID_BATCH = 100  # ids per lookup: 250 would take the request line near proxies' 8 KB limit
EVENTS_PAGE_SIZE = 100
ARCHIVE_LOOKBACK = datetime.timedelta(days=30)  # how far back delete events are read
WON_STATUS, LOST_STATUS = 142, 143
TASK_MEETING = 2
# `params.call_status` of a call note, as amoCRM's call docs number them: 1 left a message,
# 2 call back later, 3 not available, 4 the conversation took place, 5 wrong number,
# 6 no answer, 7 busy. A call is client communication when the conversation took place; our
# voicemail also reached the client. Telephony that sends no status: a call with a duration.
CALL_ANSWERED, CALL_LEFT_MESSAGE = 4, 1
# object type -> (listing path, key in `_embedded`)
ENDPOINTS = {
    "companies": ("/api/v4/companies", "companies"),
    "deals": ("/api/v4/leads", "leads"),
    "lead_notes": ("/api/v4/leads/notes", "notes"),
    "contact_notes": ("/api/v4/contacts/notes", "notes"),
    "company_notes": ("/api/v4/companies/notes", "notes"),
    "tasks": ("/api/v4/tasks", "tasks"),
}
ENTITIES = {"leads": "/api/v4/leads", "contacts": "/api/v4/contacts"}
NOTE_PARENT = {"lead_notes": "leads", "contact_notes": "contacts", "company_notes": "companies"}
# Whose changes in a window make us re-read an object type's records (their company may have
# changed without bumping them).
PARENTS = {"lead_notes": ("leads",), "contact_notes": ("contacts",), "tasks": ("leads", "contacts")}
EVENT_ENTITY = {"companies": "company", "leads": "lead", "contacts": "contact"}
# Delete events per object type. UNVERIFIED names (the notes: read them from /events/types);
# only those the account lists are asked for.
DELETE_EVENTS = {
    "companies": "company_deleted",
    "tasks": "task_deleted",
    "lead_notes": "common_note_deleted",
    "contact_notes": "common_note_deleted",
    "company_notes": "common_note_deleted",
}
MERGE_EVENT = "entity_merged"


def moment(value: Any) -> datetime.datetime | None:
    """amoCRM's times: unix seconds."""
    if value in (None, "", 0):
        return None
    return datetime.datetime.fromtimestamp(int(value), tz=datetime.UTC)


def seconds(value: datetime.datetime) -> int:
    return int(value.timestamp())


def relative(href: str) -> str:
    """A `_links` URL reduced to its path and query, to be asked of the configured address."""
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (a number or an HTTP date), or None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def embedded(body: dict | None, key: str) -> list[dict]:
    return list(((body or {}).get("_embedded") or {}).get(key) or [])


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _web_domain(raw: dict) -> str:
    for custom in raw.get("custom_fields_values") or []:
        if custom.get("field_code") == "WEB":
            for value in custom.get("values") or []:
                text = str(value.get("value") or "").strip()
                host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
                return host.removeprefix("www.")[:253]
    return ""


class AmoCRMAdapter:
    """What the CRM sync asks of any adapter (see `HubSpotAdapter`): owners, converted pages
    for the backfill, the records changed in a time window, and the ids amoCRM confirms
    deleted. One adapter per run: it caches the account's event types and merges."""

    source = "amocrm"
    object_types = ("companies", "deals", *NOTE_PARENT, "tasks")

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        before_request: Callable[[], None] | None = None,
        notes_count: bool = False,
        now: Callable[[], datetime.datetime] | None = None,
        page_size: int = PAGE_SIZE,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.before_request = before_request
        self.notes_count = notes_count
        self.now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self.page_size = page_size
        self.requests = 0
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["User-Agent"] = "godview-crm-sync"
        no_retries = HTTPAdapter(max_retries=Retry(0, respect_retry_after_header=False))
        self.session.mount("http://", no_retries)
        self.session.mount("https://", no_retries)
        self._event_types: set[str] | None = None
        self._merges: dict[str, tuple[str, ...]] | None = None
        self._changed_ids: dict[tuple, list[int]] = {}
        self._company_of: dict[str, dict[int, str | None]] = {}

    # ------------------------------------------------------------------- transport
    def _get(self, path: str, params: Iterable[tuple[str, Any]] = ()) -> dict | None:
        """One GET; None for amoCRM's empty answer (204). Brackets stay literal in the query,
        as amoCRM writes them, which also keeps long id lists short."""
        query = urlencode(list(params), safe="[],")
        url = self.base_url + path + (("&" if "?" in path else "?") + query if query else "")
        if self.before_request is not None:
            self.before_request()
        self.requests += 1
        try:
            response = self.session.get(url, timeout=self.timeout)
            if response.status_code == 204:
                return None
            if response.status_code == 200:
                return response.json() if response.content else None
        except (requests.Timeout, requests.ConnectionError, ChunkedEncodingError) as exc:
            raise Transient(f"amoCRM request failed: {type(exc).__name__}") from None
        except ValueError:  # a cut-off body
            raise Transient("amoCRM answered 200 with a body that is not JSON") from None
        raise self._error(response)

    def _error(self, response: requests.Response) -> CrmError:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        detail = body.get("detail") or body.get("title") or ""
        text = f"amoCRM answered {status}" + (f" ({detail})" if detail else "")
        if status == 429:
            wait = retry_after(response.headers.get("Retry-After"))
            return RateLimited(f"{text}: too many requests", wait, status=status)
        if status == 401:
            return ConnectionBroken(
                f"{text}: the token is invalid, expired or revoked; set a new AMOCRM_ACCESS_TOKEN.",
                status=status,
            )
        if status == 403:
            return ConnectionBroken(
                f"{text}: amoCRM blocked this server's IP address (too many requests; the "
                "block lasts some minutes) or the account's IP whitelist refused it.",
                status=status,
            )
        if status == 402:
            return ConnectionBroken(f"{text}: the amoCRM account is not paid.", status=status)
        if status == 404:
            return NotFound(text, status=status)
        if status >= 500:
            return Transient(text, status=status)
        return CrmError(text, status=status)

    def _walk(self, path: str, params: Iterable[tuple[str, Any]] = ()) -> Iterator[dict]:
        """The pages of a listing, following `_links.next` until a 204 or no next link."""
        body = self._get(path, params)
        while body:
            yield body
            href = ((body.get("_links") or {}).get("next") or {}).get("href")
            if not href:
                return
            body = self._get(relative(href))

    # ------------------------------------------------------------------- reading
    def owners(self) -> list[Owner]:
        found = []
        for body in self._walk("/api/v4/users", [("limit", self.page_size)]):
            for r in embedded(body, "users"):
                rights = r.get("rights") or {}
                found.append(
                    Owner(
                        external_id=str(r["id"]),
                        email=(r.get("email") or "").strip(),
                        name=r.get("name") or "",
                        archived=rights.get("is_active") is False,
                    )
                )
        return found

    def backfill(self, object_type: str, cursor: str) -> Page:
        path, key = ENDPOINTS[object_type]
        if cursor:
            body = self._get(cursor)
        else:
            body = self._get(path, [("limit", self.page_size), ("order[id]", "asc")])
        href = ((body or {}).get("_links") or {}).get("next", {}).get("href")
        raws = embedded(body, key)
        return Page(
            records=self.convert(object_type, raws),
            next_cursor=relative(href) if href and raws else "",
        )

    def changed(self, object_type: str, since: datetime.datetime, until: datetime.datetime):
        """Pages of records modified in [since, until], then (notes, tasks) the records of
        the leads and contacts modified in it, whose company link may have moved."""
        path, key = ENDPOINTS[object_type]
        low, high = seconds(since), seconds(until)
        if object_type == "companies":
            self._merges = self._merge_map(low, high)
        seen: set[int] = set()
        for raws in self._window(path, key, low, high):
            seen.update(r["id"] for r in raws)
            yield Page(records=self.convert(object_type, raws))
        if object_type == "deals":
            self._changed_ids[("leads", low, high)] = sorted(seen)
        for entity in PARENTS.get(object_type, ()):
            parents = self._parents_changed(entity, low, high)
            for batch in chunks(parents, ID_BATCH):
                params: list[tuple[str, Any]] = [("filter[entity_id][]", i) for i in batch]
                if object_type == "tasks":
                    params.append(("filter[entity_type]", entity))
                for body in self._walk(path, [*params, ("limit", self.page_size)]):
                    raws = [r for r in embedded(body, key) if r["id"] not in seen]
                    seen.update(r["id"] for r in raws)
                    if raws:
                        yield Page(records=self.convert(object_type, raws))

    def _window(self, path: str, key: str, low: int, high: int) -> Iterator[list[dict]]:
        """Raw records with `updated_at` in [low, high], oldest first, as a keyset on
        `updated_at` (a record updated while we read moves out of the window, and would shift
        an offset page past one it never showed). A page all in one second is paged through by
        number. A record outside what was asked means the account ignores the filter: scan."""
        start, shown = low, {}
        while True:
            params = [
                ("filter[updated_at][from]", start),
                ("filter[updated_at][to]", high),
                ("order[updated_at]", "asc"),
                ("limit", self.page_size),
            ]
            raws = embedded(self._get(path, params), key)
            if any(not start <= (r.get("updated_at") or 0) <= high for r in raws):
                yield from self._scan(path, key, low, high)
                return
            fresh = [r for r in raws if shown.get(r["id"]) != r["updated_at"]]
            shown.update((r["id"], r["updated_at"]) for r in raws)
            if fresh:
                yield fresh
            if len(raws) < self.page_size:
                return
            last = raws[-1]["updated_at"]
            if last == start:
                second = [
                    ("filter[updated_at][from]", start),
                    ("filter[updated_at][to]", start),
                    ("order[id]", "asc"),
                    ("limit", self.page_size),
                ]
                for body in self._walk(path, second):
                    fresh = [r for r in embedded(body, key) if shown.get(r["id"]) != start]
                    shown.update((r["id"], r["updated_at"]) for r in fresh)
                    if fresh:
                        yield fresh
                last += 1
            start = last

    def _scan(self, path: str, key: str, low: int, high: int) -> Iterator[list[dict]]:
        """Without the filter: newest first, down to the window's start."""
        params = [("order[updated_at]", "desc"), ("limit", self.page_size)]
        for body in self._walk(path, params):
            raws = embedded(body, key)
            inside = [r for r in raws if low <= (r.get("updated_at") or 0) <= high]
            if inside:
                yield inside
            if any((r.get("updated_at") or 0) < low for r in raws):
                return

    def _parents_changed(self, entity: str, low: int, high: int) -> list[int]:
        cache_key = (entity, low, high)
        if cache_key not in self._changed_ids:
            pages = self._window(ENTITIES[entity], entity, low, high)
            self._changed_ids[cache_key] = sorted({r["id"] for raws in pages for r in raws})
        return self._changed_ids[cache_key]

    def archived(self, object_type: str) -> list[str]:
        """External ids (as `convert` names them) of records amoCRM confirms deleted: leads in
        the trash (`with=only_deleted`); companies, tasks and notes with a delete event that a
        lookup by id no longer finds."""
        if object_type == "deals":
            params = [("with", "only_deleted"), ("limit", self.page_size)]
            return [
                str(r["id"])
                for body in self._walk("/api/v4/leads", params)
                for r in embedded(body, "leads")
                if r.get("is_deleted")
            ]
        event = DELETE_EVENTS[object_type]
        if event not in self.event_types():
            return []
        since = seconds(self.now() - ARCHIVE_LOOKBACK)
        path, key = ENDPOINTS[object_type]
        if object_type == "companies":
            candidates = [e["entity_id"] for e in self._events(event, "company", since)]
            return [str(i) for i in self._missing(path, key, candidates)]
        if object_type == "tasks":
            candidates = [e["entity_id"] for e in self._events(event, "task", since)]
            return [f"task-{i}" for i in self._missing(path, key, candidates)]
        entity = EVENT_ENTITY[NOTE_PARENT[object_type]]
        candidates = [
            value["note"].get("id")
            for e in self._events(event, entity, since)
            for value in (e.get("value_before") or []) + (e.get("value_after") or [])
            if isinstance(value, dict) and isinstance(value.get("note"), dict)
        ]
        candidates = [i for i in candidates if i]
        return [f"note-{i}" for i in self._missing(path, key, candidates)]

    def _lookup(self, path: str, key: str, ids: Iterable[int]) -> Iterator[dict]:
        """The records with these ids, one request per batch (a batch fits one page)."""
        size = min(ID_BATCH, self.page_size)
        for batch in chunks(sorted(ids), size):
            params = [*(("filter[id][]", i) for i in batch), ("limit", size)]
            yield from embedded(self._get(path, params), key)

    def _missing(self, path: str, key: str, ids: list) -> list[int]:
        """Of these ids, those a lookup by id does not find (a restored one is found)."""
        ids = sorted({int(i) for i in ids})
        found = {r["id"] for r in self._lookup(path, key, ids)}
        return [i for i in ids if i not in found]

    # ------------------------------------------------------------------- events
    def event_types(self) -> set[str]:
        """The event type names the account lists (read once per adapter)."""
        if self._event_types is None:
            body = self._get("/api/v4/events/types")
            types = {t.get("key") for t in embedded(body, "events_types")}
            types.discard(None)
            # An unreadable list: fall back to the names the notes and the sandbox use.
            self._event_types = types or {"company_deleted", "task_deleted", MERGE_EVENT}
        return self._event_types

    def _events(
        self, event_type: str, entity: str, since: int | None = None, until: int | None = None
    ) -> Iterator[dict]:
        params = [
            ("filter[type]", event_type),
            ("filter[entity]", entity),
            ("limit", EVENTS_PAGE_SIZE),
        ]
        if since is not None:
            params.append(("filter[created_at][from]", since))
        if until is not None:
            params.append(("filter[created_at][to]", until))
        for body in self._walk("/api/v4/events", params):
            yield from embedded(body, "events")

    def _merge_map(self, low: int | None = None, high: int | None = None) -> dict:
        """survivor company id -> the ids merged into it (UNVERIFIED event shape: the
        sandbox's `entity_merged`, duplicates in `value_before`)."""
        if MERGE_EVENT not in self.event_types():
            return {}
        merges: dict[str, list[str]] = {}
        for e in self._events(MERGE_EVENT, "company", low, high):
            dups = [
                str(v["entity"]["id"])
                for v in e.get("value_before") or []
                if isinstance(v, dict) and isinstance(v.get("entity"), dict)
            ]
            merges.setdefault(str(e["entity_id"]), []).extend(dups)
        return {k: tuple(dict.fromkeys(v)) for k, v in merges.items()}

    # ------------------------------------------------------------------- converting
    def convert(self, object_type: str, raws: list[dict]) -> list:
        """Plain records. A note or task whose lead or contact is gone (deleted, in the trash)
        is left out: its company is unknown, and leaving it out keeps its touchpoint until
        amoCRM confirms the activity itself deleted."""
        if object_type == "companies":
            if self._merges is None:
                self._merges = self._merge_map()
            return [self.company(r, self._merges.get(str(r["id"]), ())) for r in raws]
        if object_type == "deals":
            return [self.deal(r) for r in raws]
        if object_type == "tasks":
            links: dict[tuple[str, int], str] = {}
            for entity in ("leads", "contacts", "companies"):
                ids = {r["entity_id"] for r in raws if r.get("entity_type") == entity}
                links.update(((entity, i), c) for i, c in self.companies_of(entity, ids).items())
            keys = [(r, (r.get("entity_type"), r.get("entity_id"))) for r in raws]
            return [self.task(r, links[key]) for r, key in keys if key in links]
        entity = NOTE_PARENT[object_type]
        parents = self.companies_of(entity, {r["entity_id"] for r in raws})
        return [self.note(r, parents[r["entity_id"]]) for r in raws if r["entity_id"] in parents]

    def companies_of(self, entity: str, ids: Iterable[int]) -> dict[int, str]:
        """Of these leads, contacts or companies, those that exist -> their company's id ("":
        none). A company is its own; a lead or contact has at most one, in
        `_embedded.companies`. Remembered for the run, as notes on one lead spread over pages."""
        ids = set(ids)
        if entity == "companies":
            return {i: str(i) for i in ids}
        known = self._company_of.setdefault(entity, {})
        unknown = ids - set(known)
        found: dict[int, str | None] = dict.fromkeys(unknown)  # None: not found
        for record in self._lookup(ENTITIES[entity], entity, unknown):
            company = embedded(record, "companies")
            found[record["id"]] = str(company[0]["id"]) if company else ""
        known.update(found)
        return {i: known[i] for i in ids if known[i] is not None}

    def company(self, raw: dict, merged: tuple[str, ...] = ()) -> Company:
        return Company(
            external_id=str(raw["id"]),
            name=(raw.get("name") or "")[:300],
            domain=_web_domain(raw),
            modified_at=moment(raw.get("updated_at")),
            merged_ids=merged,
        )

    def deal(self, raw: dict) -> DealRecord:
        status_id = raw.get("status_id")
        status = {WON_STATUS: "won", LOST_STATUS: "lost"}.get(status_id, "open")
        companies = embedded(raw, "companies")
        price = raw.get("price")
        owner = raw.get("responsible_user_id")
        return DealRecord(
            external_id=str(raw["id"]),
            name=(raw.get("name") or f"Lead {raw['id']}")[:300],
            status=status,
            amount=Decimal(int(price)).quantize(Decimal("0.01")) if price is not None else None,
            created_at=moment(raw.get("created_at")) or self.now(),
            closed_at=moment(raw.get("closed_at")) if status != "open" else None,
            owner_id=str(owner) if owner else None,
            company_id=str(companies[0]["id"]) if companies else None,
            modified_at=moment(raw.get("updated_at")),
        )

    def note(self, raw: dict, company_id: str | None) -> Activity:
        note_type = raw.get("note_type") or ""
        params = raw.get("params") if isinstance(raw.get("params"), dict) else {}
        kind, summary = note_type[:20] or "note", ""
        if note_type in ("call_in", "call_out"):
            channel, direction, skip = records.call(
                completed=call_answered(note_type, params), inbound=note_type == "call_in"
            )
            kind, summary = "call", params.get("call_result") or ""
        elif note_type == "amomail_message":
            channel, direction, skip = records.email(incoming=bool(params.get("income")))
            kind, summary = "email", params.get("subject") or ""
        elif note_type in ("sms_in", "sms_out"):
            channel, direction, skip = records.chat(incoming=note_type == "sms_in")
            kind, summary = "sms", params.get("text") or ""
        elif note_type == "common":
            channel, direction, skip = records.note(notes_count=self.notes_count)
            kind, summary = "note", params.get("text") or ""
        else:
            channel, direction, skip = None, None, f"{note_type} notes are no communication"
        owner = raw.get("responsible_user_id") or raw.get("created_by")
        return Activity(
            external_id=f"note-{raw['id']}",
            kind=kind,
            occurred_at=moment(raw.get("created_at")) or self.now(),
            channel=channel,
            direction=direction,
            owner_id=str(owner) if owner else None,
            company_ids=(company_id,) if company_id else (),
            modified_at=moment(raw.get("updated_at")),
            summary=str(summary)[:500],
            skip_reason=skip,
        )

    def task(self, raw: dict, company_id: str | None) -> Activity:
        """A completed meeting task is a meeting at its `complete_till` (unless that is still
        to come); every other task is no communication."""
        created = moment(raw.get("created_at")) or self.now()
        when = moment(raw.get("complete_till")) or created
        meeting = raw.get("task_type_id") == TASK_MEETING
        if meeting and raw.get("is_completed"):
            channel, direction, skip = records.meeting(
                cancelled=False, no_show=False, starts_at=when, now=self.now()
            )
        else:
            channel, direction = None, None
            skip = "meeting not marked done" if meeting else "tasks are no communication"
        result = raw.get("result") if isinstance(raw.get("result"), dict) else {}
        owner = raw.get("responsible_user_id")
        return Activity(
            external_id=f"task-{raw['id']}",
            kind="meeting" if meeting else "task",
            occurred_at=when,
            channel=channel,
            direction=direction,
            owner_id=str(owner) if owner else None,
            company_ids=(company_id,) if company_id else (),
            modified_at=moment(raw.get("updated_at")),
            summary=str(result.get("text") or raw.get("text") or "")[:500],
            skip_reason=skip,
        )


def call_answered(note_type: str, params: dict) -> bool:
    """Whether a call note is a call that happened (see CALL_ANSWERED)."""
    status = params.get("call_status")
    if status in (None, ""):
        return int(params.get("duration") or 0) > 0
    try:
        status = int(status)
    except (TypeError, ValueError):
        return False
    return status == CALL_ANSWERED or (note_type == "call_out" and status == CALL_LEFT_MESSAGE)
