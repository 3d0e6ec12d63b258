"""A local Asana: an HTTP server speaking Asana's REST wire format for the endpoints the sync uses.

Standard library only and no Django, so it runs in a thread of a test or as its own process.
It follows section 9.1 of the Asana notes (``shared/docs/notes/asana-api.md``): Bearer auth and
401, ``{"data": ...}`` envelopes, ``limit``/``offset`` pagination with expiring offsets, compact
records unless ``opt_fields`` asks for more, ``modified_since`` with ``>=`` semantics (moves and
subtask edits do not bump ``modified_at``), stories with ``due_date_changed``, the Events API
with sync tokens and 412, webhooks with the ``X-Hook-Secret`` handshake and signed deliveries,
per-token quotas and injected faults.

    with AsanaSandbox(token="t") as sandbox:
        ws = sandbox.add_workspace("Agency")
        project = sandbox.add_project("Client A", ws)
        task = sandbox.add_task(project, "Launch", due_on="2025-01-10")
        sandbox.advance(60)
        sandbox.edit_task(task, due_on="2025-01-17")   # a due_date_changed story
        # point asana.Configuration().host at sandbox.base_url

Everything the server knows lives in memory on the instance; the arrange helpers and the HTTP
handler share one lock. Times come from a settable clock (``now``/``advance``), so
``modified_at`` values are deterministic.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

API_PREFIX = "/api/1.0"
DEFAULT_START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
ERROR_HELP = (
    "For more information on API status codes and how to handle them, read the docs on errors: "
    "https://developers.asana.com/docs/errors"
)
RATE_LIMIT_MESSAGE = (
    "You've made too many requests and hit a rate limit. Please retry after the given amount "
    "of time."
)
SYNC_MESSAGE = (
    "Sync token invalid or too old. If you are attempting to keep resources in sync, you must "
    "fetch the full dataset for this query now and use the new sync token for the next sync."
)
EVENTS_PER_CALL = 100

# Fields each kind returns when no opt_fields are given in a list (the OAS *Compact schemas).
COMPACT_FIELDS = {
    "workspace": ("gid", "resource_type", "name"),
    "user": ("gid", "resource_type", "name"),
    "project": ("gid", "resource_type", "name"),
    "section": ("gid", "resource_type", "name"),
    "task": ("gid", "resource_type", "name", "resource_subtype"),
    "story": ("gid", "resource_type", "created_at", "created_by", "resource_subtype", "text"),
    "goal": ("gid", "resource_type", "name", "owner"),
    "webhook": ("gid", "resource_type", "active", "resource", "target"),
}
# Fields that exist but are returned only when asked for by opt_fields.
OPT_IN_FIELDS = {
    "task": ("num_subtasks", "html_notes", "created_by", "dependencies", "dependents"),
}


class SandboxError(Exception):
    """Raised inside the handler to answer with an Asana error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


class LoggedRequest(NamedTuple):
    """One request the sandbox answered. ``path`` is relative to ``/api/1.0``."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    token: str | None


class Ref(NamedTuple):
    """A reference from one record to another, rendered compact or expanded by opt_fields."""

    kind: str
    gid: str


@dataclass
class _Fault:
    status: int | None
    retry_after: int | None = None
    body: Any = None
    delay: float = 0.0
    path: str | None = None  # only requests to this path (relative to /api/1.0)
    skip: int = 0  # let this many matching requests through first


@dataclass
class _Webhook:
    gid: str
    resource: str
    target: str
    secret: str
    created_at: datetime
    filters: list[dict[str, Any]] = field(default_factory=list)
    active: bool = True
    pending: list[dict[str, Any]] = field(default_factory=list)
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_failure_content: str = ""


def iso(moment: datetime | None) -> str | None:
    """Asana's date-time format: UTC with milliseconds and a ``Z``."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_datetime(value: str) -> datetime:
    """Parse a date-time query value the way Asana accepts it (ISO 8601, naive means UTC)."""
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _gid_order(gid: str) -> tuple[int, str]:
    return len(gid), gid  # numeric strings: shorter is smaller


