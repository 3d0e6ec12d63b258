"""The HubSpot adapter: CRM v3 objects and search, v4 associations, over `requests` with
explicit timeouts and no hidden retries (urllib3 `Retry(0)`: our tasks decide when to try
again), every request under the shared per-account budget. It turns HubSpot's records into
the plain records of `integrations.crm.records`, judging activities by the rules there.

Wire facts from shared/docs/notes/crm-api.md section 1: string ids and property values, ISO
times with Z (or ms), `paging.next.after` absent on the last page, search capped at 10,000
results per query (400 past it) and at 200 a page, associations batch-read answering 207 for
unknown ids, 429 bodies naming `TEN_SECONDLY_ROLLING` or `DAILY`, `Retry-After` not always sent.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import records
from .errors import ConnectionBroken, CrmError, DailyLimit, NotFound, RateLimited, Transient
from .records import Activity, Company, DealRecord, Owner, Page

DEFAULT_TIMEOUT = (5, 30)
# Search has its own limit (5 requests a second per account, no rate-limit headers); we keep
# to 3. One CRM sync runs at a time (an advisory lock), so pacing here paces the account.
SEARCH_INTERVAL = 1 / 3
LIST_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
ACTIVITY_TYPES = ("calls", "meetings", "emails", "communications", "notes")
COMMON = ["hs_lastmodifieddate", "hs_timestamp", "hubspot_owner_id"]
PROPERTIES = {
    "companies": ["name", "domain", "hs_lastmodifieddate", "hs_merged_object_ids"],
    "deals": [
        "dealname",
        "amount",
        "closedate",
        "createdate",
        "hs_is_closed",
        "hs_is_closed_won",
        "hubspot_owner_id",
        "hs_lastmodifieddate",
    ],
    "calls": [*COMMON, "hs_call_status", "hs_call_direction", "hs_call_title"],
    "meetings": [
        *COMMON,
        "hs_meeting_outcome",
        "hs_meeting_start_time",
        "hs_meeting_title",
    ],
    "emails": [*COMMON, "hs_email_direction", "hs_email_subject"],
    "communications": [*COMMON, "hs_communication_channel_type", "hs_communication_body"],
    "notes": [*COMMON],
}
KIND = {
    "calls": "call",
    "meetings": "meeting",
    "emails": "email",
    "communications": "communication",
    "notes": "note",
}


def moment(value: Any) -> datetime.datetime | None:
    """HubSpot's times: ISO with Z, or milliseconds since the epoch (as a string)."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return datetime.datetime.fromtimestamp(int(text) / 1000, tz=datetime.UTC)
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def ms(value: datetime.datetime) -> str:
    return str(int(value.timestamp() * 1000))


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


