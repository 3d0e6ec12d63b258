"""The plain records every CRM adapter returns, and the rules that turn a CRM activity into a
touchpoint (DOMAIN.md, Touchpoint; the notes' 4.2). One definition for both CRMs.

A touchpoint is a completed, client-facing communication: completed calls (either side), meetings
that took place (not cancelled, not a no-show, not in the future), outgoing emails and chats.
An incoming email is stored as inbound: it does not reset days inactive (the client wrote; we
have not answered). Notes are internal unless the agency switches them on; tasks never count.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from clients.models import Channel, Direction


@dataclass(frozen=True)
class Owner:
    external_id: str
    email: str
    name: str
    archived: bool = False


@dataclass(frozen=True)
class Company:
    external_id: str
    name: str
    domain: str
    modified_at: datetime.datetime | None
    merged_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DealRecord:
    external_id: str
    name: str
    status: str  # "open", "won" or "lost"
    amount: Decimal | None
    created_at: datetime.datetime
    closed_at: datetime.datetime | None
    owner_id: str | None
    company_id: str | None
    modified_at: datetime.datetime | None


@dataclass(frozen=True)
class Activity:
    """One CRM activity, already judged: `channel`/`direction` as DOMAIN.md has them, or
    `skip_reason` saying why it is no client communication (a cancelled meeting, a note...)."""

    external_id: str
    kind: str  # the CRM's own kind: call, meeting, email, note, communication, task...
    occurred_at: datetime.datetime
    channel: str | None
    direction: str | None
    owner_id: str | None
    company_ids: tuple[str, ...]
    modified_at: datetime.datetime | None
    summary: str = ""
    skip_reason: str = ""

    @property
    def is_touchpoint(self) -> bool:
        return not self.skip_reason and self.channel is not None


@dataclass
class Page:
    """One page of a listing: its records, and the cursor of the next page ("" at the end)."""

    records: list = field(default_factory=list)
    next_cursor: str = ""


# --------------------------------------------------------------------------- the rules
# The rules in words: clients.models.CRM_CONTACT_RULES (shown in the glossary).


def call(*, completed: bool, inbound: bool) -> tuple[str | None, str | None, str]:
    if not completed:
        return None, None, "call not completed"
    return Channel.CALL, Direction.INBOUND if inbound else Direction.OUTBOUND, ""


def meeting(
    *, cancelled: bool, no_show: bool, starts_at: datetime.datetime, now: datetime.datetime
) -> tuple[str | None, str | None, str]:
    if cancelled:
        return None, None, "meeting cancelled"
    if no_show:
        return None, None, "meeting was a no-show"
    if starts_at > now:
        return None, None, "meeting in the future"
    return Channel.MEETING, Direction.OUTBOUND, ""


def email(*, incoming: bool) -> tuple[str | None, str | None, str]:
    return Channel.EMAIL, Direction.INBOUND if incoming else Direction.OUTBOUND, ""


def chat(*, incoming: bool) -> tuple[str | None, str | None, str]:
    return Channel.CHAT, Direction.INBOUND if incoming else Direction.OUTBOUND, ""


def note(*, notes_count: bool) -> tuple[str | None, str | None, str]:
    if not notes_count:
        return None, None, "notes are internal (switch CRM notes on in the agency settings)"
    return Channel.OTHER, Direction.OUTBOUND, ""
