"""A CRM sandbox (HubSpot or amoCRM) generated from the agency in the database, so anyone can
watch a CRM sync work without an account (``manage.py crm_sandbox``).

The sandbox gets an owner (HubSpot) or user (amoCRM) per staff member (same email, so the sync
maps them), a company per client (its name, a domain derived from it, one contact) and, for
the last ``days`` days, one CRM activity per touchpoint the database holds for that period,
on the same date with the same channel and direction: a completed call, a meeting that took
place, an outgoing or incoming email, a chat message. Touchpoints the CRM cannot express as
they are (reports, "other", and on HubSpot inbound meetings and chats; on amoCRM inbound
meetings) stay local. Around them, what a real CRM holds and the sync must not count: internal
notes (unless the agency counts notes), cancelled and no-show meetings, unanswered calls,
meetings booked for the coming days. Clients with no touchpoints get no activity at all, so
the clients going quiet in the database go quiet in the CRM. Every live deal becomes a deal
(won, lost or open; amount, created and close dates, owner, company).

The database is then mapped to it, in one transaction: ``Client.crm_company_id``, the chosen
CRM in Agency settings, and ``source``/``external_id`` of the touchpoints and deals the
sandbox now holds, the external id being what the CRM's adapter makes of that record (asked of
the adapter itself), so that a sync finds them already there and counts nothing twice. Rows
pointing at records of an earlier sandbox that this one does not hold are detached (their
external id cleared: they stay as history and cannot collide with the new ids), companies of
that source the sandbox does not hold are marked deleted, its unassigned activities are
dropped, and its sync cursors start over, so the next sync reads the new CRM whole.
"""

from __future__ import annotations

import datetime
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from clients.models import Channel, Client, Direction, Touchpoint
from godview.models import AgencySettings, Staff
from integrations.models import CrmCompany, CrmCursor, UnassignedActivity
from workflows.models import Deal, DealStatus

from .amocrm import AmoCRMAdapter
from .amocrm_sandbox import (
    CALL_ANSWERED,
    CALL_NO_ANSWER,
    TASK_MEETING,
    AmoCRMSandbox,
)
from .hubspot import HubSpot
from .hubspot_sandbox import HubSpotSandbox

CRMS = ("hubspot", "amocrm")
OUT, IN = Direction.OUTBOUND, Direction.INBOUND
# (channel, direction) pairs each CRM holds exactly as the database does: the adapter turns
# them back into the same channel and direction (records.py). The rest stays local.
MIRRORED = {
    "hubspot": {
        (Channel.CALL, OUT),
        (Channel.CALL, IN),
        (Channel.MEETING, OUT),
        (Channel.EMAIL, OUT),
        (Channel.EMAIL, IN),
        (Channel.CHAT, OUT),  # a communication: HubSpot's adapter reads every one as ours
    },
    "amocrm": {
        (Channel.CALL, OUT),
        (Channel.CALL, IN),
        (Channel.MEETING, OUT),
        (Channel.EMAIL, OUT),
        (Channel.EMAIL, IN),
        (Channel.CHAT, OUT),
        (Channel.CHAT, IN),
    },
}
# Per touchpoint of a client, the chance of each thing a CRM holds that is no contact.
NOISE = (("note", 0.15), ("cancelled", 0.05), ("no_show", 0.02), ("unanswered", 0.08))
BOOKED_CHANCE = 0.3  # a client heard from in the last two weeks has a meeting booked
NOTES = (
    "Internal: prepare the monthly report before the call.",
    "Client asked about the budget; director to follow up.",
    "Reminder: renewal conversation next month.",
    "Designer needs the new brand assets from the client.",
    "Internal: check the tracking setup before the next report.",
)
FIRST_NAMES = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Robin", "Jamie", "Avery")
LAST_NAMES = ("Reed", "Patel", "Nguyen", "Garcia", "Kowalski", "Schmidt", "Okafor", "Silva")
WORKDAY = (9 * 60, 18 * 60)  # minutes of the local day activities fall in
HUBSPOT_OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled")


