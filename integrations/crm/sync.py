"""The CRM sync: owners, companies, deals and activities from the active CRM's adapter into
CrmOwner/CrmCompany, Deal and Touchpoint, incrementally and resumable.

Per kind of record (`CrmCursor`): a backfill by list pages, each page and its checkpoint in
one transaction; then windows of server modification time [watermark − OVERLAP,
run start − SETTLE], the watermark committed only once the whole window landed (idempotent
upserts make the overlap harmless). Every run also reads the archived (deleted) ids and
soft-deletes what the CRM confirms gone. Clients match companies only by the explicit id on
the client (`Client.crm_company_id`); staff match owners by lower-cased email. An activity
that reaches no mapped client is kept as an UnassignedActivity, counted and listed, and
becomes a touchpoint once its company is mapped."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from clients.models import Client, Touchpoint
from godview.agency import agency_zone
from godview.models import Staff
from godview.services import schedule_metrics_refresh
from workflows.models import Deal, DealStatus

from .. import connections
from ..freshness import record_sync_run
from ..locks import advisory_lock
from ..models import CrmCompany, CrmCursor, CrmOwner, UnassignedActivity
from .errors import ConnectionBroken
from .records import Activity, Company, DealRecord

logger = logging.getLogger(__name__)

OVERLAP = datetime.timedelta(minutes=15)
SETTLE = datetime.timedelta(minutes=2)  # search is eventually consistent: leave the newest
# An association change does not bump a record's modification time: once a day, the last
# RECHECK_DAYS of activities and deals are read again with their current companies.
RECHECK_EVERY = datetime.timedelta(days=1)
RECHECK_DAYS = 30


@dataclass
class CrmResult:
    source: str
    full: bool = False
    api_calls: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unassigned: int = 0
    skipped_activities: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def stats(self) -> dict:
        return {
            "full": self.full,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "unassigned": self.unassigned,
            "skipped_activities": self.skipped_activities,
            **({"notes": self.notes} if self.notes else {}),
        }

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


def crm_lock(source: str):
    """One run per CRM at a time (`integrations.locks.advisory_lock`)."""
    return advisory_lock(f"godview:crm:{source}")


def sync_crm(
    adapter, *, full: bool = False, progress: Callable[[str, int, int], None] | None = None
):
    """Sync everything the adapter offers; None when another run holds the CRM. Raises the
    adapter's errors (RateLimited, Transient: retry; ConnectionBroken: stop)."""
    reason = connections.broken_reason(adapter.source)
    if reason is not None:
        raise ConnectionBroken(reason)
    with crm_lock(adapter.source) as held:
        if not held:
            return None
        run = _Run(adapter, full)
        started = timezone.now()
        try:
            run.all(progress)
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc)
            _record(run, started, error=message)
            if isinstance(exc, ConnectionBroken):
                # Stop calling the CRM until someone fixes the token: no retry loop.
                connections.mark_broken(adapter.source, message)
            raise
        _record(run, started)
        return run.result


def _record(run: _Run, started: datetime.datetime, error: str = "") -> None:
    result = run.result
    result.api_calls = run.adapter.requests - run.calls_before
    record_sync_run(
        source=run.adapter.source,
        started_at=started,
        succeeded=not error,
        stats=result.stats,
        error=error[:2000],
        api_calls=result.api_calls,
    )
    if result.changed:
        try:
            schedule_metrics_refresh()
        except redis.exceptions.RedisError:
            logger.warning("CRM sync: Redis unavailable, metrics refresh not queued")


