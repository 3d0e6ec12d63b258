"""The sandbox's portal: records, associations, a settable clock.

The writes here (``create``, ``edit``, ``archive``, ``restore``, ``merge``, ``associate``)
change the portal the way HubSpot would: they maintain ``hs_object_id``, the created and modified
properties and the deal closed flags, keep the per-type id lists and the search index in step,
and record webhook events. An association never bumps ``hs_lastmodifieddate`` (that is
HubSpot's behaviour, and the pitfall the sync must survive) unless asked to.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .search import Doc, SearchIndex
from .webhooks import WebhookEmitter
from .wire import (
    ASSOCIATION_TYPE_IDS,
    KNOWN_PROPERTIES,
    OBJECT_TYPES,
    PRIMARY_TYPE_IDS,
    ObjectType,
    iso_ms,
    ms_of,
    object_type,
    property_value,
    to_ms,
)

DEFAULT_START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
FIRST_ID = 10_000_000_001
Label = tuple[str, int, str | None]  # (category, typeId, label)


@dataclass(slots=True)
class Record:
    id: int
    type: str
    props: dict[str, str]  # replaced, never mutated: the search index shares snapshots
    created_ms: int
    modified_ms: int
    archived_ms: int | None = None
    merged_into: int | None = None
    history: dict[str, list[tuple[str, int]]] | None = None  # newest first, edited props only


class CrmStore:
    """The portal's data and clock. ``HubSpotSandbox`` adds the API on top."""

    def __init__(
        self,
        start: datetime | None = DEFAULT_START,
        search_lag: float = 0.0,
        archive_retention_days: int = 90,
        merged_reads: str = "survivor",
        portal_id: int = 4_100_001,
    ):
        if merged_reads not in ("survivor", "404"):
            raise ValueError("merged_reads is 'survivor' or '404'")
        self._lock = threading.RLock()
        self._live_clock = start is None
        self._base = start or datetime.now(UTC)
        self._mono0 = time.monotonic()
        self._skew = 0.0
        self.search_lag = search_lag
        self.archive_retention_days = archive_retention_days
        self.merged_reads = merged_reads
        self.portal_id = portal_id
        self._next_id = FIRST_ID
        self._records: dict[int, Record] = {}
        self._live: dict[str, list[int]] = {name: [] for name in OBJECT_TYPES}
        self._archived: dict[str, list[int]] = {name: [] for name in OBJECT_TYPES}
        self._index = {name: SearchIndex(t.modified_property) for name, t in OBJECT_TYPES.items()}
        self._defined = {name: set(KNOWN_PROPERTIES[name]) for name in OBJECT_TYPES}
        self._links: dict[int, dict[str, dict[int, list[Label]]]] = {}
        self._bin: deque[tuple[int, int]] = deque()  # (archived ms, id) in archive order
        self._owners: dict[int, dict[str, Any]] = {}
        self._pipelines: dict[str, dict[str, Any]] = {}
        self.webhooks = WebhookEmitter(self)

    # ------------------------------------------------------------------ clock
    @property
    def now(self) -> datetime:
        """The portal's time: what created/modified timestamps are stamped with."""
        with self._lock:
            moved = time.monotonic() - self._mono0 if self._live_clock else 0.0
            return self._base + timedelta(seconds=moved + self._skew)

    @now.setter
    def now(self, value: datetime) -> None:
        with self._lock:
            value = value if value.tzinfo else value.replace(tzinfo=UTC)
            self._skew += (value - self.now).total_seconds()

    def advance(self, seconds: float) -> datetime:
        """Move the clock on; rate-limit windows and the search lag move with it."""
        with self._lock:
            self._skew += seconds
            return self.now

    def _now_ms(self) -> int:
        return ms_of(self.now)

    def _elapsed(self) -> float:
        """A monotonic clock that advance() also moves (for windows and lags)."""
        return time.monotonic() + self._skew

    # ------------------------------------------------------------------ lookups
    def get(self, record_id: str | int) -> dict[str, Any]:
        """The sandbox's own view of a record (the source of truth), for assertions."""
        with self._lock:
            record = self._record(record_id)
            return {
                "id": str(record.id),
                "type": record.type,
                "properties": dict(record.props),
                "createdAt": iso_ms(record.created_ms),
                "updatedAt": iso_ms(record.modified_ms),
                "archived": record.archived_ms is not None,
                "mergedInto": str(record.merged_into) if record.merged_into else None,
            }

    def ids(self, type_name: str, archived: bool = False) -> list[str]:
        """Live (or archived) ids of a type, ascending."""
        with self._lock:
            name = self._type(type_name).name
            return [str(i) for i in (self._archived if archived else self._live)[name]]

    def count(self, type_name: str) -> int:
        with self._lock:
            return len(self._live[self._type(type_name).name])

    def _record(self, record_id: str | int) -> Record:
        record = self._records.get(int(record_id))
        if record is None:
            raise KeyError(f"no record {record_id}")
        return record

    @staticmethod
    def _type(name: str) -> ObjectType:
        found = object_type(name)
        if found is None:
            raise ValueError(f"unknown object type {name!r}")
        return found

    def _stage(self, pipeline: str | None, stage: str | None) -> dict[str, Any] | None:
        for pid in (pipeline,) if pipeline else tuple(self._pipelines):
            for candidate in self._pipelines.get(pid, {}).get("stages", ()):
                if candidate["id"] == stage:
                    return candidate
        return None

    # ------------------------------------------------------------------ records
    def _take_id(self, wanted: str | int | None = None) -> int:
        if wanted is not None:
            rid = int(wanted)
            if rid in self._records:
                raise ValueError(f"id {rid} is taken")
            self._next_id = max(self._next_id, rid + 1)
            return rid
        rid = self._next_id
        self._next_id += 1
        return rid

    def _new_props(
        self, kind: ObjectType, rid: int, created: int, values: dict[str, Any]
    ) -> dict[str, str]:
        props = {k: v for k, v in ((k, property_value(k, v)) for k, v in values.items()) if v}
        stamp = iso_ms(created)
        props.update(
            {"hs_object_id": str(rid), kind.created_property: stamp, kind.modified_property: stamp}
        )
        if kind.name in ("calls", "emails", "meetings", "notes", "communications"):
            start = props.get("hs_meeting_start_time") if kind.name == "meetings" else None
            props.setdefault("hs_timestamp", start or stamp)
        if kind.name == "deals":
            props.setdefault("hs_createdate", stamp)
            props.update(self._deal_flags(props))
        self._defined[kind.name].update(props)
        return props

    def _deal_flags(self, props: dict[str, str]) -> dict[str, str]:
        stage = self._stage(props.get("pipeline"), props.get("dealstage"))
        closed = stage is not None and stage["metadata"]["isClosed"] == "true"
        won = closed and float(stage["metadata"]["probability"]) >= 1.0
        flags = {
            "hs_is_closed": "true" if closed else "false",
            "hs_is_closed_won": "true" if won else "false",
            "hs_is_closed_lost": "true" if closed and not won else "false",
        }
        if stage is not None:
            flags["hs_deal_stage_probability"] = stage["metadata"]["probability"]
        return flags

    def create(
        self,
        type_name: str,
        properties: dict[str, Any] | None = None,
        at: datetime | date | int | str | None = None,
        record_id: str | int | None = None,
        associations: Iterable[str | int] = (),
    ) -> str:
        """Create a record of any type (the typed helpers below call this)."""
        with self._lock:
            kind = self._type(type_name)
            rid = self._take_id(record_id)
            created = to_ms(at) if at is not None else self._now_ms()
            record = Record(
                rid,
                kind.name,
                self._new_props(kind, rid, created, properties or {}),
                created,
                created,
            )
            self._records[rid] = record
            live = self._live[kind.name]
            if not live or rid > live[-1]:
                live.append(rid)
            else:
                bisect.insort(live, rid)
            self._reindex(record)
            self.webhooks.record(kind, rid, "creation", occurred_ms=created)
            for other in associations:
                if other is not None:
                    self.associate(rid, other)
            return str(rid)

    def edit(
        self,
        record_id: str | int,
        properties: dict[str, Any] | None = None,
        at: datetime | date | int | str | None = None,
        **values: Any,
    ) -> None:
        """Change properties as a user would: bumps the modified property and ``updatedAt``."""
        with self._lock:
            record = self._live_record(record_id)
            stamp = to_ms(at) if at is not None else self._now_ms()
            self._apply_edit(record, {**(properties or {}), **values}, stamp)

    def _apply_edit(
        self, record: Record, values: dict[str, Any], stamp: int, reindex: bool = True
    ) -> None:
        kind = OBJECT_TYPES[record.type]
        props = dict(record.props)
        changed = {}
        for name, raw in values.items():
            value = property_value(name, raw)
            if props.get(name) != value:
                changed[name] = value
                if value is None:
                    props.pop(name, None)
                else:
                    props[name] = value
        if record.type == "deals":
            props.update(self._deal_flags(props))
        self._defined[record.type].update(changed)
        for name, value in changed.items():
            history = record.history if record.history is not None else {}
            record.history = history
            entries = history.setdefault(name, [])
            if not entries and record.props.get(name) is not None:
                entries.append((record.props[name], record.modified_ms))
            entries.insert(0, (value or "", stamp))
        props[kind.modified_property] = iso_ms(stamp)
        record.props = props
        record.modified_ms = stamp
        if reindex:
            self._reindex(record)
        for name, value in changed.items():
            self.webhooks.record(
                kind,
                record.id,
                "propertyChange",
                occurred_ms=stamp,
                propertyName=name,
                propertyValue=value or "",
            )

    def archive(self, record_id: str | int) -> None:
        """Delete a record (to the recycle bin): gone from lists and search, listed by
        ``archived=true`` with ``archivedAt`` for ``archive_retention_days``."""
        with self._lock:
            record = self._live_record(record_id)
            record.archived_ms = self._now_ms()
            self._move(record, self._live, self._archived)
            self._bin.append((record.archived_ms, record.id))
            self._reindex(record)
            self.webhooks.record(
                OBJECT_TYPES[record.type], record.id, "deletion", occurred_ms=record.archived_ms
            )

    def purge_expired(self) -> None:
        """Records leave the recycle bin ``archive_retention_days`` after deletion: gone
        from ``archived=true`` lists, reads and associations for good."""
        with self._lock:
            cutoff = self._now_ms() - self.archive_retention_days * 86_400_000
            while self._bin and self._bin[0][0] < cutoff:
                stamp, rid = self._bin.popleft()
                record = self._records.get(rid)
                if record is None or record.archived_ms != stamp:
                    continue  # restored (and maybe archived again) since
                self._move(record, self._archived, None)
                for targets in list(self._links.get(rid, {}).values()):
                    for target in list(targets):
                        self._unlink(rid, target)
                self._links.pop(rid, None)
                del self._records[rid]

    def restore(self, record_id: str | int) -> None:
        with self._lock:
            record = self._record(record_id)
            if record.archived_ms is None:
                raise ValueError(f"record {record_id} is not archived")
            record.archived_ms = None
            self._move(record, self._archived, self._live)
            self._apply_edit(record, {}, self._now_ms())
            self.webhooks.record(
                OBJECT_TYPES[record.type], record.id, "restore", occurred_ms=record.modified_ms
            )

    def merge(self, primary: str | int, merged: str | int) -> None:
        """Merge ``merged`` into ``primary``: the survivor lists the old id in
        ``hs_merged_object_ids`` and takes its associations; the old id leaves lists and
        search and, per ``merged_reads``, reads as the survivor or answers 404."""
        with self._lock:
            survivor, loser = self._live_record(primary), self._live_record(merged)
            if survivor.type != loser.type or survivor.id == loser.id:
                raise ValueError("merge needs two different records of one type")
            ids = [i for i in survivor.props.get("hs_merged_object_ids", "").split(";") if i]
            ids += [i for i in loser.props.get("hs_merged_object_ids", "").split(";") if i]
            ids.append(str(loser.id))
            for targets in list(self._links.get(loser.id, {}).values()):
                for target, labels in list(targets.items()):
                    primary_label = any(label == "Primary" for _, _, label in labels)
                    self._unlink(loser.id, target)
                    if target != survivor.id:
                        self._link(survivor.id, target, primary=primary_label)
            loser.merged_into = survivor.id
            self._move(loser, self._live, None)
            self._reindex(loser)
            self._apply_edit(survivor, {"hs_merged_object_ids": ";".join(ids)}, self._now_ms())
            self.webhooks.record(
                OBJECT_TYPES[survivor.type],
                survivor.id,
                "merge",
                occurred_ms=survivor.modified_ms,
                primaryObjectId=survivor.id,
                mergedObjectIds=[loser.id],
                newObjectId=survivor.id,
            )

    def resolve(self, record_id: int) -> Record | None:
        """A live record by id, following merges when ``merged_reads`` is "survivor"."""
        record = self._records.get(record_id)
        seen = 0
        while record is not None and record.merged_into is not None and seen < 10:
            if self.merged_reads != "survivor":
                return None
            record, seen = self._records.get(record.merged_into), seen + 1
        return record

    def _live_record(self, record_id: str | int) -> Record:
        record = self._record(record_id)
        if record.archived_ms is not None or record.merged_into is not None:
            raise ValueError(f"record {record_id} is archived or merged")
        return record

    def _move(self, record: Record, source: dict, target: dict | None) -> None:
        ids = source[record.type]
        at = bisect.bisect_left(ids, record.id)
        if at < len(ids) and ids[at] == record.id:
            del ids[at]
        if target is not None:
            bisect.insort(target[record.type], record.id)

    def _doc(self, record: Record) -> Doc:
        return Doc(record.id, record.modified_ms, record.created_ms, record.props)

    def _reindex(self, record: Record) -> None:
        gone = record.archived_ms is not None or record.merged_into is not None
        doc = None if gone else self._doc(record)
        self._index[record.type].put(doc, record.id, self._elapsed(), self.search_lag)

    # ------------------------------------------------------------------ associations
    def associate(
        self,
        from_id: str | int,
        to_id: str | int,
        primary: bool = False,
        bump_modified: bool = False,
    ) -> None:
        """Associate two records both ways (HubSpot-defined types; ``primary`` adds the
        "Primary" label where one exists). Like HubSpot, this does not touch either record's
        ``hs_lastmodifieddate`` unless ``bump_modified``."""
        with self._lock:
            a, b = self._record(from_id), self._record(to_id)
            self._link(a.id, b.id, primary)
            for record in (a, b) if bump_modified else ():
                self._apply_edit(record, {}, self._now_ms())
            self.webhooks.record(
                OBJECT_TYPES[a.type],
                a.id,
                "associationChange",
                occurred_ms=self._now_ms(),
                fromObjectId=a.id,
                toObjectId=b.id,
                associationType=f"{OBJECT_TYPES[a.type].singular}_TO_{OBJECT_TYPES[b.type].singular}".upper(),
                associationRemoved=False,
                isPrimaryAssociation=primary,
            )

    def dissociate(self, from_id: str | int, to_id: str | int) -> None:
        with self._lock:
            self._unlink(int(from_id), int(to_id))

    def _link(self, a: int, b: int, primary: bool) -> None:
        ta, tb = self._records[a].type, self._records[b].type
        forward, backward = ASSOCIATION_TYPE_IDS.get((ta, tb)), ASSOCIATION_TYPE_IDS.get((tb, ta))
        if forward is None or backward is None:
            raise ValueError(f"HubSpot defines no association from {ta} to {tb}")
        for src, dst, kinds, type_id in ((a, b, (ta, tb), forward), (b, a, (tb, ta), backward)):
            labels: list[Label] = [("HUBSPOT_DEFINED", type_id, None)]
            if primary and kinds in PRIMARY_TYPE_IDS:
                labels.insert(0, ("HUBSPOT_DEFINED", PRIMARY_TYPE_IDS[kinds], "Primary"))
            self._links.setdefault(src, {}).setdefault(kinds[1], {})[dst] = labels

    def _unlink(self, a: int, b: int) -> None:
        for src, dst in ((a, b), (b, a)):
            targets = self._links.get(src, {}).get(self._records[dst].type, {})
            targets.pop(dst, None)

    def associations(self, record_id: str | int, to_type: str) -> list[str]:
        """Ids of live records of ``to_type`` associated with a record, ascending."""
        with self._lock:
            name = self._type(to_type).name
            return [str(i) for i in self._targets(int(record_id), name)]

    def _targets(self, record_id: int, to_type: str) -> list[int]:
        targets = self._links.get(record_id, {}).get(to_type, {})
        return sorted(
            t
            for t in targets
            if self._records[t].archived_ms is None and self._records[t].merged_into is None
        )