def domain_for(name: str, fallback: str) -> str:
    """A company's web domain from its name, under the reserved ``.example`` TLD."""
    return f"{slugify(name) or fallback}.example"


# --------------------------------------------------------------------------- writers
class _Writer:
    """What the generator asks of a CRM sandbox; one subclass per CRM. Activity methods
    return the external id the CRM's adapter gives the record (``Activity.external_id``)."""

    source: str

    def __init__(self, sandbox, rng: random.Random):
        self.sandbox = sandbox
        self.rng = rng

    @property
    def now(self) -> datetime.datetime:
        return self.sandbox.now


class HubSpotWriter(_Writer):
    source = "hubspot"
    CHAT_CHANNELS = ("WHATS_APP", "SMS", "LINKEDIN_MESSAGE")

    def __init__(self, sandbox: HubSpotSandbox, rng: random.Random):
        super().__init__(sandbox, rng)
        # The adapter's own converters name the records (no request is made).
        self.naming = HubSpot(token="naming-only")  # noqa: S106 - never sent anywhere

    def _external(self, object_type: str, record_id: str) -> str:
        raw = {"id": record_id, "properties": {}}
        return self.naming.activity(object_type, raw, ()).external_id

    def owner(self, person: Staff) -> str:
        first, _, last = person.name.partition(" ")
        return self.sandbox.add_owner(person.email, first, last, archived=not person.active)

    def company(self, name, domain, owner, at) -> str:
        return self.sandbox.add_company(name, domain, owner=owner, at=at)

    def contact(self, first, last, email, company, owner, at) -> str:
        return self.sandbox.add_contact(email, first, last, company=company, owner=owner, at=at)

    def call(self, c, at, owner, *, inbound, answered=True, summary="") -> str:
        call = self.sandbox.add_call(
            c.company,
            at=at,
            status="COMPLETED" if answered else "NO_ANSWER",
            direction="INBOUND" if inbound else "OUTBOUND",
            owner=owner,
            properties={
                "hs_call_title": summary,
                "hs_call_duration": self.rng.randint(2, 30) * 60_000 if answered else 0,
            },
            associations=[c.contact],
        )
        return self._external("calls", call)

    def email(self, c, at, owner, *, incoming, subject="") -> str:
        email = self.sandbox.add_email(
            c.company,
            at=at,
            direction="INCOMING_EMAIL" if incoming else "EMAIL",
            owner=owner,
            subject=subject,
            associations=[c.contact],
        )
        return self._external("emails", email)

    def chat(self, c, at, owner, *, inbound, text="") -> str:
        if inbound:
            raise ValueError("HubSpot's adapter reads every communication as outbound")
        message = self.sandbox.add_communication(
            c.company,
            at=at,
            channel=self.rng.choice(self.CHAT_CHANNELS),
            owner=owner,
            properties={"hs_communication_body": text},
            associations=[c.contact],
        )
        return self._external("communications", message)

    def meeting(self, c, start, owner, *, outcome, title="") -> str:
        """``outcome``: "took place", "cancelled", "no-show" or "booked" (in the future)."""
        booked = outcome == "booked"
        meeting = self.sandbox.add_meeting(
            c.company,
            start=start,
            end=start + datetime.timedelta(minutes=45),
            outcome={
                "took place": "COMPLETED",
                "cancelled": "CANCELED",
                "no-show": "NO_SHOW",
                "booked": "SCHEDULED",
            }[outcome],
            owner=owner,
            properties={"hs_meeting_title": title},
            associations=[c.contact],
            at=None if booked else start,
        )
        return self._external("meetings", meeting)

    def cancel_meeting(self, external_id: str) -> None:
        self.sandbox.edit(external_id.rpartition("-")[2], hs_meeting_outcome="CANCELED")

    def note(self, c, at, owner, text) -> str:
        note = self.sandbox.add_note(c.company, at=at, body=text, owner=owner)
        return self._external("notes", note)

    def deal(self, deal: Deal, owner, company, created, closed) -> str:
        stage = {DealStatus.WON: "closedwon", DealStatus.LOST: "closedlost"}.get(deal.status)
        record = self.sandbox.add_deal(
            deal.name,
            amount=deal.amount,
            stage=stage or self.rng.choice(HUBSPOT_OPEN_STAGES),
            close_date=closed,
            owner=owner,
            company=company,
            at=created,
        )
        return self.naming.deal({"id": record, "properties": {}}, ()).external_id


