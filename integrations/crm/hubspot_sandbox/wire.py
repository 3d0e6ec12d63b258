"""HubSpot's wire format: object types, timestamps, cursors and the error bodies it answers.

Everything here is data or a pure function; the store and the server build on it. Where the
research notes (``shared/docs/notes/crm-api.md``) mark a fact UNVERIFIED, the comment says so.
"""

from __future__ import annotations

import base64
import functools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

# -------------------------------------------------------------------------- object types


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type as the v3/v4 APIs name it."""

    name: str  # the plural path name: "deals"
    type_id: str  # "0-3"
    singular: str  # "deal": association messages and v3 association type names
    read_scope: str
    modified_property: str  # contacts alone use "lastmodifieddate"
    created_property: str
    defaults: tuple[str, ...]  # properties returned when a request names none


_ACTIVITY_DEFAULTS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType(
            "companies",
            "0-2",
            "company",
            "crm.objects.companies.read",
            "hs_lastmodifieddate",
            "createdate",
            ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
        ),
        ObjectType(
            "deals",
            "0-3",
            "deal",
            "crm.objects.deals.read",
            "hs_lastmodifieddate",
            "createdate",
            (
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ),
        ),
        ObjectType(
            "contacts",
            "0-1",
            "contact",
            "crm.objects.contacts.read",
            "lastmodifieddate",
            "createdate",
            ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
        ),
        # Engagements are read with the contacts scope (HubSpot's calls/meetings guides).
        ObjectType(
            "calls",
            "0-48",
            "call",
            "crm.objects.contacts.read",
            "hs_lastmodifieddate",
            "hs_createdate",
            _ACTIVITY_DEFAULTS,
        ),
        ObjectType(
            "emails",
            "0-49",
            "email",
            "crm.objects.contacts.read",
            "hs_lastmodifieddate",
            "hs_createdate",
            _ACTIVITY_DEFAULTS,
        ),
        ObjectType(
            "meetings",
            "0-47",
            "meeting",
            "crm.objects.contacts.read",
            "hs_lastmodifieddate",
            "hs_createdate",
            _ACTIVITY_DEFAULTS,
        ),
        ObjectType(
            "notes",
            "0-46",
            "note",
            "crm.objects.contacts.read",
            "hs_lastmodifieddate",
            "hs_createdate",
            _ACTIVITY_DEFAULTS,
        ),
        ObjectType(
            "communications",
            "0-18",
            "communication",
            "crm.objects.contacts.read",
            "hs_lastmodifieddate",
            "hs_createdate",
            _ACTIVITY_DEFAULTS,
        ),
    )
}
_ALIASES = {
    alias: t.name for t in OBJECT_TYPES.values() for alias in (t.name, t.type_id, t.singular)
}
ACTIVITY_TYPES = ("calls", "emails", "meetings", "notes", "communications")
OWNERS_SCOPE = "crm.objects.owners.read"


def object_type(name: str) -> ObjectType | None:
    """The type a path segment names: plural, singular or ``0-3`` style, any case."""
    canonical = _ALIASES.get(name.lower())
    return OBJECT_TYPES[canonical] if canonical else None


# HubSpot-defined association type ids, from -> to (the v4 associations guide's table).
# ``PRIMARY`` holds the labelled "Primary" type where one exists.
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("calls", "contacts"): 194,
    ("contacts", "calls"): 193,
    ("calls", "companies"): 182,
    ("companies", "calls"): 181,
    ("calls", "deals"): 206,
    ("deals", "calls"): 205,
    ("emails", "contacts"): 198,
    ("contacts", "emails"): 197,
    ("emails", "companies"): 186,
    ("companies", "emails"): 185,
    ("emails", "deals"): 210,
    ("deals", "emails"): 209,
    ("meetings", "contacts"): 200,
    ("contacts", "meetings"): 199,
    ("meetings", "companies"): 188,
    ("companies", "meetings"): 187,
    ("meetings", "deals"): 212,
    ("deals", "meetings"): 211,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("notes", "companies"): 190,
    ("companies", "notes"): 189,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
    # UNVERIFIED: communication ids recalled from the guide, not re-read.
    ("communications", "contacts"): 81,
    ("contacts", "communications"): 82,
    ("communications", "deals"): 85,
    ("deals", "communications"): 86,
    ("communications", "companies"): 87,
    ("companies", "communications"): 88,
}
PRIMARY_TYPE_IDS = {
    ("contacts", "companies"): 1,
    ("companies", "contacts"): 2,
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
}

# Properties each type defines (asked for, they come back null when unset; names outside
# this set and never written are unknown, and dropped from answers like HubSpot does).
_TYPE_PROPERTIES = {
    "companies": "name domain industry city country",
    "deals": "dealname amount closedate dealstage pipeline hs_createdate hs_is_closed "
    "hs_is_closed_won hs_is_closed_lost closed_lost_reason hs_deal_stage_probability",
    "contacts": "email firstname lastname",
    "calls": "hs_timestamp hs_call_status hs_call_direction hs_call_title hs_call_body "
    "hs_call_duration",
    "emails": "hs_timestamp hs_email_direction hs_email_subject hs_email_text hs_email_status",
    "meetings": "hs_timestamp hs_meeting_title hs_meeting_start_time hs_meeting_end_time "
    "hs_meeting_outcome hs_meeting_body",
    "notes": "hs_timestamp hs_note_body",
    "communications": "hs_timestamp hs_communication_channel_type hs_communication_body",
}
KNOWN_PROPERTIES: dict[str, frozenset[str]] = {
    name: frozenset(
        {"hs_object_id", "hubspot_owner_id", "hs_merged_object_ids", t.created_property}
        | {t.modified_property, *t.defaults, *_TYPE_PROPERTIES[name].split()}
    )
    for name, t in OBJECT_TYPES.items()
}

# Properties whose values are date-times: searched as ms, returned as ISO strings.
DATETIME_PROPERTIES = frozenset(
    {
        "createdate",
        "hs_createdate",
        "hs_lastmodifieddate",
        "lastmodifieddate",
        "hs_timestamp",
        "closedate",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
        "notes_last_contacted",
        "notes_last_updated",
    }
)
NUMERIC_PROPERTIES = frozenset(
    {"hs_object_id", "amount", "hs_call_duration", "hs_deal_stage_probability"}
)

# Enumerations the sync reads. hs_meeting_outcome and hs_email_direction are UNVERIFIED in the
# notes (4.3 question 5); these are the values HubSpot's UI offers.
CALL_STATUSES = ("COMPLETED", "BUSY", "NO_ANSWER", "FAILED", "CANCELED", "IN_PROGRESS")
CALL_DIRECTIONS = ("INBOUND", "OUTBOUND")
MEETING_OUTCOMES = ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")
EMAIL_DIRECTIONS = ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL")
COMMUNICATION_CHANNELS = ("WHATS_APP", "LINKEDIN_MESSAGE", "SMS")

# -------------------------------------------------------------------------- time


def ms_of(moment: datetime) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    """HubSpot's date-time: UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=65536)
def parse_ms(value: str) -> int:
    """A filter or property value as epoch ms: digits are ms, anything else ISO 8601."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return ms_of(datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC))
    return ms_of(datetime.fromisoformat(text.replace("Z", "+00:00")))


def to_ms(value: datetime | date | int | str) -> int:
    """What an arrange helper accepts as a time: datetime, date, epoch ms or ISO text."""
    if isinstance(value, datetime):
        return ms_of(value)
    if isinstance(value, date):
        return ms_of(datetime.combine(value, datetime.min.time(), UTC))
    if isinstance(value, int):
        return value
    return parse_ms(str(value))


def property_value(name: str, value: Any) -> str | None:
    """A property value as HubSpot stores it: always a string (or absent)."""
    if value is None:
        return None
    if name in DATETIME_PROPERTIES and not isinstance(value, str | bool):
        return iso_ms(to_ms(value))
    if name in DATETIME_PROPERTIES and isinstance(value, str) and value:
        return iso_ms(parse_ms(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal):
        text = format(Decimal(str(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


# -------------------------------------------------------------------------- cursors


def encode_cursor(value: int) -> str:
    """An opaque ``after`` cursor (the notes: never parse it)."""
    return base64.urlsafe_b64encode(f"c{value}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text[1:]) if text[:1] == "c" and text[1:].isdigit() else None


# -------------------------------------------------------------------------- errors

AUTH_MISSING_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)


class HubSpotError(Exception):
    """Raised inside a handler to answer ``status`` with ``body`` (None: an empty body)."""

    def __init__(
        self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None
    ):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """HubSpot's error envelope: status, message, correlationId, category, then extras."""
    return {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
        **extra,
    }


