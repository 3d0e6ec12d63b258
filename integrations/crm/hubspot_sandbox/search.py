"""The search side of the sandbox: an eventually consistent index per object type.

HubSpot's search reads an index that trails the records ("it may take a few moments for newly
created or updated CRM objects to appear"), so the index here holds its own snapshot of each
record and applies changes only once the configured lag has passed. Documents are kept in a
list sorted by (last modified ms, id): a window on ``hs_lastmodifieddate`` is two bisections,
so a query costs what it matches, not what the portal holds.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .wire import DATETIME_PROPERTIES, NUMERIC_PROPERTIES, parse_ms, validation_error

RANGE_OPERATORS = ("EQ", "GT", "GTE", "LT", "LTE", "BETWEEN")
OPERATORS = (
    *RANGE_OPERATORS,
    "NEQ",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
)


@dataclass(frozen=True, slots=True)
class Doc:
    """A record as the search index last saw it. ``props`` is never mutated (copy on write)."""

    id: int
    modified_ms: int
    created_ms: int
    props: dict[str, str]


class SearchIndex:
    """One object type's index: documents, the (modified, id) order and pending changes."""

    def __init__(self, modified_property: str):
        self.modified_property = modified_property
        self.docs: dict[int, Doc] = {}
        self.order: list[tuple[int, int]] = []  # (modified ms, id), sorted
        self._pending: list[tuple[float, int, int, Doc | None]] = []  # heap by visible time
        self._seq = itertools.count()
        self.version = 0
        self._cache: OrderedDict[Any, tuple[int, list[int]]] = OrderedDict()

    # ------------------------------------------------------------------ writes
    def put(self, doc: Doc | None, doc_id: int, visible_at: float, lag: float) -> None:
        """Index ``doc`` (None: drop ``doc_id``) once ``visible_at + lag`` has passed."""
        if lag <= 0 and not self._pending:
            self._apply(doc_id, doc)
            return
        heapq.heappush(self._pending, (visible_at + lag, next(self._seq), doc_id, doc))

    def put_many(self, docs: list[Doc], visible_at: float, lag: float) -> None:
        """Index many documents at once: one filter and one sort instead of n insertions."""
        if lag > 0 or self._pending:
            for doc in docs:
                self.put(doc, doc.id, visible_at, lag)
            return
        replaced = {d.id for d in docs if d.id in self.docs}
        if replaced:
            self.order = [key for key in self.order if key[1] not in replaced]
        for doc in docs:
            self.docs[doc.id] = doc
        keys = sorted((d.modified_ms, d.id) for d in docs)
        if keys and self.order and keys[0] < self.order[-1]:
            self.order.extend(keys)
            self.order.sort()  # two sorted runs: Timsort merges them in linear time
        else:
            self.order.extend(keys)
        self.version += 1

    def catch_up(self, now: float) -> None:
        """Apply every pending change whose time has come."""
        while self._pending and self._pending[0][0] <= now:
            _, _, doc_id, doc = heapq.heappop(self._pending)
            self._apply(doc_id, doc)

    def _apply(self, doc_id: int, doc: Doc | None) -> None:
        old = self.docs.pop(doc_id, None)
        if old is not None:
            key = (old.modified_ms, doc_id)
            at = bisect.bisect_left(self.order, key)
            if at < len(self.order) and self.order[at] == key:
                del self.order[at]
        if doc is not None:
            self.docs[doc_id] = doc
            key = (doc.modified_ms, doc_id)
            if not self.order or key > self.order[-1]:
                self.order.append(key)
            else:
                bisect.insort(self.order, key)
        self.version += 1

    # ------------------------------------------------------------------ reads
    def query(self, filter_groups: list[dict[str, Any]], sort: tuple[str, bool] | None) -> list:
        """Ids matching any group (all filters of a group), in the order the sort asks.

        Results are cached per query until the index changes, so paging through a window
        costs one evaluation.
        """
        key = (repr(filter_groups), sort)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == self.version:
            self._cache.move_to_end(key)
            return cached[1]
        groups = [self._compile(g) for g in filter_groups] or [[]]
        matched: dict[int, Doc] = {}
        presorted = len(groups) == 1
        for filters in groups:
            for doc in self._candidates(filters):
                if doc.id not in matched and all(f(doc) for _, f in filters):
                    matched[doc.id] = doc
        docs = list(matched.values())
        name, descending = sort or ("hs_object_id", False)
        if name == self.modified_property and presorted and self._ranged(groups[0]):
            ordered = docs  # the candidates came in index order: (modified, id)
        else:
            ordered = sorted(docs, key=lambda d: d.id)
            ordered.sort(key=lambda d: _sort_key(d, name, self.modified_property))
        if descending:
            ordered = _reverse_keep_ties(ordered, name, self.modified_property)
        ids = [d.id for d in ordered]
        self._cache[key] = (self.version, ids)
        if len(self._cache) > 32:
            self._cache.popitem(last=False)
        return ids

    def _ranged(self, filters: list) -> bool:
        return any(name == self.modified_property for name, _ in filters)

    def _candidates(self, filters: list) -> Any:
        """Documents that may match: a slice of the modified order when the group bounds it."""
        low, high = None, None
        for name, check in filters:
            if name == self.modified_property and check.bounds is not None:
                lo, hi = check.bounds
                low = lo if low is None or (lo is not None and lo > low) else low
                high = hi if high is None or (hi is not None and hi < high) else high
        if not any(name == self.modified_property for name, _ in filters):
            return self.docs.values()
        start = 0 if low is None else bisect.bisect_left(self.order, (low, -1))
        stop = len(self.order) if high is None else bisect.bisect_right(self.order, (high, 1 << 62))
        return (self.docs[i] for _, i in self.order[start:stop])

    def _compile(self, group: dict[str, Any]) -> list:
        filters = group.get("filters") or []
        if not isinstance(filters, list):
            raise validation_error("filterGroups[].filters must be a list")
        return [self._compile_filter(f) for f in filters]

    def _compile_filter(self, spec: dict[str, Any]) -> tuple[str, Any]:
        name = spec.get("propertyName")
        operator = str(spec.get("operator", "EQ")).upper()
        if not name:
            raise validation_error("filter is missing propertyName")
        if operator not in OPERATORS:
            raise validation_error(f"Invalid operator {operator}")
        kind = _kind(name)
        value = spec.get("value")
        values = spec.get("values") or []
        high = spec.get("highValue")

        def convert(raw: Any) -> Any:
            if raw is None:
                raise validation_error(f"filter on {name} with {operator} needs a value")
            try:
                if kind == "date":
                    return parse_ms(str(raw))
                if kind == "number":
                    return float(raw)
            except ValueError:
                raise validation_error(f"{raw!r} is not a valid value for {name}") from None
            return str(raw).lower()

        def get(doc: Doc) -> Any:
            return _value(doc, name, kind, self.modified_property)

        check: Any
        bounds = None
        if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            wanted = operator == "HAS_PROPERTY"

            def check(doc: Doc) -> bool:
                return (get(doc) is not None) == wanted
        elif operator in ("IN", "NOT_IN"):
            members = {convert(v) for v in values}
            inside = operator == "IN"

            def check(doc: Doc) -> bool:
                current = get(doc)
                return current is not None and (current in members) == inside
        elif operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(value or "").lower().strip("*")
            contains = operator == "CONTAINS_TOKEN"

            def check(doc: Doc) -> bool:
                current = doc.props.get(name)
                return current is not None and (token in current.lower()) == contains
        else:
            low = convert(value)
            top = convert(high) if operator == "BETWEEN" else None
            compare = {
                "EQ": lambda v: v == low,
                "NEQ": lambda v: v != low,
                "GT": lambda v: v > low,
                "GTE": lambda v: v >= low,
                "LT": lambda v: v < low,
                "LTE": lambda v: v <= low,
                "BETWEEN": lambda v: low <= v <= top,
            }[operator]

            def check(doc: Doc) -> bool:
                current = get(doc)
                return current is not None and compare(current)

            if name == self.modified_property:
                bounds = {
                    "EQ": (low, low),
                    "GT": (low + 1, None),
                    "GTE": (low, None),
                    "LT": (None, low - 1),
                    "LTE": (None, low),
                    "BETWEEN": (low, top),
                }.get(operator)
        wrapped = _Check(check, bounds)
        return name, wrapped