class AmoCRMWriter(_Writer):
    source = "amocrm"

    def __init__(self, sandbox: AmoCRMSandbox, rng: random.Random):
        super().__init__(sandbox, rng)
        self.naming = AmoCRMAdapter(token="naming-only", base_url="")  # noqa: S106

    def _note(self, note_id: int) -> str:
        return self.naming.note({"id": note_id}, None).external_id

    def _task(self, task_id: int) -> str:
        return self.naming.task({"id": task_id}, None).external_id

    def owner(self, person: Staff) -> int:
        return self.sandbox.add_user(person.name, person.email, is_active=person.active)

    def company(self, name, domain, owner, at) -> int:
        return self.sandbox.add_company(
            name, web=f"https://www.{domain}", responsible_user_id=owner, at=at
        )

    def contact(self, first, last, email, company, owner, at) -> int:
        return self.sandbox.add_contact(
            f"{first} {last}", company=company, email=email, responsible_user_id=owner, at=at
        )

    def call(self, c, at, owner, *, inbound, answered=True, summary="") -> str:
        # Telephony logs calls on the contact.
        note = self.sandbox.add_call(
            "contacts",
            c.contact,
            direction="in" if inbound else "out",
            duration=self.rng.randint(2, 30) * 60 if answered else 0,
            call_status=CALL_ANSWERED if answered else CALL_NO_ANSWER,
            call_result=summary,
            responsible_user_id=owner,
            at=at,
        )
        return self._note(note)

    def email(self, c, at, owner, *, incoming, subject="") -> str:
        note = self.sandbox.add_email(
            "contacts",
            c.contact,
            incoming=incoming,
            subject=subject,
            address=c.email,
            responsible_user_id=owner,
            at=at,
        )
        return self._note(note)

    def chat(self, c, at, owner, *, inbound, text="") -> str:
        note = self.sandbox.add_note(
            "contacts",
            c.contact,
            "sms_in" if inbound else "sms_out",
            {"text": text, "phone": "+15550100" + str(c.contact)[-3:]},
            responsible_user_id=owner,
            at=at,
        )
        return self._note(note)

    def meeting(self, c, start, owner, *, outcome, title="") -> str:
        """A meeting task on the company: done when it took place; left undone when it was
        cancelled or nobody came (amoCRM has no outcome); open when booked."""
        took_place, booked = outcome == "took place", outcome == "booked"
        task = self.sandbox.add_task(
            "companies",
            c.company,
            task_type_id=TASK_MEETING,
            text=title if took_place or booked else f"{title} ({outcome})",
            complete_till=start,
            is_completed=took_place,
            result=title if took_place else None,
            responsible_user_id=owner,
            at=None if outcome == "booked" else start,
        )
        return self._task(task)

    def cancel_meeting(self, external_id: str) -> None:
        # amoCRM has no cancelled meeting: the task is deleted.
        self.sandbox.delete("task", int(external_id.rpartition("-")[2]))

    def note(self, c, at, owner, text) -> str:
        note = self.sandbox.add_note(
            "companies", c.company, "common", {"text": text}, responsible_user_id=owner, at=at
        )
        return self._note(note)

    def deal(self, deal: Deal, owner, company, created, closed) -> str:
        # amoCRM's budget is a whole number; a deal without an amount has 0.
        price = int((deal.amount or Decimal(0)).quantize(Decimal(1), ROUND_HALF_UP))
        lead = self.sandbox.add_lead(
            deal.name, price=price, company=company, responsible_user_id=owner, at=created
        )
        if deal.status in (DealStatus.WON, DealStatus.LOST):
            self.sandbox.close_lead(lead, won=deal.status == DealStatus.WON, at=closed)
        return self.naming.deal({"id": lead}).external_id


