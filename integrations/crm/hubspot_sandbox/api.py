"""The endpoints: CRM v3 objects (list, read, search, batch read), owners, deal pipelines and
v4 associations, with the date-versioned ``2026-03`` paths as aliases.

Handlers run under the store's lock and return ``(status, body)``; errors are raised as
``HubSpotError``. Rendering reads each record's properties snapshot, so a page costs its own
length whatever the portal's size.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any
from urllib.parse import urlencode

from .arrange import Portal
from .store import Record
from .wire import (
    OBJECT_TYPES,
    OWNERS_SCOPE,
    HubSpotError,
    ObjectType,
    decode_cursor,
    encode_cursor,
    error_body,
    iso_ms,
    object_type,
    validation_error,
)

SEARCH_MAX_LIMIT = 200
SEARCH_MAX_RESULTS = 10_000
LIST_MAX_LIMIT = 100
HISTORY_MAX_LIMIT = 50
BATCH_MAX_INPUTS = 100
ASSOCIATION_BATCH_MAX_INPUTS = 1000
OWNERS_MAX_LIMIT = 500
_VERSIONED = re.compile(r"^/crm/(objects|associations|owners|pipelines)/\d{4}-\d{2}(?=/|$)")
Query = dict[str, list[str]]


def canonical_path(path: str) -> str:
    """The v3/v4 path a request means: ``/crm/objects/2026-03/0-3`` is ``/crm/v3/objects/0-3``."""
    path = "/" + path.strip("/")
    match = _VERSIONED.match(path)
    if match:
        area, rest = match.group(1), path[match.end() :]
        per_record_associations = area == "objects" and re.fullmatch(
            r"/[^/]+/[^/]+/associations/[^/]+", rest
        )
        version = "v4" if area == "associations" or per_record_associations else "v3"
        path = f"/crm/{version}/{area}{rest}"
    return path


def required_scopes(method: str, path: str) -> list[str] | None:
    """Scopes a route needs, or None when the sandbox does not serve the path."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4:
        kind = object_type(parts[3])
        return [kind.read_scope] if kind else None
    if parts[:3] == ["crm", "v3", "owners"]:
        return [OWNERS_SCOPE]
    if parts[:3] == ["crm", "v3", "pipelines"]:
        return ["crm.objects.deals.read"]
    if parts[:3] == ["crm", "v4", "associations"] and len(parts) >= 5:
        kinds = [object_type(parts[3]), object_type(parts[4])]
        return sorted({k.read_scope for k in kinds if k}) if all(kinds) else None
    if parts[:3] == ["crm", "v4", "objects"] and len(parts) == 7:
        kinds = [object_type(parts[3]), object_type(parts[6])]
        return sorted({k.read_scope for k in kinds if k}) if all(kinds) else None
    return None


def is_search(method: str, path: str) -> bool:
    parts = path.strip("/").split("/")
    return (
        method == "POST"
        and len(parts) == 5
        and parts[:3] == ["crm", "v3", "objects"]
        and (parts[4] == "search")
    )