class HubSpot:
    source = "hubspot"

    def __init__(
        self,
        *,
        token: str,
        base_url: str = "https://api.hubapi.com",
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        before_request: Callable[[], None] | None = None,
        notes_count: bool = False,
        now: Callable[[], datetime.datetime] | None = None,
        search_interval: float = SEARCH_INTERVAL,
    ):
        self.base_url = base_url.rstrip("/")
        self.search_interval = search_interval
        self._last_search = 0.0
        self.timeout = timeout
        self.before_request = before_request
        self.notes_count = notes_count
        self.now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self.requests = 0
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        no_retries = HTTPAdapter(max_retries=Retry(0, respect_retry_after_header=False))
        self.session.mount("http://", no_retries)
        self.session.mount("https://", no_retries)

    # ------------------------------------------------------------------- transport
    def _call(self, method: str, path: str, *, ok=(200,), **kwargs) -> Any:
        if self.before_request is not None:
            self.before_request()
        self.requests += 1
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
            if response.status_code in ok:
                return response.json() if response.content else None
        except (requests.RequestException, ValueError) as exc:
            # Timeouts, dropped connections, a body cut short or not JSON: try again later.
            raise Transient(f"HubSpot request failed: {type(exc).__name__}") from None
        raise self._error(response)

    def _error(self, response: requests.Response) -> CrmError:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        text = f"HubSpot answered {status}: {body.get('category') or body.get('policyName') or ''}"
        text = text.rstrip(": ") + (f" ({body['message']})" if body.get("message") else "")
        if status == 429:
            retry = response.headers.get("Retry-After")
            retry_after = float(retry) if retry and retry.replace(".", "").isdigit() else None
            if body.get("policyName") == "DAILY":
                return DailyLimit(text, retry_after, status=status)
            return RateLimited(text, retry_after, status=status)
        if status in (401, 403):
            return ConnectionBroken(text, status=status)
        if status == 404:
            return NotFound(text, status=status)
        if status >= 500:
            return Transient(text, status=status)
        return CrmError(text, status=status)

    # ------------------------------------------------------------------- reading
    def owners(self) -> list[Owner]:
        found = []
        for archived in ("false", "true"):
            after = None
            while True:
                params = {"limit": LIST_LIMIT, "archived": archived}
                if after:
                    params["after"] = after
                body = self._call("GET", "/crm/v3/owners", params=params)
                for r in body.get("results", []):
                    name = " ".join(p for p in (r.get("firstName"), r.get("lastName")) if p)
                    found.append(
                        Owner(
                            external_id=str(r["id"]),
                            email=(r.get("email") or "").strip(),
                            name=name,
                            archived=archived == "true" or bool(r.get("archived")),
                        )
                    )
                after = ((body.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        return found

    def list_page(self, object_type: str, cursor: str = "", *, archived: bool = False) -> Page:
        """One page of a plain listing (the backfill, and archived records)."""
        params: dict[str, Any] = {
            "limit": LIST_LIMIT,
            "properties": ",".join(PROPERTIES[object_type]),
            "archived": "true" if archived else "false",
        }
        if cursor:
            params["after"] = cursor
        body = self._call("GET", f"/crm/v3/objects/{object_type}", params=params)
        after = ((body.get("paging") or {}).get("next") or {}).get("after") or ""
        return Page(records=body.get("results", []), next_cursor=after)

    def search_window(
        self,
        object_type: str,
        since: datetime.datetime,
        until: datetime.datetime,
        after_id: str = "",
    ) -> tuple[list[dict], int, str]:
        """One page of records modified in [since, until], by id, after `after_id` (a
        keyset, so the 10,000 cap applies to the window, not to how far we page)."""
        filters = [
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": ms(since)},
            {"propertyName": "hs_lastmodifieddate", "operator": "LTE", "value": ms(until)},
        ]
        if after_id:
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after_id})
        wait = self._last_search + self.search_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_search = time.monotonic()
        body = self._call(
            "POST",
            f"/crm/v3/objects/{object_type}/search",
            json={
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": PROPERTIES[object_type],
                "limit": SEARCH_LIMIT,
            },
        )
        results = body.get("results", [])
        more = ((body.get("paging") or {}).get("next") or {}).get("after")
        last = str(results[-1]["id"]) if results and more else ""
        return results, int(body.get("total") or 0), last

    def companies_of(self, object_type: str, ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """v4 batch read of the companies each record is associated with (unknown ids are
        reported by HubSpot with a 207 and simply have none)."""
        ids = list(ids)
        found: dict[str, list[str]] = {i: [] for i in ids}
        for start in range(0, len(ids), 100):
            inputs = [{"id": i} for i in ids[start : start + 100]]
            while inputs:
                body = self._call(
                    "POST",
                    f"/crm/v4/associations/{object_type}/companies/batch/read",
                    json={"inputs": inputs},
                    ok=(200, 207),
                )
                inputs = []
                for result in body.get("results", []):
                    source = str(result["from"]["id"])
                    found.setdefault(source, []).extend(
                        str(t["toObjectId"]) for t in result.get("to", [])
                    )
                    after = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if after:
                        inputs.append({"id": source, "after": after})
        return {k: tuple(dict.fromkeys(v)) for k, v in found.items()}

    # ------------------------------------------------------------------- converting
    def company(self, raw: dict) -> Company:
        p = raw.get("properties") or {}
        merged = tuple(i for i in (p.get("hs_merged_object_ids") or "").split(";") if i)
        return Company(
            external_id=str(raw["id"]),
            name=(p.get("name") or "")[:300],
            domain=(p.get("domain") or "")[:253],
            modified_at=moment(p.get("hs_lastmodifieddate") or raw.get("updatedAt")),
            merged_ids=merged,
        )

    def deal(self, raw: dict, company_ids: tuple[str, ...]) -> DealRecord:
        p = raw.get("properties") or {}
        closed = p.get("hs_is_closed") == "true"
        won = p.get("hs_is_closed_won") == "true"
        status = "won" if won else ("lost" if closed else "open")
        return DealRecord(
            external_id=str(raw["id"]),
            name=(p.get("dealname") or f"Deal {raw['id']}")[:300],
            status=status,
            amount=_decimal(p.get("amount")),
            created_at=moment(p.get("createdate") or raw.get("createdAt")) or self.now(),
            closed_at=moment(p.get("closedate")) if status != "open" else None,
            owner_id=p.get("hubspot_owner_id") or None,
            company_id=company_ids[0] if company_ids else None,
            modified_at=moment(p.get("hs_lastmodifieddate") or raw.get("updatedAt")),
        )

    def activity(self, object_type: str, raw: dict, company_ids: tuple[str, ...]) -> Activity:
        p = raw.get("properties") or {}
        occurred = moment(p.get("hs_timestamp")) or moment(raw.get("createdAt")) or self.now()
        summary = ""
        if object_type == "calls":
            channel, direction, skip = records.call(
                completed=p.get("hs_call_status") == "COMPLETED",
                inbound=p.get("hs_call_direction") == "INBOUND",
            )
            summary = p.get("hs_call_title") or ""
        elif object_type == "meetings":
            starts = moment(p.get("hs_meeting_start_time")) or occurred
            outcome = (p.get("hs_meeting_outcome") or "").upper()
            channel, direction, skip = records.meeting(
                cancelled=outcome in ("CANCELED", "CANCELLED"),
                no_show=outcome == "NO_SHOW",
                starts_at=starts,
                now=self.now(),
            )
            occurred, summary = starts, p.get("hs_meeting_title") or ""
        elif object_type == "emails":
            channel, direction, skip = records.email(
                incoming=p.get("hs_email_direction") == "INCOMING_EMAIL"
            )
            summary = p.get("hs_email_subject") or ""
        elif object_type == "communications":
            channel, direction, skip = records.chat(incoming=False)
            summary = p.get("hs_communication_body") or ""
        else:
            channel, direction, skip = records.note(notes_count=self.notes_count)
        return Activity(
            external_id=f"{KIND[object_type]}-{raw['id']}",
            kind=KIND[object_type],
            occurred_at=occurred,
            channel=channel,
            direction=direction,
            owner_id=p.get("hubspot_owner_id") or None,
            company_ids=company_ids,
            modified_at=moment(p.get("hs_lastmodifieddate") or raw.get("updatedAt")),
            summary=summary[:500],
            skip_reason=skip,
        )


# --------------------------------------------------------------------------- the adapter
SPLIT_AT = 9_000  # bisect a search window before HubSpot's 10,000-result cap
ONE_MS = datetime.timedelta(milliseconds=1)


class HubSpotAdapter(HubSpot):
    """What the CRM sync asks of any adapter: converted pages for the backfill, the records
    changed in a time window, and the ids the CRM confirms archived."""

    object_types = ("companies", "deals", *ACTIVITY_TYPES)

    def convert(self, object_type: str, raws: list[dict]) -> list:
        if object_type == "companies":
            return [self.company(r) for r in raws]
        links = self.companies_of(object_type, [str(r["id"]) for r in raws]) if raws else {}
        if object_type == "deals":
            return [self.deal(r, links.get(str(r["id"]), ())) for r in raws]
        return [self.activity(object_type, r, links.get(str(r["id"]), ())) for r in raws]

    def backfill(self, object_type: str, cursor: str) -> Page:
        page = self.list_page(object_type, cursor)
        page.records = self.convert(object_type, page.records)
        return page

    def changed(self, object_type: str, since: datetime.datetime, until: datetime.datetime):
        """Pages of records modified in [since, until]: a window whose total passes SPLIT_AT
        is bisected; inside a window, pages follow an id keyset (never HubSpot's offset, so
        even one millisecond holding more than 10,000 records is read whole)."""
        windows = [(since, until)]
        while windows:
            low, high = windows.pop(0)
            results, total, last = self.search_window(object_type, low, high)
            if total > SPLIT_AT and high - low > ONE_MS:
                middle = low + (high - low) / 2
                windows[0:0] = [(low, middle), (middle + ONE_MS, high)]
                continue
            yield Page(records=self.convert(object_type, results))
            while last:
                results, _total, last = self.search_window(object_type, low, high, last)
                yield Page(records=self.convert(object_type, results))

    def archived(self, object_type: str) -> list[str]:
        """External ids (as `convert` names them) of the records HubSpot lists as archived
        (deleted; kept about 90 days)."""
        prefix = f"{KIND[object_type]}-" if object_type in KIND else ""
        ids, cursor = [], ""
        while True:
            page = self.list_page(object_type, cursor, archived=True)
            ids += [f"{prefix}{r['id']}" for r in page.records]
            cursor = page.next_cursor
            if not cursor:
                return ids