WRITERS = {"hubspot": HubSpotWriter, "amocrm": AmoCRMWriter}


# --------------------------------------------------------------------------- the generator
@dataclass
class CrmClient:
    """A client as the sandbox holds it."""

    pk: int
    name: str
    company: Any  # the CRM's company id
    contact: Any
    email: str  # the contact's
    owner: Any  # the account manager's owner/user id, or None
    manager: str  # the account manager's name


@dataclass
class DemoCrm:
    """What was generated and how the database was mapped to it."""

    source: str
    today: datetime.date
    since: datetime.date
    owners: dict[int, Any] = field(default_factory=dict)  # Staff pk -> owner/user id
    clients: dict[int, CrmClient] = field(default_factory=dict)  # Client pk -> company...
    touchpoints: dict[int, str] = field(default_factory=dict)  # Touchpoint pk -> external id
    deals: dict[int, str] = field(default_factory=dict)  # Deal pk -> external id
    noise: Counter = field(default_factory=Counter)  # no-contact records by kind
    booked: list[tuple[str, int]] = field(default_factory=list)  # (meeting id, client pk)
    kept_local: Counter = field(default_factory=Counter)  # "channel direction" -> count
    quiet: int = 0  # clients with no touchpoint in the period
    remapped: dict[str, int] = field(default_factory=dict)