def _one(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _names(query: Query, name: str) -> list[str]:
    """A list parameter sent repeated (the SDK) or comma-joined (Airbyte), or both."""
    return [n.strip() for value in query.get(name, []) for n in value.split(",") if n.strip()]


def _flag(value: str | None) -> bool:
    return (value or "").lower() == "true"


def _int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise validation_error(f"{name} must be an integer, got {value!r}") from None


def _not_found() -> HubSpotError:
    # A missing object answers 404 with an empty body (as client reports describe it;
    # UNVERIFIED against a capture): clients must not count on a JSON error here.
    return HubSpotError(404, None)


class CrmApi(Portal):
    """Request handlers over the store; ``HubSpotSandbox`` adds auth, limits and HTTP."""

    strict_list_limit = False  # True: a list limit over 100 answers 400 instead of clamping
    # v4 ``toObjectId``: a string, as HubSpot's specs and SDK type it; HubSpot's guide shows
    # numbers in its examples (UNVERIFIED which the wire carries), so numbers are a switch.
    association_ids_as_numbers = False
    association_page_size = 500
    base_url = "http://127.0.0.1"

    def _route(self, method: str, path: str, query: Query, body: Any) -> tuple[int, Any]:
        self.purge_expired()
        parts = path.strip("/").split("/")
        n = len(parts)
        if parts[:3] == ["crm", "v3", "objects"] and n >= 4:
            kind = object_type(parts[3])
            assert kind is not None  # required_scopes() let only known types through
            if method == "GET" and n == 4:
                return 200, self._list(kind, query)
            if method == "GET" and n == 5:
                return 200, self._read(kind, parts[4], query)
            if method == "POST" and n == 5 and parts[4] == "search":
                return 200, self._search(kind, body)
            if method == "POST" and n == 6 and parts[4:] == ["batch", "read"]:
                return self._batch_read(kind, body, query)
        if parts[:3] == ["crm", "v3", "owners"] and method == "GET":
            if n == 3:
                return 200, self._list_owners(query)
            if n == 4:
                return 200, self._read_owner(parts[3], query)
        if parts[:3] == ["crm", "v3", "pipelines"] and method == "GET" and n >= 4:
            return 200, self._pipeline_route(parts[3:])
        batch = parts[:3] == ["crm", "v4", "associations"] and parts[5:] == ["batch", "read"]
        if batch and method == "POST" and n == 7:
            return self._association_batch(parts[3], parts[4], body)
        per_record = parts[:3] == ["crm", "v4", "objects"] and n == 7 and parts[5] == "associations"
        if per_record and method == "GET":
            return 200, self._association_page(parts[3], parts[4], parts[6], query)
        raise HubSpotError(404, None)

    # ------------------------------------------------------------------ rendering
    def _render(
        self,
        kind: ObjectType,
        record: Any,  # a Record or a search Doc
        names: list[str],
        history: list[str] = (),  # type: ignore[assignment]
        associations: list[ObjectType] = (),  # type: ignore[assignment]
    ) -> dict[str, Any]:
        props = record.props
        defined = self._defined[kind.name]
        wanted = names or list(kind.defaults)
        out: dict[str, Any] = {
            "id": str(record.id),
            "properties": {
                name: props.get(name)
                for name in sorted(set(wanted))
                if name in props or name in defined
            },
            "createdAt": iso_ms(record.created_ms),
            "updatedAt": iso_ms(record.modified_ms),
            "archived": getattr(record, "archived_ms", None) is not None,
        }
        if out["archived"]:
            out["archivedAt"] = iso_ms(record.archived_ms)
        if history:
            out["propertiesWithHistory"] = {
                name: self._history(record, name) for name in history if name in props
            }
        linked = {}
        for other in associations:
            targets = self._targets(record.id, other.name)
            if targets:
                kind_name = f"{kind.singular}_to_{other.singular}"
                linked[other.name] = {
                    "results": [{"id": str(t), "type": kind_name} for t in targets]
                }
        if linked:
            out["associations"] = linked
        return out

    @staticmethod
    def _history(record: Any, name: str) -> list[dict[str, str]]:
        entries = (getattr(record, "history", None) or {}).get(name)
        if not entries:
            entries = [(record.props[name], record.modified_ms)]
        return [
            {"value": value, "timestamp": iso_ms(stamp), "sourceType": "CRM_UI"}
            for value, stamp in entries
        ]

    def _next(self, path: str, query: dict[str, Any], after: str) -> dict[str, Any]:
        link = f"{self.base_url}{path}?{urlencode({**query, 'after': after}, doseq=True)}"
        return {"next": {"after": after, "link": link}}

    # ------------------------------------------------------------------ objects
    def _list(self, kind: ObjectType, query: Query) -> dict[str, Any]:
        archived = _flag(_one(query, "archived"))
        names, history = _names(query, "properties"), _names(query, "propertiesWithHistory")
        associations = [t for t in map(object_type, _names(query, "associations")) if t]
        ceiling = HISTORY_MAX_LIMIT if history else LIST_MAX_LIMIT
        limit = _int(_one(query, "limit"), "limit", 10)
        if limit < 1 or (limit > ceiling and self.strict_list_limit):
            raise validation_error(f"limit must be between 1 and {ceiling}")
        limit = min(limit, ceiling)
        ids = (self._archived if archived else self._live)[kind.name]
        start = 0
        token = _one(query, "after")
        if token:
            last = decode_cursor(token)
            if last is None:
                raise validation_error(f"Invalid after cursor {token!r}")
            start = bisect.bisect_right(ids, last)
        chunk = ids[start : start + limit]
        body: dict[str, Any] = {
            "results": [
                self._render(kind, self._records[i], names, history, associations) for i in chunk
            ]
        }
        if start + limit < len(ids):
            rest = {k: v for k, v in query.items() if k != "after"}
            body["paging"] = self._next(
                f"/crm/v3/objects/{kind.name}", rest, encode_cursor(chunk[-1])
            )
        return body

    def _lookup(self, kind: ObjectType, raw_id: str, archived: bool = False) -> Record | None:
        if not raw_id.isdigit():
            return None
        record = self.resolve(int(raw_id))
        if record is None or record.type != kind.name:
            return None
        if (record.archived_ms is not None) != archived:
            return None
        return record

    def _read(self, kind: ObjectType, raw_id: str, query: Query) -> dict[str, Any]:
        id_property = _one(query, "idProperty")
        if id_property and id_property != "hs_object_id":
            raise validation_error("the sandbox reads by hs_object_id only")
        record = self._lookup(kind, raw_id, archived=_flag(_one(query, "archived")))
        if record is None:
            raise _not_found()
        associations = [t for t in map(object_type, _names(query, "associations")) if t]
        names, history = _names(query, "properties"), _names(query, "propertiesWithHistory")
        return self._render(kind, record, names, history, associations)

    def _search(self, kind: ObjectType, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: a search request is a JSON object")
        if body.get("query"):
            raise validation_error("The sandbox does not implement free-text search (query)")
        limit = _int(body.get("limit"), "limit", 10)
        if not 1 <= limit <= SEARCH_MAX_LIMIT:
            raise validation_error(f"limit must be between 1 and {SEARCH_MAX_LIMIT}")
        offset = _int(body.get("after"), "after", 0)
        if offset >= SEARCH_MAX_RESULTS:
            # HubSpot answers 400 here; the exact message is UNVERIFIED.
            raise validation_error(
                f"The search endpoints are limited to {SEARCH_MAX_RESULTS} total results for any "
                "given query. Use filters to narrow the results."
            )
        sorts = body.get("sorts") or []
        sort = None
        if sorts:  # only the first sort is honoured
            first = sorts[0]
            if isinstance(first, str):
                sort = (first.lstrip("-"), first.startswith("-"))
            else:
                sort = (first.get("propertyName"), first.get("direction") == "DESCENDING")
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list):
            raise validation_error("filterGroups must be a list")
        index = self._index[kind.name]
        index.catch_up(self._elapsed())
        ids = index.query(groups, sort)
        page = ids[offset : min(offset + limit, SEARCH_MAX_RESULTS)]
        names = [str(n) for n in body.get("properties") or []]
        out: dict[str, Any] = {
            "total": len(ids),
            "results": [self._render(kind, index.docs[i], names) for i in page],
        }
        if offset + len(page) < len(ids):
            out["paging"] = {"next": {"after": str(offset + len(page))}}
        return out

    def _batch_read(self, kind: ObjectType, body: Any, query: Query) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise validation_error("Invalid input JSON: inputs is required")
        inputs = body["inputs"]
        if len(inputs) > BATCH_MAX_INPUTS:
            raise validation_error(f"Batch input cannot be more than {BATCH_MAX_INPUTS} inputs.")
        if body.get("idProperty") not in (None, "hs_object_id"):
            raise validation_error("the sandbox reads by hs_object_id only")
        archived = _flag(_one(query, "archived"))
        names = [str(n) for n in body.get("properties") or []]
        history = [str(n) for n in body.get("propertiesWithHistory") or []]
        started = iso_ms(self._now_ms())
        results, missing = [], []
        for item in inputs:
            raw = str((item or {}).get("id", ""))
            record = self._lookup(kind, raw, archived)
            if record is None:
                missing.append(raw)
            else:
                results.append(self._render(kind, record, names, history))
        out: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            out["numErrors"] = 1
            out["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {kind.singular.upper()} objects, they may "
                    "be deleted or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            ]
        out.update(startedAt=started, completedAt=iso_ms(self._now_ms()))
        return (207 if missing else 200), out

    # ------------------------------------------------------------------ owners, pipelines
    def _list_owners(self, query: Query) -> dict[str, Any]:
        limit = _int(_one(query, "limit"), "limit", 100)
        if not 1 <= limit <= OWNERS_MAX_LIMIT:
            raise validation_error(f"limit must be between 1 and {OWNERS_MAX_LIMIT}")
        archived = _flag(_one(query, "archived"))
        email = (_one(query, "email") or "").lower()
        ids = sorted(
            oid
            for oid, owner in self._owners.items()
            if owner["archived"] == archived
            and (not email or owner.get("email", "").lower() == email)
        )
        token = _one(query, "after")
        start = 0
        if token:
            last = decode_cursor(token)
            if last is None:
                raise validation_error(f"Invalid after cursor {token!r}")
            start = bisect.bisect_right(ids, last)
        chunk = ids[start : start + limit]
        out: dict[str, Any] = {"results": [dict(self._owners[i]) for i in chunk]}
        if start + limit < len(ids):
            rest = {k: v for k, v in query.items() if k != "after"}
            out["paging"] = self._next("/crm/v3/owners", rest, encode_cursor(chunk[-1]))
        return out

    def _read_owner(self, raw_id: str, query: Query) -> dict[str, Any]:
        archived = _flag(_one(query, "archived"))
        by_user = _one(query, "idProperty") == "userId"
        for owner in self._owners.values():
            key = owner.get("userIdIncludingInactive") if by_user else owner["id"]
            if str(key) == raw_id and owner["archived"] == archived:
                return dict(owner)
        raise HubSpotError(404, error_body(f"Owner {raw_id} not found", "OBJECT_NOT_FOUND"))

    def _pipeline_route(self, parts: list[str]) -> dict[str, Any]:
        pipelines = self._pipelines if object_type(parts[0]) is OBJECT_TYPES["deals"] else {}
        if len(parts) == 1:
            ordered = sorted(pipelines.values(), key=lambda p: (p["displayOrder"], p["label"]))
            return {"results": [_copy_pipeline(p) for p in ordered if not p["archived"]]}
        pipeline = pipelines.get(parts[1])
        if pipeline is None:
            message = f"Unable to find pipeline {parts[1]}"
            raise HubSpotError(404, error_body(message, "OBJECT_NOT_FOUND"))
        if len(parts) == 2:
            return _copy_pipeline(pipeline)
        if len(parts) == 3 and parts[2] == "stages":
            return {"results": _copy_pipeline(pipeline)["stages"]}
        raise HubSpotError(404, None)

    # ------------------------------------------------------------------ associations v4
    def _association_types(self, from_name: str, to_name: str) -> tuple[ObjectType, ObjectType]:
        source, target = object_type(from_name), object_type(to_name)
        if source is None or target is None:
            raise validation_error(
                f"Unknown object type {from_name if source is None else to_name}"
            )
        return source, target

    def _association_rows(
        self, record_id: int, target: ObjectType, start_after: int | None, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        targets = self._targets(record_id, target.name)
        start = bisect.bisect_right(targets, start_after) if start_after is not None else 0
        chunk = targets[start : start + limit]
        labels = self._links.get(record_id, {}).get(target.name, {})
        rows = [
            {
                "toObjectId": t if self.association_ids_as_numbers else str(t),
                "associationTypes": [
                    {"category": c, "typeId": type_id, "label": label}
                    for c, type_id, label in labels[t]
                ],
            }
            for t in chunk
        ]
        more = chunk[-1] if start + limit < len(targets) else None
        return rows, more

    def _association_batch(self, from_name: str, to_name: str, body: Any) -> tuple[int, Any]:
        source, target = self._association_types(from_name, to_name)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise validation_error("Invalid input JSON: inputs is required")
        if len(body["inputs"]) > ASSOCIATION_BATCH_MAX_INPUTS:
            raise validation_error(
                f"Batch input cannot be more than {ASSOCIATION_BATCH_MAX_INPUTS} inputs."
            )
        started = iso_ms(self._now_ms())
        results, errors = [], []
        for item in body["inputs"]:
            raw = str((item or {}).get("id", ""))
            after = (item or {}).get("after")
            last = decode_cursor(str(after)) if after else None
            if after and last is None:
                raise validation_error(f"Invalid after cursor {after!r}")
            record = self.resolve(int(raw)) if raw.isdigit() else None
            rows, more = [], None
            if record is not None and record.type == source.name and record.archived_ms is None:
                rows, more = self._association_rows(
                    record.id, target, last, self.association_page_size
                )
            if not rows:
                errors.append(_no_associations(source, target, raw))
                continue
            result: dict[str, Any] = {"from": {"id": raw}, "to": rows}
            if more is not None:
                cursor = encode_cursor(more)
                link = (
                    f"{self.base_url}/crm/v4/objects/{source.type_id}/{raw}/associations/"
                    f"{target.type_id}?after={cursor}"
                )
                result["paging"] = {"next": {"after": cursor, "link": link}}
            results.append(result)
        out: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
        out.update(startedAt=started, completedAt=iso_ms(self._now_ms()))
        return (207 if errors else 200), out

    def _association_page(self, from_name: str, raw_id: str, to_name: str, query: Query) -> Any:
        source, target = self._association_types(from_name, to_name)
        limit = _int(_one(query, "limit"), "limit", 500)
        if not 1 <= limit <= 500:
            raise validation_error("limit must be between 1 and 500")
        token = _one(query, "after")
        last = decode_cursor(token) if token else None
        if token and last is None:
            raise validation_error(f"Invalid after cursor {token!r}")
        record = self.resolve(int(raw_id)) if raw_id.isdigit() else None
        if record is None or record.type != source.name or record.archived_ms is not None:
            return {"results": []}  # UNVERIFIED: HubSpot may answer 404 for a missing record
        rows, more = self._association_rows(record.id, target, last, limit)
        out: dict[str, Any] = {"results": rows}
        if more is not None:
            rest = {k: v for k, v in query.items() if k != "after"}
            path = f"/crm/v4/objects/{from_name}/{raw_id}/associations/{to_name}"
            out["paging"] = self._next(path, rest, encode_cursor(more))
        return out


def _no_associations(source: ObjectType, target: ObjectType, raw_id: str) -> dict[str, Any]:
    """The 207 error entry for an input without associations (or an unknown id)."""
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "message": f"No {target.singular} is associated with {source.singular} {raw_id}.",
        "context": {
            "fromObjectId": [raw_id],
            "fromObjectType": [source.singular],
            "toObjectType": [target.singular],
        },
    }


def _copy_pipeline(pipeline: dict[str, Any]) -> dict[str, Any]:
    return {
        **pipeline,
        "stages": [{**s, "metadata": dict(s["metadata"])} for s in pipeline["stages"]],
    }


def parse_json(raw: bytes) -> Any:
    """A request body as JSON, or HubSpot's 400 for input it cannot parse."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise validation_error(
            f"Invalid input JSON on line 1, column {getattr(exc, 'colno', 1)}: {exc}"
        ) from None