class _Check:
    __slots__ = ("bounds", "fn")

    def __init__(self, fn: Any, bounds: tuple[int | None, int | None] | None):
        self.fn, self.bounds = fn, bounds

    def __call__(self, doc: Doc) -> bool:
        return self.fn(doc)


def _kind(name: str) -> str:
    if name in DATETIME_PROPERTIES:
        return "date"
    if name in NUMERIC_PROPERTIES:
        return "number"
    return "text"


def _value(doc: Doc, name: str, kind: str, modified_property: str) -> Any:
    if name == modified_property:
        return doc.modified_ms
    if name == "hs_object_id":
        return float(doc.id)
    raw = doc.props.get(name)
    if raw is None or raw == "":
        return None
    if kind == "date":
        return parse_ms(raw)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return None
    return raw.lower()


def _sort_key(doc: Doc, name: str, modified_property: str) -> tuple:
    value = _value(doc, name, _kind(name), modified_property)
    return (value is None, value if value is not None else 0)


def _reverse_keep_ties(docs: list[Doc], name: str, modified_property: str) -> list[Doc]:
    """Descending by the sort value, ids still ascending within a value."""
    runs = [
        list(run)
        for _, run in itertools.groupby(docs, key=lambda d: _sort_key(d, name, modified_property))
    ]
    return [doc for run in reversed(runs) for doc in run]