def _when(day: datetime.date, minute: int, zone, now: datetime.datetime) -> datetime.datetime:
    """A moment of ``day`` in the agency's zone, never later than the sandbox's clock (the
    local date stays ``day`` as long as ``day`` is not after today)."""
    moment = datetime.datetime.combine(day, datetime.time(minute // 60, minute % 60), zone)
    return min(moment, now)


def build_demo_crm(
    sandbox: HubSpotSandbox | AmoCRMSandbox,
    crm: str,
    *,
    days: int = 60,
    seed: int | None = 0,
    noise: Iterable[tuple[str, float]] = NOISE,
    booked_chance: float = BOOKED_CHANCE,
) -> DemoCrm:
    """Fill ``sandbox`` from the database and map the database to it (one transaction).
    Times are the sandbox's: today is its clock's date in the agency's time zone. ``noise``:
    per touchpoint, the chance of each kind of record that is no contact (see NOISE);
    ``booked_chance``: that a client heard from in the last two weeks has a meeting booked."""
    if crm not in CRMS:
        raise ValueError(f"crm is one of {CRMS}, not {crm!r}")
    agency = AgencySettings.load()
    zone, now = agency.zone, sandbox.now
    today = now.astimezone(zone).date()
    since = today - datetime.timedelta(days=days - 1)  # ``days`` dates, today the last
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    writer = WRITERS[crm](sandbox, rng)
    built = DemoCrm(source=crm, today=today, since=since)

    def moment(day: datetime.date) -> datetime.datetime:
        return _when(day, rng.randrange(*WORKDAY), zone, now)

    for person in Staff.objects.order_by("pk"):
        built.owners[person.pk] = writer.owner(person)
    opened = _when(since, 9 * 60, zone, now)
    for client in Client.objects.select_related("account_manager").order_by("pk"):
        owner = built.owners.get(client.account_manager_id)
        domain = domain_for(client.name, f"client-{client.pk}")
        company = writer.company(client.name, domain, owner, opened)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first.lower()}.{last.lower()}@{domain}"
        built.clients[client.pk] = CrmClient(
            pk=client.pk,
            name=client.name,
            company=company,
            contact=writer.contact(first, last, email, company, owner, opened),
            email=email,
            owner=owner,
            manager=client.account_manager.name,
        )

    touchpoints = list(
        Touchpoint.objects.filter(
            deleted_at=None, occurred_on__gte=since, occurred_on__lte=today
        ).order_by("occurred_on", "pk")
    )
    mirrored = MIRRORED[crm]
    for tp in touchpoints:
        if (tp.channel, tp.direction) not in mirrored:
            built.kept_local[f"{tp.channel} {tp.direction}"] += 1
            continue
        c, at = built.clients[tp.client_id], moment(tp.occurred_on)
        owner = built.owners.get(tp.staff_id)
        inbound = tp.direction == IN
        if tp.channel == Channel.CALL:
            external = writer.call(c, at, owner, inbound=inbound, summary=tp.summary)
        elif tp.channel == Channel.MEETING:
            external = writer.meeting(c, at, owner, outcome="took place", title=tp.summary)
        elif tp.channel == Channel.EMAIL:
            external = writer.email(c, at, owner, incoming=inbound, subject=tp.summary)
        else:
            external = writer.chat(c, at, owner, inbound=inbound, text=tp.summary)
        built.touchpoints[tp.pk] = external

    notes_count = agency.crm_notes_count_as_contact
    _add_noise(writer, built, touchpoints, moment, tuple(noise), booked_chance, notes_count)
    built.quiet = len(built.clients) - len({tp.client_id for tp in touchpoints})

    for deal in Deal.objects.filter(deleted_at=None).order_by("pk"):
        created = _when(deal.created_on, 10 * 60, zone, now)
        closed = _when(deal.closed_on, 16 * 60, zone, now) if deal.closed_on else None
        client = built.clients.get(deal.client_id)
        built.deals[deal.pk] = writer.deal(
            deal,
            built.owners.get(deal.owner_id),
            client.company if client else None,
            created,
            max(closed, created) if closed else None,
        )

    _map_database(built, agency)
    return built


def _add_noise(
    writer, built: DemoCrm, touchpoints, moment, noise, booked_chance: float, notes_count: bool
) -> None:
    """What a CRM holds beside contact, for the clients we are in touch with only (a quiet
    client stays quiet): internal notes (not when the agency counts notes: they would be
    contact), cancelled and no-show meetings, unanswered calls, meetings booked ahead."""
    rng, now = writer.rng, writer.now
    days: dict[int, list[datetime.date]] = {}
    for tp in touchpoints:
        days.setdefault(tp.client_id, []).append(tp.occurred_on)
    for client_pk, dates in days.items():
        c, span = built.clients[client_pk], (min(dates), max(dates))
        for _ in dates:
            for kind, chance in noise:
                if rng.random() >= chance or (kind == "note" and notes_count):
                    continue
                day = span[0] + datetime.timedelta(days=rng.randint(0, (span[1] - span[0]).days))
                at = moment(day)
                if kind == "note":
                    writer.note(c, at, c.owner, rng.choice(NOTES))
                elif kind == "unanswered":
                    writer.call(c, at, c.owner, inbound=False, answered=False)
                else:
                    outcome = "cancelled" if kind == "cancelled" else "no-show"
                    writer.meeting(c, at, c.owner, outcome=outcome, title="Status meeting")
                built.noise[kind] += 1
        if (built.today - span[1]).days <= 14 and rng.random() < booked_chance:
            start = now + datetime.timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 6))
            meeting = writer.meeting(c, start, c.owner, outcome="booked", title="Monthly review")
            built.booked.append((meeting, client_pk))
            built.noise["booked"] += 1


@transaction.atomic
def _map_database(built: DemoCrm, agency: AgencySettings) -> None:
    """Point the database at the sandbox (see the module docstring). Values that change are
    cleared first, so no unique constraint trips on a row that still holds one."""
    source, now = built.source, timezone.now()
    companies = {pk: str(c.company) for pk, c in built.clients.items()}
    clients = [
        c for c in Client.objects.filter(pk__in=companies) if c.crm_company_id != companies[c.pk]
    ]
    Client.objects.filter(pk__in=[c.pk for c in clients]).update(crm_company_id=None)
    for client in clients:
        client.crm_company_id = companies[client.pk]
    Client.objects.bulk_update(clients, ["crm_company_id"], batch_size=500)

    remapped = {"clients": len(clients)}
    for model, wanted, name in (
        (Touchpoint, built.touchpoints, "touchpoints"),
        (Deal, built.deals, "deals"),
    ):
        held = model.objects.filter(source=source).exclude(external_id=None)
        stale = [pk for pk, ext in held.values_list("pk", "external_id") if wanted.get(pk) != ext]
        model.objects.filter(pk__in=stale).update(external_id=None)
        rows = [
            row
            for row in model.objects.filter(pk__in=wanted).only("pk", "source", "external_id")
            if (row.source, row.external_id) != (source, wanted[row.pk])
        ]
        for row in rows:
            row.source, row.external_id = source, wanted[row.pk]
        model.objects.bulk_update(rows, ["source", "external_id"], batch_size=500)
        remapped[name] = len(rows)
        remapped[f"{name}_detached"] = len(set(stale) - set(wanted))

    CrmCompany.objects.filter(source=source, deleted_at=None).exclude(
        external_id__in=companies.values()
    ).update(deleted_at=now)
    UnassignedActivity.objects.filter(source=source).delete()
    CrmCursor.objects.filter(source=source).update(
        backfill_done=False, backfill_cursor="", associations_checked_at=None
    )
    if agency.crm != source:
        agency.crm = source
        agency.save(update_fields=["crm"])
    built.remapped = remapped