def validation_error(message: str, **extra: Any) -> HubSpotError:
    return HubSpotError(400, error_body(message, "VALIDATION_ERROR", **extra))


def unauthenticated() -> HubSpotError:
    return HubSpotError(
        401,
        error_body(AUTH_MISSING_MESSAGE, "INVALID_AUTHENTICATION"),
        {"x-hubspot-auth-failure": "401 Unauthorized"},
    )


def expired(expired_ms: int, now_ms: int) -> HubSpotError:
    """The OAuth expiry body, with HubSpot's coarse "N unit(s) ago" wording."""
    seconds = max(0, (now_ms - expired_ms) // 1000)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            ago = f"{seconds // size} {unit}(s)"
            break
    else:
        ago = f"{seconds} second(s)"
    body = error_body(
        f"The OAuth token used to make this call expired {ago} ago.",
        "EXPIRED_AUTHENTICATION",
        context={"expire time": [iso_ms(expired_ms)]},
    )
    return HubSpotError(401, body, {"x-hubspot-auth-failure": "401 Unauthorized"})


def missing_scopes(required: list[str]) -> HubSpotError:
    body = {
        "status": "error",
        "message": SCOPES_MESSAGE,
        "correlationId": correlation_id(),
        "errors": [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": required},
            }
        ],
        "links": {"scopes": "https://developers.hubspot.com/scopes"},
        "category": "MISSING_SCOPES",
    }
    return HubSpotError(403, body)


def rate_limited(
    policy: str, group: str | None, retry_after: int | None, headers: dict[str, str]
) -> HubSpotError:
    """The 429 bodies of the notes (1.4): ten-secondly, daily and the search limit."""
    message = {
        "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
        "DAILY": "You have reached your daily limit.",
        "SECONDLY": "You have reached your secondly limit.",
    }[policy]
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
    }
    if group:
        body["groupName"] = group
    out = dict(headers)
    if retry_after is not None:
        out["Retry-After"] = str(retry_after)
    return HubSpotError(429, body, out)


def server_error(status: int) -> dict[str, Any]:
    phrase = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    return error_body(phrase.get(status, "Internal Server Error"), "INTERNAL_ERROR")