def sign(secret: str, body: bytes) -> str:
    """``X-Hook-Signature``: the hex HMAC-SHA256 of the raw body keyed with the secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_opt_fields(value: str) -> dict[str, dict]:
    """Turn ``"name,assignee.name,memberships.(project|section).gid"`` into a field tree."""
    tree: dict[str, dict] = {}
    for path in _split_top(value, ","):
        for expanded in _expand_groups(path.strip()):
            if not expanded:
                continue
            node = tree
            for part in expanded.split("."):
                node = node.setdefault(part, {})
    return tree


def _split_top(value: str, sep: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _expand_groups(path: str) -> list[str]:
    match = re.search(r"\(([^()]*)\)", path)
    if not match:
        return [path]
    head, tail = path[: match.start()], path[match.end() :]
    out = []
    for option in match.group(1).split("|"):
        out.extend(_expand_groups(head + option + tail))
    return out


class AsanaSandbox:
    """An in-memory Asana workspace behind a real HTTP server. See the module docstring."""

    def __init__(
        self,
        token: str = "sandbox-token",  # noqa: S107 - a fake server's fake token
        requests_per_minute: int | None = None,
        premium: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        start: datetime = DEFAULT_START,
        allow_local_webhooks: bool = True,
        user_name: str = "Sandbox Bot",
        user_email: str = "bot@sandbox.test",
    ):
        self.token = token
        self.requests_per_minute = requests_per_minute
        self.premium = premium
        self.allow_local_webhooks = allow_local_webhooks
        self.request_log: list[LoggedRequest] = []
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._now = start
        self._skew = 0.0  # seconds advance() added, so quotas see the same clock
        self._gid_counter = 1_200_000_000_000_000
        self._records: dict[str, dict[str, Any]] = {}  # gid -> record (with "kind")
        self._order: dict[str, list[str]] = {}  # kind -> gids in creation order
        self._stories: dict[str, list[str]] = {}  # task gid -> story gids
        self._kids: dict[str, list[str]] = {}  # task gid -> subtask gids (creation order)
        self._members: dict[str, list[str]] = {}  # project gid -> its task gids (gid order)
        self._events: list[tuple[int, set[str], dict[str, Any]]] = []
        self._event_seq = 0
        self._sync_tokens: dict[str, int] = {}  # token -> event position
        self._offsets: dict[str, tuple[str, str]] = {}  # offset -> (query key, last gid)
        self._faults: list[_Fault] = []
        self._quota_hits: dict[str, list[float]] = {}
        self._tokens: dict[str, str | None] = {}
        self._revoked: set[str] = set()
        self.webhooks: dict[str, _Webhook] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.me = self.add_user(user_email, user_name)
        self._tokens[token] = self.me

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> AsanaSandbox:
        sandbox = self

        class Handler(_Handler):
            pass

        Handler.sandbox = sandbox
        server = ThreadingHTTPServer((self._host, self._port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AsanaSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the sandbox first"
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + API_PREFIX

    # ----------------------------------------------------------------- clock
    @property
    def now(self) -> datetime:
        with self._lock:
            return self._now

    @now.setter
    def now(self, value: datetime) -> None:
        with self._lock:
            value = value if value.tzinfo else value.replace(tzinfo=UTC)
            self._skew += (value - self._now).total_seconds()
            self._now = value

    def advance(self, seconds: float) -> datetime:
        """Move the clock on; quota windows move with it."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._skew += seconds
            return self._now

    # ----------------------------------------------------------------- fault injection
    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        retry_after: int | None = None,
        body: Any = None,
        path: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next ``n`` authorised requests with ``status`` (429, 500, 503, ...);
        with ``path``, only requests to that path, after letting ``after`` of them through."""
        with self._lock:
            self._faults.extend(
                _Fault(status, retry_after, body, path=path, skip=after) for _ in range(n)
            )

    def slow_next(self, n: int = 1, seconds: float = 1.0) -> None:
        """Delay the next ``n`` authorised requests by ``seconds`` before answering normally."""
        with self._lock:
            self._faults.extend(_Fault(None, delay=seconds) for _ in range(n))

    def expire_offsets(self) -> None:
        """Every pagination offset handed out so far now answers 400."""
        with self._lock:
            self._offsets.clear()

    def expire_sync_tokens(self) -> None:
        """Every events sync token handed out so far now answers 412 with a fresh token."""
        with self._lock:
            self._sync_tokens.clear()

    def revoke_token(self, token: str | None = None) -> None:
        """Requests with the token answer 401 from now on."""
        with self._lock:
            self._revoked.add(token or self.token)

    def add_token(self, token: str, user: str | None = None) -> None:
        """Accept another token (acting as ``user``, default the sandbox's own user)."""
        with self._lock:
            self._tokens[token] = user or self.me
            self._revoked.discard(token)

    def reset_quota(self) -> None:
        with self._lock:
            self._quota_hits.clear()

    def calls(self, path: str | None = None, method: str = "GET") -> list[LoggedRequest]:
        """Logged requests, optionally those whose path equals or starts with ``path``."""
        with self._lock:
            return [
                r
                for r in self.request_log
                if r.method == method
                and (path is None or r.path == path or r.path.startswith(path.rstrip("/") + "/"))
            ]

    # ----------------------------------------------------------------- arrange helpers
    def _gid(self) -> str:
        self._gid_counter += 1
        return str(self._gid_counter)

    def _store(self, kind: str, gid: str | None = None, **values: Any) -> str:
        order = self._order.setdefault(kind, [])
        if gid is None:
            gid = self._gid()
            order.append(gid)  # the largest gid so far: the listing stays in gid order
        else:
            gid = str(gid)
            if not gid.isdigit() or gid in self._records:
                raise ValueError(f"gid {gid!r} is not a free numeric gid")
            self._gid_counter = max(self._gid_counter, int(gid))
            # Offsets resume after the last gid handed out, so listings stay in gid order.
            bisect.insort(order, gid, key=int)
        self._records[gid] = {"kind": kind, "gid": gid, **values}
        return gid

    def reserve_gids(self, gids: Iterable[str]) -> None:
        """Generated gids will be larger than these, so they can be given later with
        ``gid=`` (recreating a workspace whose gids a database already holds)."""
        with self._lock:
            numbers = [int(g) for g in gids if str(g).isdigit()]
            self._gid_counter = max([self._gid_counter, *numbers])

    def get(self, gid: str) -> dict[str, Any]:
        """The sandbox's own record (the source of truth), for assertions."""
        with self._lock:
            return dict(self._records[gid])

    def gids(self, kind: str, include_deleted: bool = False) -> list[str]:
        with self._lock:
            return [
                g
                for g in self._order.get(kind, [])
                if include_deleted or not self._records[g].get("deleted")
            ]

    def add_workspace(
        self,
        name: str = "Sandbox Agency",
        is_organization: bool = True,
        email_domains: Iterable[str] = ("sandbox.test",),
        gid: str | None = None,
    ) -> str:
        with self._lock:
            gid = self._store(
                "workspace",
                gid,
                name=name,
                is_organization=is_organization,
                email_domains=list(email_domains),
            )
            for user_gid in self._order.get("user", []):
                if self._records[user_gid].get("all_workspaces"):
                    self._records[user_gid]["workspaces"].append(gid)
            return gid

    def add_user(
        self,
        email: str,
        name: str,
        workspaces: Iterable[str] | None = None,
        gid: str | None = None,
    ) -> str:
        """A user; with no ``workspaces`` it joins every workspace, now and later."""
        with self._lock:
            joined = (
                list(workspaces)
                if workspaces is not None
                else list(self._order.get("workspace", []))
            )
            return self._store(
                "user",
                gid,
                name=name,
                email=email,
                workspaces=joined,
                all_workspaces=workspaces is None,
            )

    def add_project(
        self,
        name: str,
        workspace: str,
        owner: str | None = None,
        archived: bool = False,
        default_section: bool = True,
        notes: str = "",
        gid: str | None = None,
    ) -> str:
        """A project; like Asana, it starts with an "Untitled section" unless told otherwise."""
        with self._lock:
            self._require(workspace, "workspace")
            gid = self._store(
                "project",
                gid,
                name=name,
                workspace=workspace,
                owner=owner,
                archived=archived,
                created_at=self._now,
                modified_at=self._now,
                notes=notes,
                completed=False,
                color=None,
                sections=[],
            )
            if default_section:
                self.add_section(gid, "Untitled section")
            self._emit(
                "project",
                gid,
                "added",
                parent=Ref("workspace", workspace),
                audience={gid, workspace},
            )
            return gid

    def add_section(self, project: str, name: str) -> str:
        with self._lock:
            self._require(project, "project")
            gid = self._store("section", name=name, project=project, created_at=self._now)
            self._records[project]["sections"].append(gid)
            self._emit("section", gid, "added", parent=Ref("project", project), audience={project})
            return gid

    def add_task(
        self,
        project: str | None,
        name: str,
        due_on: str | None = None,
        assignee: str | None = None,
        parent: str | None = None,
        completed: bool = False,
        section: str | None = None,
        due_at: str | None = None,
        start_on: str | None = None,
        notes: str = "",
        workspace: str | None = None,
        gid: str | None = None,
        created_at: datetime | None = None,
        completed_at: datetime | None = None,
    ) -> str:
        """A task in ``project`` (and ``section``, default its first), or a subtask of ``parent``.

        A subtask is listed under a project only when ``project`` is given too. ``created_at``
        and ``completed_at`` (default: now) recreate a task with its history's dates.
        """
        with self._lock:
            memberships = []
            if project is not None:
                self._require(project, "project")
                memberships.append(self._membership(project, section))
                workspace = self._records[project]["workspace"]
            if parent is not None:
                self._require(parent, "task")
                workspace = workspace or self._records[parent]["workspace"]
            if workspace is None:
                raise ValueError("a task needs a project, a parent or a workspace")
            created_at = created_at or self._now
            completed_at = (completed_at or self._now) if completed else None
            gid = self._store(
                "task",
                gid,
                name=name,
                resource_subtype="default_task",
                completed=completed,
                completed_at=completed_at,
                due_on=due_on,
                due_at=due_at,
                start_on=start_on,
                assignee=assignee,
                parent=parent,
                memberships=memberships,
                workspace=workspace,
                notes=notes,
                created_at=created_at,
                modified_at=max(self._now, created_at, completed_at or created_at),
                created_by=self.me,
                deleted=False,
                followers=[],
            )
            self._stories[gid] = []
            if parent is not None:
                bisect.insort(self._kids.setdefault(parent, []), gid, key=_gid_order)
            if project is not None:
                bisect.insort(self._members.setdefault(project, []), gid, key=_gid_order)
            if project is not None:
                self._emit("task", gid, "added", parent=Ref("project", project))
            if parent is not None:
                self._emit("task", gid, "added", parent=Ref("task", parent))
            return gid

    def _membership(self, project: str, section: str | None) -> dict[str, str | None]:
        sections = self._records[project]["sections"]
        if section is not None and section not in sections:
            raise ValueError(f"section {section} is not in project {project}")
        return {"project": project, "section": section or (sections[0] if sections else None)}

    def edit_task(self, gid: str, **fields: Any) -> None:
        """Change task fields as a user would in Asana: bumps ``modified_at``, writes stories.

        Fields: name, due_on, due_at, start_on, completed, assignee, notes. A due-date edit
        writes a ``due_date_changed`` story with ``old_dates``/``new_dates``. A subtask's edit
        does not touch its parent.
        """
        allowed = {"name", "due_on", "due_at", "start_on", "completed", "assignee", "notes"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"edit_task cannot change {sorted(unknown)}")
        with self._lock:
            task = self._live_task(gid)
            changed = {k: v for k, v in fields.items() if task.get(k) != v}
            if not changed:
                return
            old_dates = {k: task.get(k) for k in ("due_on", "due_at", "start_on")}
            old_name = task["name"]
            task.update(changed)
            task["modified_at"] = self._now
            if "completed" in changed:
                task["completed_at"] = self._now if changed["completed"] else None
            for name in changed:
                value = changed[name]
                new_value = Ref("user", value) if name == "assignee" and value else None
                self._emit(
                    "task",
                    gid,
                    "changed",
                    change={
                        "field": name,
                        "action": "changed",
                        **({"new_value": new_value} if new_value else {}),
                    },
                )
            if {"due_on", "due_at", "start_on"} & set(changed):
                new_dates = {k: task.get(k) for k in ("due_on", "due_at", "start_on")}
                subtype = (
                    "due_date_changed"
                    if {"due_on", "due_at"} & set(changed)
                    else ("start_date_changed")
                )
                text = (
                    f"changed the due date to {new_dates['due_on'] or new_dates['due_at']}"
                    if subtype == "due_date_changed"
                    else "changed the start date"
                )
                self._story(gid, "system", subtype, text, old_dates=old_dates, new_dates=new_dates)
            if "name" in changed:
                self._story(
                    gid,
                    "system",
                    "name_changed",
                    f"changed the name to {task['name']}",
                    old_name=old_name,
                    new_name=task["name"],
                )
            if "completed" in changed:
                subtype = "marked_complete" if task["completed"] else "marked_incomplete"
                self._story(gid, "system", subtype, subtype.replace("_", " "))
            if "assignee" in changed:
                assignee = task["assignee"]
                self._story(
                    gid,
                    "system",
                    "assigned" if assignee else "unassigned",
                    "assigned" if assignee else "unassigned",
                    assignee=Ref("user", assignee) if assignee else None,
                )
            if "notes" in changed:
                self._story(gid, "system", "notes_changed", "changed the description")

    def add_comment(self, task: str, text: str, author: str | None = None) -> str:
        """A comment story; creating it bumps the task's ``modified_at``."""
        with self._lock:
            record = self._live_task(task)
            record["modified_at"] = self._now
            return self._story(task, "comment", "comment_added", text, author=author or self.me)

    def delete_task(self, gid: str) -> None:
        """Trash a task (and its subtasks): 404 on GET, gone from every listing."""
        with self._lock:
            task = self._live_task(gid)
            for child in self._children(gid):
                if not self._records[child]["deleted"]:
                    self.delete_task(child)
            self._emit("task", gid, "deleted")
            task["deleted"] = True
            task["modified_at"] = self._now

    def move_task(
        self,
        gid: str,
        project: str | None = None,
        section: str | None = None,
        remove_from: str | None = None,
    ) -> None:
        """Add a task to ``project`` or move it to ``section``; never bumps ``modified_at``."""
        with self._lock:
            task = self._live_task(gid)
            if section is not None and project is None:
                project = self._records[section]["project"]
            if project is not None:
                existing = [m for m in task["memberships"] if m["project"] == project]
                if existing and section is not None:
                    existing[0]["section"] = self._membership(project, section)["section"]
                    self._emit(
                        "task",
                        gid,
                        "added",
                        parent=Ref("section", section),
                        audience=self._audience_for_task(gid) | {project},
                    )
                elif not existing:
                    task["memberships"].append(self._membership(project, section))
                    bisect.insort(self._members.setdefault(project, []), gid, key=_gid_order)
                    self._emit("task", gid, "added", parent=Ref("project", project))
            if remove_from is not None:
                self._emit("task", gid, "removed", parent=Ref("project", remove_from))
                task["memberships"] = [
                    m for m in task["memberships"] if m["project"] != remove_from
                ]
                if gid in self._members.get(remove_from, ()):
                    self._members[remove_from].remove(gid)

    def set_parent(self, gid: str, parent: str | None) -> None:
        with self._lock:
            self._live_task(gid)
            self._adopt(gid, parent)
            self._records[gid]["parent"] = parent

    def add_goal(
        self,
        name: str,
        workspace: str,
        owner: str | None = None,
        due_on: str | None = None,
        start_on: str | None = None,
        status: str | None = None,
        current: float | None = None,
        target: float | None = None,
        initial: float = 0.0,
        notes: str = "",
        project: str | None = None,
        gid: str | None = None,
    ) -> str:
        """A goal; with ``project``, one that project supports (listed by
        ``GET /goals?project=``, which is how a sync finds a client's goals)."""
        with self._lock:
            self._require(workspace, "workspace")
            if project is not None:
                self._require(project, "project")
            metric = None
            if target is not None:
                metric = {
                    "resource_subtype": "number",
                    "unit": "none",
                    "precision": 0,
                    "initial_number_value": initial,
                    "target_number_value": target,
                    "current_number_value": current if current is not None else initial,
                    "current_display_value": str(current if current is not None else initial),
                    "progress_source": "manual",
                    "is_custom_weight": False,
                }
            return self._store(
                "goal",
                gid,
                name=name,
                workspace=workspace,
                project=project,
                owner=owner,
                due_on=due_on,
                start_on=start_on,
                status=status,
                metric=metric,
                notes=notes,
            )

    def edit_goal(self, gid: str, **fields: Any) -> None:
        with self._lock:
            goal = self._records[gid]
            current = fields.pop("current", None)
            goal.update(fields)
            if current is not None and goal["metric"] is not None:
                goal["metric"]["current_number_value"] = current
                goal["metric"]["current_display_value"] = str(current)
            self._emit(
                "goal",
                gid,
                "changed",
                change={"field": "metric", "action": "changed"},
                audience={gid},
            )

    # ----------------------------------------------------------------- internals
    def _require(self, gid: str | None, kind: str) -> dict[str, Any]:
        record = self._records.get(gid or "")
        if record is None or record["kind"] != kind:
            raise ValueError(f"no {kind} {gid}")
        return record

    def _live_task(self, gid: str) -> dict[str, Any]:
        task = self._require(gid, "task")
        if task["deleted"]:
            raise ValueError(f"task {gid} is deleted")
        return task

    def _children(self, gid: str) -> list[str]:
        return list(self._kids.get(gid, ()))

    def _adopt(self, gid: str, parent: str | None) -> None:
        """Keep the parent -> subtasks index (in creation order) in step with ``parent``."""
        old = self._records[gid].get("parent")
        if old is not None and gid in self._kids.get(old, ()):
            self._kids[old].remove(gid)
        if parent is not None:
            bisect.insort(self._kids.setdefault(parent, []), gid, key=_gid_order)

    def _story(
        self,
        task: str,
        type_: str,
        subtype: str,
        text: str,
        author: str | None = None,
        **structured: Any,
    ) -> str:
        record = self._records[task]
        record["modified_at"] = self._now  # a story bumps its task
        gid = self._store(
            "story",
            task=task,
            type=type_,
            resource_subtype=subtype,
            text=text,
            created_at=self._now,
            created_by=author or self.me,
            structured=structured,
        )
        self._stories[task].append(gid)
        self._emit(
            "story", gid, "added", parent=Ref("task", task), audience=self._audience_for_task(task)
        )
        return gid

    def _audience_for_task(self, gid: str) -> set[str]:
        """The resources whose event streams see a change to this task (events bubble up)."""
        audience: set[str] = set()
        seen = set()
        current: str | None = gid
        while current and current not in seen:
            seen.add(current)
            record = self._records[current]
            audience.add(current)
            audience.update(m["project"] for m in record["memberships"])
            current = record["parent"]
        return audience

    def _emit(
        self,
        kind: str,
        gid: str,
        action: str,
        parent: Ref | None = None,
        change: dict[str, Any] | None = None,
        audience: set[str] | None = None,
    ) -> None:
        if audience is None:
            audience = self._audience_for_task(gid) if kind == "task" else {gid}
        if parent is not None:
            audience = audience | {parent.gid}
            if parent.kind == "task":
                audience |= self._audience_for_task(parent.gid)
        event: dict[str, Any] = {
            "user": Ref("user", self.me),
            "created_at": self._now,
            "action": action,
            "resource": Ref(kind, gid),
            "parent": parent,
            "type": kind,
        }
        if change is not None:
            event["change"] = change
        self._event_seq += 1
        self._events.append((self._event_seq, audience, event))
        for hook in self.webhooks.values():
            if hook.active and hook.resource in audience and self._passes(hook.filters, event):
                hook.pending.append(event)

    def _passes(self, filters: list[dict[str, Any]], event: dict[str, Any]) -> bool:
        """A webhook delivers an event that passes any of its filters (all, without filters)."""
        if not filters:
            return True
        resource: Ref = event["resource"]
        subtype = self._records.get(resource.gid, {}).get("resource_subtype")
        field = (event.get("change") or {}).get("field")
        return any(
            f.get("resource_type") in (None, resource.kind)
            and f.get("resource_subtype") in (None, subtype)
            and f.get("action") in (None, event["action"])
            and (not f.get("fields") or field in f["fields"])
            for f in filters
        )

    # ----------------------------------------------------------------- rendering
    def _full(self, gid: str) -> dict[str, Any]:
        """The full record as Asana would return it, with ``Ref`` values for links."""
        r = self._records[gid]
        kind = r["kind"]
        base = {"gid": gid, "resource_type": kind}
        if kind == "workspace":
            return {
                **base,
                "name": r["name"],
                "email_domains": r["email_domains"],
                "is_organization": r["is_organization"],
            }
        if kind == "user":
            return {
                **base,
                "name": r["name"],
                "email": r["email"],
                "photo": None,
                "workspaces": [Ref("workspace", w) for w in r["workspaces"]],
            }
        if kind == "project":
            return {
                **base,
                "name": r["name"],
                "archived": r["archived"],
                "color": r["color"],
                "completed": r["completed"],
                "completed_at": None,
                "created_at": r["created_at"],
                "modified_at": r["modified_at"],
                "notes": r["notes"],
                "due_on": None,
                "start_on": None,
                "owner": Ref("user", r["owner"]) if r["owner"] else None,
                "workspace": Ref("workspace", r["workspace"]),
                "members": [],
                "followers": [],
                "custom_fields": [],
                "custom_field_settings": [],
                "current_status_update": None,
                "privacy_setting": "public_to_workspace",
                "permalink_url": f"https://app.asana.com/1/{r['workspace']}/project/{gid}",
            }
        if kind == "section":
            return {
                **base,
                "name": r["name"],
                "created_at": r["created_at"],
                "project": Ref("project", r["project"]),
            }
        if kind == "task":
            return {
                **base,
                "name": r["name"],
                "resource_subtype": r["resource_subtype"],
                "assignee": Ref("user", r["assignee"]) if r["assignee"] else None,
                "assignee_section": None,
                "completed": r["completed"],
                "completed_at": r["completed_at"],
                "created_at": r["created_at"],
                # The OAS gives created_by on tasks as a bare link, not a UserCompact.
                "created_by": {"gid": r["created_by"], "resource_type": "user"},
                "due_at": r["due_at"],
                "due_on": r["due_on"],
                "start_at": None,
                "start_on": r["start_on"],
                "followers": [Ref("user", u) for u in r["followers"]],
                "liked": False,
                "likes": [],
                "num_likes": 0,
                "memberships": [
                    {
                        "project": Ref("project", m["project"]),
                        "section": Ref("section", m["section"]) if m["section"] else None,
                    }
                    for m in r["memberships"]
                ],
                "modified_at": r["modified_at"],
                "notes": r["notes"],
                "html_notes": f"<body>{r['notes']}</body>",
                "num_subtasks": sum(
                    1 for c in self._children(gid) if not self._records[c]["deleted"]
                ),
                "parent": Ref("task", r["parent"]) if r["parent"] else None,
                "permalink_url": f"https://app.asana.com/1/{r['workspace']}/task/{gid}",
                "projects": [Ref("project", m["project"]) for m in r["memberships"]],
                "tags": [],
                "custom_fields": [],
                "dependencies": [],
                "dependents": [],
                "workspace": Ref("workspace", r["workspace"]),
            }
        if kind == "story":
            out = {
                **base,
                "created_at": r["created_at"],
                "created_by": Ref("user", r["created_by"]) if r["created_by"] else None,
                "type": r["type"],
                "resource_subtype": r["resource_subtype"],
                "text": r["text"],
                "source": "web",
                "is_pinned": False,
                "is_edited": False,
                "target": Ref("task", r["task"]),
            }
            if r["type"] == "comment":
                out.update(
                    html_text=f"<body>{r['text']}</body>",
                    is_editable=True,
                    liked=False,
                    likes=[],
                    num_likes=0,
                )
            out.update({k: v for k, v in r["structured"].items() if v is not None})
            return out
        if kind == "goal":
            return {
                **base,
                "name": r["name"],
                "notes": r["notes"],
                "due_on": r["due_on"],
                "start_on": r["start_on"],
                "is_workspace_level": True,
                "team": None,
                "workspace": Ref("workspace", r["workspace"]),
                "followers": [],
                "owner": Ref("user", r["owner"]) if r["owner"] else None,
                "time_period": None,
                "metric": dict(r["metric"]) if r["metric"] else None,
                "current_status_update": None,
                "status": r["status"],
                "liked": False,
                "likes": [],
                "num_likes": 0,
            }
        raise KeyError(kind)

    def _render(self, value: Any, tree: dict[str, dict] | None) -> Any:
        """Render a value: ``tree`` None means the default shape (compact links)."""
        if isinstance(value, Ref):
            return self._render_record(value.gid, tree, compact=True)
        if isinstance(value, datetime):
            return iso(value)
        if isinstance(value, list):
            return [self._render(v, tree) for v in value]
        if isinstance(value, dict):
            if not tree:
                return {k: self._render(v, None) for k, v in value.items()}
            return {k: self._render(value[k], tree[k] or None) for k in tree if k in value}
        return value

    def _render_record(self, gid: str, tree: dict[str, dict] | None, compact: bool) -> Any:
        record = self._records.get(gid)
        if record is None:
            return None
        hook = self.webhooks.get(gid)
        full = self._webhook_full(hook) if hook else self._full(gid)
        kind = record["kind"]
        if tree:
            out = {"gid": gid}
            for name, sub in tree.items():
                if name in full:
                    out[name] = self._render(full[name], sub or None)
            return out
        if compact:
            return {k: self._render(full[k], None) for k in COMPACT_FIELDS[kind] if k in full}
        hidden = OPT_IN_FIELDS.get(kind, ())
        return {k: self._render(v, None) for k, v in full.items() if k not in hidden}

    def _webhook_full(self, hook: _Webhook) -> dict[str, Any]:
        resource = self._records.get(hook.resource, {})
        return {
            "gid": hook.gid,
            "resource_type": "webhook",
            "active": hook.active,
            "resource": {
                "gid": hook.resource,
                "resource_type": resource.get("kind"),
                "name": resource.get("name", ""),
            },
            "target": hook.target,
            "created_at": hook.created_at,
            "last_success_at": hook.last_success_at,
            "last_failure_at": hook.last_failure_at,
            "last_failure_content": hook.last_failure_content,
            "delivery_retry_count": 0,
            "failure_deletion_timestamp": None,
            "next_attempt_after": None,
            "filters": hook.filters,
        }

    def _render_event(
        self, event: dict[str, Any], tree: dict[str, dict] | None, webhook: bool = False
    ) -> dict[str, Any]:
        def link(ref: Ref | None) -> Any:
            if ref is None:
                return None
            if webhook:  # webhook deliveries carry bare links
                return {"gid": ref.gid, "resource_type": ref.kind}
            record = self._records.get(ref.gid, {})
            out = {"gid": ref.gid, "resource_type": ref.kind}
            if "name" in record:
                out["name"] = record["name"]
            return out

        out = {
            "user": link(event["user"]),
            "created_at": iso(event["created_at"]),
            "action": event["action"],
            "resource": link(event["resource"]),
            "parent": link(event["parent"]),
        }
        if not webhook:
            out["type"] = event["type"]
        if "change" in event:
            change = dict(event["change"])
            if "new_value" in change:
                change["new_value"] = link(change["new_value"])
            out["change"] = change
        if tree:
            out = {k: v for k, v in out.items() if k in tree}
            for name in ("resource", "parent"):
                ref, sub = event[name], tree.get(name)
                if ref is not None and sub and ref.gid in self._records:
                    # opt_fields expand an event's resource like any nested record.
                    out[name] = {
                        **self._render_record(ref.gid, sub, compact=False),
                        "resource_type": ref.kind,
                    }
        return out

    # ----------------------------------------------------------------- webhooks
    def deliver_webhook_events(
        self, heartbeat: bool = False, timeout: float = 10.0
    ) -> list[tuple[str, int | None]]:
        """POST each active webhook's pending events as ``{"events": [...]}``, signed.

        Hooks with nothing pending are skipped unless ``heartbeat`` (then ``{"events": []}``).
        Returns ``[(webhook gid, HTTP status or None when unreachable)]``. Failed deliveries
        stay pending, as Asana retries them.
        """
        results = []
        with self._lock:
            batches = [
                (hook, list(hook.pending))
                for hook in self.webhooks.values()
                if hook.active and (hook.pending or heartbeat)
            ]
            payloads = [
                (
                    hook,
                    sent,
                    json.dumps(
                        {"events": [self._render_event(e, None, webhook=True) for e in sent]},
                        separators=(",", ":"),
                    ).encode(),
                )
                for hook, sent in batches
            ]
        for hook, sent, body in payloads:
            status = self._post(
                hook.target, body, {"X-Hook-Signature": sign(hook.secret, body)}, timeout
            )[0]
            with self._lock:
                if status is not None and 200 <= status < 300:
                    hook.last_success_at = self._now
                    del hook.pending[: len(sent)]
                else:
                    hook.last_failure_at = self._now
                    hook.last_failure_content = f"status {status}"
            results.append((hook.gid, status))
        return results

    @staticmethod
    def _post(
        url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int | None, dict[str, str]]:
        request = urllib.request.Request(  # noqa: S310 - the target is a test's own URL
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers)
        except (urllib.error.URLError, OSError):
            return None, {}

    # ----------------------------------------------------------------- request handling
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        """Answer one request: (status, extra headers, JSON body). Used by the HTTP handler."""
        split = urlsplit(raw_path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        path = split.path
        rel = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
        token = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        status, extra, payload, delay = 500, {}, None, 0.0
        try:
            if not path.startswith(API_PREFIX + "/") and path != API_PREFIX:
                raise SandboxError(404, "Unknown path")
            with self._lock:
                if token is None or token not in self._tokens or token in self._revoked:
                    raise SandboxError(401, "Not Authorized")
                self._check_quota(token)
                fault = self._take_fault(rel.rstrip("/"))
            if fault is not None:
                delay = fault.delay
                if fault.status is not None:
                    raise self._fault_error(fault)
            if delay:
                time.sleep(delay)
            status, extra, payload = self._route(method, rel.rstrip("/") or "/", query, body, token)
        except SandboxError as exc:
            status, extra = exc.status, dict(exc.headers)
            payload = exc.extra.get("body") or {"errors": [self._error_entry(exc)]}
            payload = {**payload, **{k: v for k, v in exc.extra.items() if k != "body"}}
        with self._lock:
            self.request_log.append(LoggedRequest(method, rel, query, status, token))
        return status, extra, payload

    def _take_fault(self, rel: str) -> _Fault | None:
        for i, fault in enumerate(self._faults):
            if fault.path is not None and fault.path != rel:
                continue
            if fault.skip:
                fault.skip -= 1
                return None
            return self._faults.pop(i)
        return None

    @staticmethod
    def _error_entry(exc: SandboxError) -> dict[str, str]:
        # The bodies the notes quote: 401, 412 and 429 carry the message alone.
        entry = {"message": exc.message}
        if exc.status not in (401, 412, 429):
            entry["help"] = ERROR_HELP
        if exc.status >= 500:
            entry["phrase"] = "6 sad squid snuggle softly"
        return entry

    def _fault_error(self, fault: _Fault) -> SandboxError:
        status = fault.status or 500
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        messages = {
            429: RATE_LIMIT_MESSAGE,
            503: "Service Unavailable",
            502: "Bad Gateway",
            504: "Gateway Timeout",
        }
        extra = {"body": fault.body} if fault.body is not None else None
        return SandboxError(status, messages.get(status, "Server Error"), headers, extra)

    def _check_quota(self, token: str) -> None:
        if not self.requests_per_minute:
            return
        moment = time.monotonic() + self._skew
        hits = [t for t in self._quota_hits.get(token, []) if t > moment - 60]
        hits.append(moment)  # rejected requests count against the quota too, as in Asana
        self._quota_hits[token] = hits
        if len(hits) > self.requests_per_minute:
            oldest_needed = hits[len(hits) - self.requests_per_minute - 1]
            wait = max(1, int(oldest_needed + 60 - moment + 0.999))
            raise SandboxError(429, RATE_LIMIT_MESSAGE, {"Retry-After": str(wait)})

    def _route(
        self, method: str, path: str, query: dict[str, str], body: bytes, token: str
    ) -> tuple[int, dict[str, str], Any]:
        parts = path.strip("/").split("/")
        tree = parse_opt_fields(query["opt_fields"]) if query.get("opt_fields") else None
        with self._lock:
            if method == "POST" and parts == ["webhooks"]:
                pass  # the handshake must run without the lock held
            elif method == "GET":
                return 200, {}, self._get(parts, query, tree, token)
            elif method == "DELETE" and len(parts) == 2 and parts[0] == "webhooks":
                if self.webhooks.pop(parts[1], None) is None:
                    raise SandboxError(404, f"webhook: Unknown object: {parts[1]}")
                self._records.pop(parts[1], None)
                return 200, {}, {"data": {}}
            else:
                raise SandboxError(404, "Unknown path")
        return self._create_webhook(body, tree)

    def _get(self, parts: list[str], query: dict[str, str], tree: dict | None, token: str) -> Any:
        head, n = parts[0], len(parts)
        if head == "users" and n == 2:
            gid = self._tokens[token] if parts[1] == "me" else self._find_user(parts[1])
            return self._single(gid, "user", tree)
        if head == "users" and n == 1:
            workspace = self._need(query, "workspace")
            users = [g for g in self.gids("user") if workspace in self._records[g]["workspaces"]]
            return self._page(users, query, tree, "users")
        if head == "workspaces" and n == 1:
            return self._page(self.gids("workspace"), query, tree, "workspaces")
        if head == "workspaces" and n == 2:
            return self._single(parts[1], "workspace", tree)
        if head == "workspaces" and n == 3 and parts[2] == "projects":
            self._single(parts[1], "workspace", None)
            return self._page(self._projects(parts[1], query), query, tree, "projects")
        if head == "workspaces" and n == 3 and parts[2] == "users":
            self._single(parts[1], "workspace", None)
            users = [g for g in self.gids("user") if parts[1] in self._records[g]["workspaces"]]
            return {"data": [self._render_record(g, tree, compact=True) for g in users[:2000]]}
        if head == "projects" and n == 1:
            workspace = self._need(query, "workspace")
            return self._page(self._projects(workspace, query), query, tree, "projects")
        if head == "projects" and n == 2:
            return self._single(parts[1], "project", tree)
        if head == "projects" and n == 3 and parts[2] == "sections":
            project = self._records[self._gid_of(parts[1], "project")]
            return self._page(list(project["sections"]), query, tree, "sections")
        if head == "projects" and n == 3 and parts[2] == "tasks":
            self._gid_of(parts[1], "project")
            return self._tasks({**query, "project": parts[1]}, tree, allow_modified=False)
        if head == "sections" and n == 2:
            return self._single(parts[1], "section", tree)
        if head == "sections" and n == 3 and parts[2] == "tasks":
            self._gid_of(parts[1], "section")
            return self._tasks({**query, "section": parts[1]}, tree, allow_modified=False)
        if head == "tasks" and n == 1:
            return self._tasks(query, tree, allow_modified=True)
        if head == "tasks" and n == 2:
            return self._single(parts[1], "task", tree)
        if head == "tasks" and n == 3 and parts[2] == "subtasks":
            self._gid_of(parts[1], "task")
            children = [c for c in self._children(parts[1]) if not self._records[c]["deleted"]]
            return self._page(children, query, tree, "tasks")
        if head == "tasks" and n == 3 and parts[2] == "stories":
            self._gid_of(parts[1], "task")
            return self._page(list(self._stories[parts[1]]), query, tree, "stories")
        if head == "stories" and n == 2:
            return self._single(parts[1], "story", tree)
        if head == "events" and n == 1:
            return self._events_page(query, tree)
        if head == "goals":
            if not self.premium:
                raise SandboxError(402, "Payment Required: goals are available on paid plans.")
            if n == 1:
                filters = [
                    k for k in ("workspace", "team", "portfolio", "project", "task") if query.get(k)
                ]
                if not filters:
                    raise SandboxError(400, "workspace: Missing input")
                goals = self.gids("goal")
                if query.get("workspace"):
                    goals = [
                        g for g in goals if self._records[g]["workspace"] == query["workspace"]
                    ]
                if query.get("project"):
                    self._gid_of(query["project"], "project")
                    goals = [g for g in goals if self._records[g]["project"] == query["project"]]
                return self._page(goals, query, tree, "goals")
            if n == 2:
                return self._single(parts[1], "goal", tree)
        if head == "webhooks" and n == 1:
            self._need(query, "workspace")
            hooks = [
                g
                for g, h in self.webhooks.items()
                if not query.get("resource") or h.resource == query["resource"]
            ]
            return self._page(hooks, query, tree, "webhooks")
        if head == "webhooks" and n == 2 and parts[1] in self.webhooks:
            return {"data": self._render_record(parts[1], tree, compact=False)}
        raise SandboxError(404, "Unknown path")

    @staticmethod
    def _need(query: dict[str, str], name: str) -> str:
        if not query.get(name):
            raise SandboxError(400, f"{name}: Missing input")
        return query[name]

    def _find_user(self, ref: str) -> str:
        if "@" in ref:
            for gid in self.gids("user"):
                if self._records[gid]["email"].lower() == ref.lower():
                    return gid
            raise SandboxError(404, f"user: Unknown object: {ref}")
        return ref

    def _gid_of(self, gid: str, kind: str) -> str:
        record = self._records.get(gid)
        if record is None or record["kind"] != kind or record.get("deleted"):
            if not gid.isdigit():
                raise SandboxError(400, f"{kind}: Not a valid gid: {gid}")
            raise SandboxError(404, f"{kind}: Unknown object: {gid}")
        return gid

    def _single(self, gid: str, kind: str, tree: dict | None) -> dict[str, Any]:
        self._gid_of(gid, kind)
        return {"data": self._render_record(gid, tree, compact=False)}

    def _projects(self, workspace: str, query: dict[str, str]) -> list[str]:
        archived = query.get("archived")
        return [
            g
            for g in self.gids("project")
            if self._records[g]["workspace"] == workspace
            and (archived is None or str(self._records[g]["archived"]).lower() == archived)
        ]

    def _tasks(self, query: dict[str, str], tree: dict | None, allow_modified: bool) -> Any:
        project, section = query.get("project"), query.get("section")
        tag = query.get("tag")
        assignee, workspace = query.get("assignee"), query.get("workspace")
        if not (project or section or tag) and not (assignee and workspace):
            if assignee and not workspace:
                raise SandboxError(400, "workspace: Missing input")
            if workspace and not assignee:
                raise SandboxError(400, "assignee: Missing input")
            raise SandboxError(
                400,
                "Must specify exactly one of project, tag, section, user task list, or "
                "assignee + workspace",
            )
        if project:
            self._gid_of(project, "project")
        if section:
            self._gid_of(section, "section")
        tasks = []
        modified_since = self._date_param(query, "modified_since") if allow_modified else None
        completed_since = None
        if query.get("completed_since"):
            completed_since = (
                self._now
                if query["completed_since"] == "now"
                else self._date_param(query, "completed_since")
            )
        if assignee == "me":
            assignee = self.me
        # A project's own index (its members in gid order), not a scan of every task.
        candidates = self._members.get(project, []) if project else self._order.get("task", [])
        for gid in candidates:
            t = self._records[gid]
            if t.get("deleted"):
                continue
            if project and not any(m["project"] == project for m in t["memberships"]):
                continue
            if section and not any(m["section"] == section for m in t["memberships"]):
                continue
            if tag:
                continue  # the sandbox has no tags: a tag lists nothing
            if assignee and (t["assignee"] != assignee or t["workspace"] != workspace):
                continue
            if modified_since is not None and t["modified_at"] < modified_since:
                continue
            if (
                completed_since is not None
                and t["completed"]
                and (t["completed_at"] is None or t["completed_at"] < completed_since)
            ):
                continue
            tasks.append(gid)
        return self._page(tasks, query, tree, "tasks")

    @staticmethod
    def _date_param(query: dict[str, str], name: str) -> datetime | None:
        if not query.get(name):
            return None
        try:
            return parse_datetime(query[name])
        except ValueError:
            raise SandboxError(400, f"{name}: Invalid date-time: {query[name]}") from None

    def _page(
        self, gids: list[str], query: dict[str, str], tree: dict | None, path: str
    ) -> dict[str, Any]:
        """Asana pagination: everything without ``limit``; pages and opaque offsets with it."""
        raw_limit = query.get("limit")
        offset = query.get("offset")
        key = json.dumps(
            [path, sorted((k, v) for k, v in query.items() if k not in ("limit", "offset"))]
        )
        if raw_limit is None:
            if offset:
                raise SandboxError(400, "offset: Offsets are only valid with a limit")
            return {"data": [self._render_record(g, tree, compact=True) for g in gids]}
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise SandboxError(400, "limit: Must be between 1 and 100")
        start = 0
        if offset:
            saved = self._offsets.get(offset)
            if saved is None or saved[0] != key:
                raise SandboxError(
                    400,
                    "offset: Your pagination token is invalid or has expired. Please "
                    "start over from the first page.",
                )
            after = saved[1]
            start = next((i for i, g in enumerate(gids) if int(g) > int(after)), len(gids))
        chunk = gids[start : start + limit]
        next_page = None
        if start + limit < len(gids) and chunk:
            token = secrets.token_urlsafe(24)
            self._offsets[token] = (key, chunk[-1])
            rel = f"/{path}?" + urlencode(
                {**{k: v for k, v in query.items() if k != "offset"}, "offset": token}
            )
            next_page = {"offset": token, "path": rel, "uri": self._uri(rel)}
        return {
            "data": [self._render_record(g, tree, compact=True) for g in chunk],
            "next_page": next_page,
        }

    def _uri(self, rel: str) -> str:
        origin = self.origin if self._server is not None else "http://127.0.0.1"
        return origin + API_PREFIX + rel

    def _new_sync_token(self) -> str:
        token = f"{secrets.token_hex(16)}:{self._event_seq}"
        self._sync_tokens[token] = self._event_seq
        return token

    def _events_page(self, query: dict[str, str], tree: dict | None) -> dict[str, Any]:
        resource = self._need(query, "resource")
        if resource not in self._records:
            raise SandboxError(404, f"resource: Unknown object: {resource}")
        sync = query.get("sync")
        if not sync or sync not in self._sync_tokens:
            raise SandboxError(412, SYNC_MESSAGE, extra={"sync": self._new_sync_token()})
        position = self._sync_tokens[sync]
        matching = [
            (seq, e) for seq, audience, e in self._events if seq > position and resource in audience
        ]
        chunk = matching[:EVENTS_PER_CALL]
        new_position = chunk[-1][0] if len(matching) > EVENTS_PER_CALL else self._event_seq
        token = f"{secrets.token_hex(16)}:{new_position}"
        self._sync_tokens[token] = new_position
        return {
            "data": [self._render_event(e, tree) for _, e in chunk],
            "sync": token,
            "has_more": len(matching) > EVENTS_PER_CALL,
        }

    def _create_webhook(self, body: bytes, tree: dict | None) -> tuple[int, dict, Any]:
        try:
            data = json.loads(body or b"{}").get("data") or {}
        except (ValueError, AttributeError):
            raise SandboxError(400, "Invalid JSON body") from None
        resource, target = data.get("resource"), data.get("target")
        if not resource:
            raise SandboxError(400, "resource: Missing input")
        if not target:
            raise SandboxError(400, "target: Missing input")
        with self._lock:
            if resource not in self._records:
                raise SandboxError(404, f"resource: Unknown object: {resource}")
        host = urlsplit(target).hostname or ""
        if not self.allow_local_webhooks and host in ("localhost", "127.0.0.1", "::1"):
            raise SandboxError(403, "Invalid target: localhost is not allowed")
        secret = secrets.token_hex(32)
        status, headers = self._post(target, b"", {"X-Hook-Secret": secret}, timeout=10)
        echoed = {k.lower(): v for k, v in headers.items()}.get("x-hook-secret")
        if status not in (200, 204) or echoed != secret:
            raise SandboxError(400, "The remote server did not respond with the handshake secret.")
        with self._lock:
            gid = self._gid()
            self._records[gid] = {"kind": "webhook", "gid": gid}
            self.webhooks[gid] = _Webhook(
                gid, resource, target, secret, self._now, filters=list(data.get("filters") or [])
            )
            self.webhooks[gid].last_success_at = self._now
            rendered = self._render_record(gid, tree, compact=False)
        return (
            201,
            {"Location": f"{self.base_url}/webhooks/{gid}"},
            {
                "data": rendered,
                "X-Hook-Secret": secret,
            },
        )


class _Handler(BaseHTTPRequestHandler):
    sandbox: AsanaSandbox
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK holds
    # the body ~40 ms, which would dominate every benchmark against the sandbox.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.sandbox.handle(self.command, self.path, headers, body)
        raw = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def serve(sandbox: AsanaSandbox, until: Callable[[], bool] | None = None) -> None:
    """Run a started sandbox until interrupted (for ``python -m`` or a management command)."""
    try:
        while until is None or not until():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Serve an empty Asana sandbox.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default="sandbox-token")
    args = parser.parse_args()
    box = AsanaSandbox(token=args.token, port=args.port).start()
    ws_gid = box.add_workspace()
    print(f"Asana sandbox at {box.base_url} (token {args.token}, workspace {ws_gid})")
    serve(box)
