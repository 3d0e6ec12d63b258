"""Arrange helpers: owners, pipelines and typed records, as a person or an import makes them.

``Portal`` adds to the store the helpers tests and the demo generator call: ``add_owner``,
``add_pipeline``, ``add_company``, ``add_deal``, ``add_call``, ``add_meeting``, ``add_email``,
``add_note``, ``add_communication``, ``add_contact``, and the bulk ``add_many``/``touch_many``
that put thousands of records on one ``hs_lastmodifieddate`` cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from .search import Doc
from .store import CrmStore, Record
from .wire import iso_ms, to_ms

FIRST_OWNER_ID = 50_000_001
FIRST_USER_ID = 7_000_001

# HubSpot's default deal pipeline ("Sales Pipeline"), stage metadata as strings.
DEFAULT_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
)


class Portal(CrmStore):
    """The store plus its arrange helpers; starts with HubSpot's default deal pipeline."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._next_owner, self._next_user = FIRST_OWNER_ID, FIRST_USER_ID
        self.add_pipeline("Sales Pipeline", DEFAULT_STAGES, pipeline_id="default", created_ms=0)

    # ------------------------------------------------------------------ owners and pipelines
    def add_owner(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        teams: Iterable[tuple[str, str, bool]] = (),
        archived: bool = False,
        queue: bool = False,
        owner_id: str | int | None = None,
    ) -> str:
        """An owner (a HubSpot user who can own records); ``queue`` makes a QUEUE owner."""
        with self._lock:
            oid = int(owner_id) if owner_id is not None else self._next_owner
            self._next_owner = max(self._next_owner, oid) + 1
            now = self._now_ms()
            owner: dict[str, Any] = {
                "id": str(oid),
                "email": email,
                "firstName": first_name,
                "lastName": last_name,
                "type": "QUEUE" if queue else "PERSON",
                "teams": [{"id": t, "name": n, "primary": p} for t, n, p in teams],
                "archived": archived,
                "createdAt": iso_ms(now),
                "updatedAt": iso_ms(now),
            }
            if queue:
                owner.pop("email")  # UNVERIFIED: a queue's exact field set
            else:
                owner["userId"] = owner["userIdIncludingInactive"] = self._next_user
                self._next_user += 1
            if archived:
                owner.pop("userId", None)  # a deactivated user keeps only ...IncludingInactive
            self._owners[oid] = owner
            return str(oid)

    def archive_owner(self, owner_id: str) -> None:
        with self._lock:
            owner = self._owners[int(owner_id)]
            owner.update(archived=True, updatedAt=iso_ms(self._now_ms()))
            owner.pop("userId", None)

    def add_pipeline(
        self,
        label: str,
        stages: Iterable[tuple[str, str, str, bool]],
        pipeline_id: str | None = None,
        created_ms: int | None = None,
    ) -> str:
        """A deal pipeline; ``stages`` are ``(id, label, probability, is_closed)``."""
        with self._lock:
            pid = pipeline_id or str(self._take_id())
            stamp = iso_ms(self._now_ms() if created_ms is None else created_ms)
            self._pipelines[pid] = {
                "id": pid,
                "label": label,
                "displayOrder": len(self._pipelines),
                "archived": False,
                "createdAt": stamp,
                "updatedAt": stamp,
                "stages": [
                    {
                        "id": sid,
                        "label": slabel,
                        "displayOrder": n,
                        "metadata": {"isClosed": "true" if closed else "false", "probability": p},
                        "archived": False,
                        "createdAt": stamp,
                        "updatedAt": stamp,
                        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                    }
                    for n, (sid, slabel, p, closed) in enumerate(stages)
                ],
            }
            return pid

    def add_company(
        self,
        name: str,
        domain: str | None = None,
        owner: str | None = None,
        properties: dict[str, Any] | None = None,
        **kw: Any,
    ) -> str:
        values = {"name": name, "domain": domain, "hubspot_owner_id": owner, **(properties or {})}
        return self.create("companies", values, **kw)

    def add_contact(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        company: str | None = None,
        owner: str | None = None,
        properties: dict[str, Any] | None = None,
        **kw: Any,
    ) -> str:
        values = {
            "email": email,
            "firstname": first_name,
            "lastname": last_name,
            "hubspot_owner_id": owner,
            **(properties or {}),
        }
        return self.create("contacts", values, associations=[company], **kw)

    def add_deal(
        self,
        name: str,
        amount: Any = None,
        stage: str = "appointmentscheduled",
        pipeline: str = "default",
        close_date: datetime | date | int | str | None = None,
        owner: str | None = None,
        company: str | None = None,
        properties: dict[str, Any] | None = None,
        **kw: Any,
    ) -> str:
        """A deal; ``hs_is_closed``/``hs_is_closed_won`` follow the stage's metadata."""
        values = {
            "dealname": name,
            "amount": amount,
            "dealstage": stage,
            "pipeline": pipeline,
            "closedate": close_date,
            "hubspot_owner_id": owner,
            **(properties or {}),
        }
        deal = self.create("deals", values, **kw)
        if company is not None:
            self.associate(deal, company, primary=True)
        return deal

    def add_call(
        self,
        company: str | None = None,
        at: Any = None,
        status: str = "COMPLETED",
        direction: str = "OUTBOUND",
        owner: str | None = None,
        properties: dict[str, Any] | None = None,
        associations: Iterable[Any] = (),
        **kw: Any,
    ) -> str:
        values = {
            "hs_timestamp": at,
            "hs_call_status": status,
            "hs_call_direction": direction,
            "hs_call_title": "Call",
            "hubspot_owner_id": owner,
            **(properties or {}),
        }
        return self.create("calls", values, associations=[company, *associations], **kw)

    def add_meeting(
        self,
        company: str | None = None,
        start: Any = None,
        outcome: str = "COMPLETED",
        owner: str | None = None,
        end: Any = None,
        properties: dict[str, Any] | None = None,
        associations: Iterable[Any] = (),
        **kw: Any,
    ) -> str:
        """A meeting; ``hs_timestamp`` defaults to its start, as in HubSpot."""
        values = {
            "hs_meeting_start_time": start,
            "hs_meeting_end_time": end,
            "hs_meeting_outcome": outcome,
            "hs_meeting_title": "Meeting",
            "hubspot_owner_id": owner,
            **(properties or {}),
        }
        if start is not None:
            values.setdefault("hs_timestamp", start)
        return self.create("meetings", values, associations=[company, *associations], **kw)

    def add_email(
        self,
        company: str | None = None,
        at: Any = None,
        direction: str = "EMAIL",
        owner: str | None = None,
        subject: str = "Hello",
        properties: dict[str, Any] | None = None,
        associations: Iterable[Any] = (),
        **kw: Any,
    ) -> str:
        """An email: ``EMAIL`` is outgoing, ``INCOMING_EMAIL`` a reply, ``FORWARDED_EMAIL``."""
        values = {
            "hs_timestamp": at,
            "hs_email_direction": direction,
            "hs_email_subject": subject,
            "hubspot_owner_id": owner,
            **(properties or {}),
        }
        return self.create("emails", values, associations=[company, *associations], **kw)

    def add_note(
        self,
        company: str | None = None,
        at: Any = None,
        body: str = "",
        owner: str | None = None,
        properties: dict[str, Any] | None = None,
        associations: Iterable[Any] = (),
        **kw: Any,
    ) -> str:
        values = {
            "hs_timestamp": at,
            "hs_note_body": body,
            "hubspot_owner_id": owner,
            **(properties or {}),
        }
        return self.create("notes", values, associations=[company, *associations], **kw)

    def add_communication(
        self,
        company: str | None = None,
        at: Any = None,
        channel: str = "WHATS_APP",
        owner: str | None = None,
        properties: dict[str, Any] | None = None,
        associations: Iterable[Any] = (),
        **kw: Any,
    ) -> str:
        values = {
            "hs_timestamp": at,
            "hs_communication_channel_type": channel,
            "hubspot_owner_id": owner,
            **(properties or {}),
        }
        return self.create("communications", values, associations=[company, *associations], **kw)

    def add_many(
        self,
        type_name: str,
        count: int,
        properties: dict[str, Any] | None = None,
        at: datetime | date | int | str | None = None,
        company: str | None = None,
    ) -> list[str]:
        """``count`` records created at one instant: they share one ``hs_lastmodifieddate``.

        Cheap at 10,000+: one sort of the search index instead of one insertion per record.
        """
        with self._lock:
            kind = self._type(type_name)
            created = to_ms(at) if at is not None else self._now_ms()
            made: list[Record] = []
            for _ in range(count):
                rid = self._take_id()
                record = Record(
                    rid,
                    kind.name,
                    self._new_props(kind, rid, created, properties or {}),
                    created,
                    created,
                )
                self._records[rid] = record
                made.append(record)
            self._live[kind.name].extend(r.id for r in made)
            self._index[kind.name].put_many(
                [self._doc(r) for r in made], self._elapsed(), self.search_lag
            )
            if company is not None:
                for record in made:
                    self._link(record.id, int(company), primary=False)
            return [str(r.id) for r in made]

    def touch_many(
        self,
        ids: Iterable[str | int],
        at: datetime | date | int | str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        """Modify many records at one instant (HubSpot's bulk updates, the 10k-cap trap)."""
        with self._lock:
            stamp = to_ms(at) if at is not None else self._now_ms()
            by_type: dict[str, list[Doc]] = {}
            for rid in ids:
                record = self._record(rid)
                self._apply_edit(record, properties or {}, stamp, reindex=False)
                if record.archived_ms is None and record.merged_into is None:
                    by_type.setdefault(record.type, []).append(self._doc(record))
            for name, docs in by_type.items():
                self._index[name].put_many(docs, self._elapsed(), self.search_lag)