# --------------------------------------------------------------------------- activity
class DemoActivity:
    """People at work in the CRM: each :meth:`step` logs a call or an email with a random
    client at the sandbox clock's "now" and now and then cancels a booked meeting."""

    CANCEL_CHANCE = 0.2

    def __init__(self, sandbox, built: DemoCrm, seed: int | None = None):
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not security
        self.writer = WRITERS[built.source](sandbox, self.rng)
        self.built = built

    def _move_clock(self, now: datetime.datetime | None) -> None:
        sandbox = self.writer.sandbox
        if now is not None and now > sandbox.now:
            sandbox.now = now

    def call(self, client_pk: int, *, inbound: bool = False) -> str:
        c = self.built.clients[client_pk]
        self.writer.call(c, self.writer.now, c.owner, inbound=inbound, summary="Quick call")
        if inbound:
            return f"{c.name} called {c.manager} (an inbound call: resets days inactive)"
        return f"{c.manager} called {c.name} (resets days inactive)"

    def email(self, client_pk: int, *, incoming: bool = False) -> str:
        c = self.built.clients[client_pk]
        subject = "Re: next steps" if incoming else "Next steps"
        self.writer.email(c, self.writer.now, c.owner, incoming=incoming, subject=subject)
        if incoming:
            return f"{c.name} emailed {c.manager} (incoming: kept, does not reset days inactive)"
        return f"{c.manager} emailed {c.name} (resets days inactive)"

    def cancel_meeting(self) -> str | None:
        if not self.built.booked:
            return None
        meeting, client_pk = self.built.booked.pop(self.rng.randrange(len(self.built.booked)))
        self.writer.cancel_meeting(meeting)
        return f"the meeting booked with {self.built.clients[client_pk].name} was cancelled"

    def step(self, now: datetime.datetime | None = None) -> list[str]:
        """Move the sandbox clock to ``now`` (if later), then act; one line per change."""
        self._move_clock(now)
        lines = []
        client_pk = self.rng.choice(list(self.built.clients))
        inbound = self.rng.random() < 0.3
        if self.rng.random() < 0.5:
            lines.append(self.call(client_pk, inbound=inbound))
        else:
            lines.append(self.email(client_pk, incoming=inbound))
        if self.rng.random() < self.CANCEL_CHANCE:
            cancelled = self.cancel_meeting()
            if cancelled:
                lines.append(cancelled)
        return lines


def summary_lines(built: DemoCrm) -> Iterable[str]:
    """What was generated, for the console."""
    noise = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(built.noise.items()))
    yield (
        f"{len(built.owners)} owners, {len(built.clients)} companies, "
        f"{len(built.touchpoints)} activities mirroring the touchpoints of "
        f"{built.since} to {built.today}, {len(built.deals)} deals."
    )
    yield f"Not contact (the sync must skip them): {noise or 'none'}."
    if built.kept_local:
        kept = ", ".join(f"{n} {kind}" for kind, n in sorted(built.kept_local.items()))
        yield f"Touchpoints with no CRM equivalent, left as they are: {kept}."
    yield f"{built.quiet} clients had no touchpoint in the period and have no activity."