class _Run:
    def __init__(self, adapter, full: bool):
        self.adapter = adapter
        self.source = adapter.source
        self.result = CrmResult(source=self.source, full=full)
        self.calls_before = adapter.requests
        self.zone = agency_zone()
        # The windows are in the adapter's clock (the real one, or a sandbox's in tests).
        self.started = adapter.now()

    def all(self, progress) -> None:
        self.owners()
        self.clients = dict(
            Client.objects.exclude(crm_company_id=None)
            .exclude(crm_company_id="")
            .values_list("crm_company_id", "id")
        )
        self.adopt_unassigned()
        types = self.adapter.object_types
        for done, object_type in enumerate(types, start=1):
            self.sync_type(object_type)
            if progress is not None:
                progress(object_type, done, len(types))

    # -- owners --------------------------------------------------------------------------
    def owners(self) -> None:
        staff = dict(Staff.objects.annotate(e=Lower("email")).values_list("e", "id"))
        now = timezone.now()
        with transaction.atomic():
            known = {o.external_id: o for o in CrmOwner.objects.filter(source=self.source)}
            for owner in self.adapter.owners():
                matched = staff.get(owner.email.lower()) if owner.email else None
                row = known.get(owner.external_id)
                if row is None:
                    CrmOwner.objects.create(
                        source=self.source,
                        external_id=owner.external_id,
                        email=owner.email[:254],
                        name=owner.name[:200],
                        archived=owner.archived,
                        staff_id=matched,
                        seen_at=now,
                    )
                    continue
                if row.email.lower() != owner.email.lower() or row.staff_id is None:
                    row.staff_id = matched if matched is not None else row.staff_id
                row.email, row.name, row.archived, row.seen_at = (
                    owner.email[:254],
                    owner.name[:200],
                    owner.archived,
                    now,
                )
                row.save()
        self.staff = dict(
            CrmOwner.objects.filter(source=self.source)
            .exclude(staff=None)
            .values_list("external_id", "staff_id")
        )

    def adopt_unassigned(self) -> None:
        """Activities kept while their company was unmapped become touchpoints once it is
        mapped (however old they are; the windows would never read them again)."""
        rows = list(
            UnassignedActivity.objects.filter(
                source=self.source, company_external_id__in=list(self.clients)
            )
        )
        with transaction.atomic():
            for row in rows:
                _touchpoint, created = Touchpoint.objects.update_or_create(
                    source=self.source,
                    external_id=row.external_id,
                    defaults={
                        "client_id": self.clients[row.company_external_id],
                        "staff_id": self.staff.get(row.owner_external_id),
                        "occurred_on": self.local_date(row.occurred_at),
                        "channel": row.channel,
                        "direction": row.direction,
                        "summary": row.summary,
                        "deleted_at": None,
                    },
                )
                self.result.inserted += int(created)
                self.result.updated += int(not created)
            UnassignedActivity.objects.filter(pk__in=[row.pk for row in rows]).delete()

    # -- one kind of record ----------------------------------------------------------------
    def sync_type(self, object_type: str) -> None:
        cursor, _ = CrmCursor.objects.get_or_create(source=self.source, object_type=object_type)
        if self.result.full and cursor.backfill_done:
            cursor.backfill_done, cursor.backfill_cursor = False, ""
            cursor.save(update_fields=["backfill_done", "backfill_cursor"])
        until = self.started - SETTLE
        if not cursor.backfill_done:
            if not cursor.backfill_cursor:
                # A fresh backfill: whatever changes while it runs is after this watermark.
                cursor.watermark = until
            while True:
                page = self.adapter.backfill(object_type, cursor.backfill_cursor)
                with transaction.atomic():
                    self.write(object_type, page.records)
                    cursor.backfill_cursor = page.next_cursor
                    if not page.next_cursor:
                        cursor.backfill_done = True
                        cursor.associations_checked_at = self.started
                    cursor.save()
                if not page.next_cursor:
                    break
        else:
            since = (cursor.watermark or until) - OVERLAP
            for page in self.adapter.changed(object_type, since, until):
                with transaction.atomic():
                    self.write(object_type, page.records)
            cursor.watermark = until
        if object_type != "companies" and (
            cursor.associations_checked_at is None
            or self.started - cursor.associations_checked_at >= RECHECK_EVERY
        ):
            since = self.started - datetime.timedelta(days=RECHECK_DAYS)
            for page in self.adapter.changed(object_type, since, until):
                with transaction.atomic():
                    self.write(object_type, page.records)
            cursor.associations_checked_at = self.started
        gone = self.adapter.archived(object_type)
        with transaction.atomic():
            self.delete(object_type, gone)
            cursor.last_success_at = timezone.now()
            cursor.save()

    # -- writing ---------------------------------------------------------------------------
    def write(self, object_type: str, records: list) -> None:
        if object_type == "companies":
            self.write_companies(records)
        elif object_type == "deals":
            self.write_deals(records)
        else:
            self.write_activities(records)

    def write_companies(self, companies: list[Company]) -> None:
        now = timezone.now()
        for company in {c.external_id: c for c in companies}.values():
            _row, created = CrmCompany.objects.update_or_create(
                source=self.source,
                external_id=company.external_id,
                defaults={
                    "name": company.name,
                    "domain": company.domain,
                    "seen_at": now,
                    "deleted_at": None,
                },
            )
            for merged in company.merged_ids:
                # A merged-away company follows its survivor, and so does its client.
                CrmCompany.objects.filter(source=self.source, external_id=merged).update(
                    merged_into=company.external_id, deleted_at=now
                )
                if company.external_id not in self.clients and merged in self.clients:
                    Client.objects.filter(crm_company_id=merged).update(
                        crm_company_id=company.external_id
                    )
                    self.clients[company.external_id] = self.clients.pop(merged)

    def client_of(self, company_ids) -> int | None:
        for company in company_ids or ():
            if company in self.clients:
                return self.clients[company]
        return None

    def local_date(self, moment: datetime.datetime) -> datetime.date:
        return moment.astimezone(self.zone).date()

    def write_deals(self, deals: list[DealRecord]) -> None:
        by_id = {d.external_id: d for d in deals}
        stored = {
            d.external_id: d
            for d in Deal.objects.filter(source=self.source, external_id__in=list(by_id))
        }
        for deal in by_id.values():
            created_on = self.local_date(deal.created_at)
            closed_on = self.local_date(deal.closed_at) if deal.closed_at else None
            if deal.status != "open" and closed_on is None:
                closed_on = created_on
            values = {
                "name": deal.name,
                "owner_id": self.staff.get(deal.owner_id or ""),
                "client_id": self.client_of([deal.company_id] if deal.company_id else []),
                "created_on": created_on,
                "closed_on": max(closed_on, created_on) if closed_on else None,
                "status": {"won": DealStatus.WON, "lost": DealStatus.LOST}.get(
                    deal.status, DealStatus.OPEN
                ),
                "amount": deal.amount if deal.amount is None or deal.amount >= 0 else None,
                "deleted_at": None,
            }
            row = stored.get(deal.external_id)
            if row is None:
                Deal.objects.create(
                    key=f"{self.source}-deal-{deal.external_id}",
                    source=self.source,
                    external_id=deal.external_id,
                    **values,
                )
                self.result.inserted += 1
                continue
            changed = [k for k, v in values.items() if getattr(row, k) != v]
            if changed:
                for k in changed:
                    setattr(row, k, values[k])
                row.save(update_fields=changed)
                self.result.updated += 1

    def write_activities(self, activities: list[Activity]) -> None:
        by_id = {a.external_id: a for a in activities}
        stored = {
            t.external_id: t
            for t in Touchpoint.objects.filter(source=self.source, external_id__in=list(by_id))
        }
        now = timezone.now()
        for activity in by_id.values():
            client_id = self.client_of(activity.company_ids)
            row = stored.get(activity.external_id)
            if not activity.is_touchpoint or client_id is None:
                if row is not None and row.deleted_at is None:
                    # Cancelled since, or no longer on a mapped client: no contact after all.
                    row.deleted_at = now
                    row.save(update_fields=["deleted_at"])
                    self.result.deleted += 1
                if not activity.is_touchpoint:
                    self.result.skipped_activities += 1
                    UnassignedActivity.objects.filter(
                        source=self.source, external_id=activity.external_id
                    ).delete()
                    continue
                UnassignedActivity.objects.update_or_create(
                    source=self.source,
                    external_id=activity.external_id,
                    defaults={
                        "kind": activity.kind,
                        "company_external_id": (activity.company_ids or ("",))[0],
                        "owner_external_id": activity.owner_id or "",
                        "summary": activity.summary,
                        "occurred_at": activity.occurred_at,
                        "channel": activity.channel,
                        "direction": activity.direction,
                        "seen_at": now,
                    },
                )
                self.result.unassigned += 1
                continue
            values = {
                "client_id": client_id,
                "staff_id": self.staff.get(activity.owner_id or ""),
                "occurred_on": self.local_date(activity.occurred_at),
                "channel": activity.channel,
                "direction": activity.direction,
                "summary": activity.summary,
                "deleted_at": None,
            }
            UnassignedActivity.objects.filter(
                source=self.source, external_id=activity.external_id
            ).delete()
            if row is None:
                Touchpoint.objects.create(
                    source=self.source, external_id=activity.external_id, **values
                )
                self.result.inserted += 1
                continue
            changed = [k for k, v in values.items() if getattr(row, k) != v]
            if changed:
                for k in changed:
                    setattr(row, k, values[k])
                row.save(update_fields=changed)
                self.result.updated += 1

    def delete(self, object_type: str, ids: list[str]) -> None:
        if not ids:
            return
        now = timezone.now()
        if object_type == "companies":
            CrmCompany.objects.filter(
                source=self.source, external_id__in=ids, deleted_at=None
            ).update(deleted_at=now)
            return
        if object_type == "deals":
            self.result.deleted += Deal.objects.filter(
                source=self.source, external_id__in=ids, deleted_at=None
            ).update(deleted_at=now)
            return
        self.result.deleted += Touchpoint.objects.filter(
            source=self.source, external_id__in=ids, deleted_at=None
        ).update(deleted_at=now)
        UnassignedActivity.objects.filter(source=self.source, external_id__in=ids).delete()
