"""The Asana sync: tasks, subtasks, deadline changes, comments and goals of every mapped
project, incrementally, resumable after a crash at any page.

Per project (``sync_project``), under a Redis lock so two runs never overlap:

1. The change feed (Events API) is read from the stored sync token: it names the subtasks
   and deleted tasks a listing cannot see (a subtask's edit does not bump its parent). The
   first call, and an expired token, answer 412 with a fresh token; an expired one also
   means the project is re-listed in full (Asana's own advice).
2. The task listing, ``GET /tasks?project=&modified_since=`` from the watermark minus an
   overlap. Every page's upsert and the listing's cursor commit in one transaction; the
   watermark (the largest ``modified_at`` the server reported) moves only once the listing
   finished, so a run killed at any page resumes from the cursor, or, with an expired offset,
   re-lists from the same ``modified_since``: nothing is lost, nothing duplicated (upserts by
   gid). Subtasks of listed parents are read with them.
3. Stories of tasks that changed since the last sync: due-date stories become
   DeadlineChange rows, comments TaskComment rows. A due date that moved without a story
   still becomes a change (a diff row), so a missed story cannot hide a slip. The committed
   due date is the one the task had when first seen; nothing here moves it.
4. On full syncs and reconciliations, the project's Asana goals become client goals; a 402
   (not on this plan) is recorded and skipped.

Deletion is never inferred from a listing: ``reconcile_project`` lists every task id, and
only after that listing completed confirms each missing task with its own GET; a 404 is the
confirmation. Every run is recorded as a SyncRun; the metrics refresh is asked for after
commit. A 401/403 marks the connection broken (``mark_broken``): runs stop until someone
fixes the token and clears it in the admin.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import asana
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clients.models import ClientGoal, GoalStatus
from godview.agency import agency_zone
from godview.services import schedule_metrics_refresh
from workflows.models import DeadlineChange, Task, TaskComment, TaskSource

from .. import connections
from ..freshness import record_sync_run
from ..locks import advisory_lock
from ..models import AsanaProject, ConnectionStatus, SyncSource
from .client import (
    AsanaApi,
    AsanaError,
    ConnectionBroken,
    NotFound,
    PaymentRequired,
    api_from_settings,
)
from .mapping import (
    TASK_FIELDS,
    People,
    iso,
    mapped_projects,
    parse_day,
    parse_moment,
    project_of,
    refresh_directory,
    task_fields,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
# modified_since goes back this far behind the watermark: a task written while the last
# listing ran may carry a modified_at a little before the newest one it returned. Once the
# last listing started long after its watermark (SETTLED, far beyond any clock skew), every
# task at or before the watermark was already visible to it, and no overlap is needed.
OVERLAP = datetime.timedelta(minutes=5)
SETTLED = datetime.timedelta(hours=1)
STORY_FIELDS = "resource_subtype,type,created_at,created_by.name,text,old_dates,new_dates"
EVENT_FIELDS = (
    "action,resource.resource_type,resource.resource_subtype,parent.resource_type,change.field"
)
# Stories worth reading a task's stories for; the rest (renames, moves...) are not needed.
STORY_SUBTYPES = {"comment_added", "due_date_changed", "dates_changed"}
GOAL_FIELDS = (
    "name,due_on,start_on,status,metric.initial_number_value,"
    "metric.target_number_value,metric.current_number_value,metric.unit"
)
GOAL_STATUS = {"achieved": GoalStatus.MET, "missed": GoalStatus.MISSED, "dropped": "dropped"}
SOURCE_FIELDS = (
    "name",
    "client_id",
    "assignee_id",
    "parent_id",
    "created_on",
    "due_on",
    "completed_on",
    "source_modified_at",
    "deleted_at",
)


class Unmapped(Exception):
    """The project is not named by any client, so it is not synced."""


@dataclass
class ProjectResult:
    """What one run did, for the SyncRun, the command's summary and the tests."""

    project: str
    name: str = ""
    full: bool = False
    api_calls: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    deadline_changes: int = 0
    comments: int = 0
    goals: int = 0
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def stats(self) -> dict[str, Any]:
        stats = {
            "full": self.full,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "deadline_changes": self.deadline_changes,
            "comments": self.comments,
            "goals": self.goals,
        }
        if self.notes:
            stats["notes"] = self.notes
        return stats

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


# ----------------------------------------------------------------------- the connection
def connection_status() -> ConnectionStatus:
    status, _ = ConnectionStatus.objects.get_or_create(source=SyncSource.ASANA)
    return status


def mark_broken(reason: str) -> None:
    """Stop syncing until someone fixes the token (`integrations.connections`)."""
    connections.mark_broken(SyncSource.ASANA, reason)


def _raise_if_broken() -> None:
    reason = connections.broken_reason(SyncSource.ASANA)
    if reason is not None:
        raise ConnectionBroken(reason)


# ----------------------------------------------------------------------- locking
def project_lock(gid: str):
    """Hold the project's lock, or yield False when another run holds it (see
    `integrations.locks.advisory_lock`: it dies with its holder)."""
    return advisory_lock(f"godview:asana:project:{gid}")


# ----------------------------------------------------------------------- entry points
def sync_all(
    *,
    full: bool = False,
    projects: Iterable[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    api: AsanaApi | None = None,
    acquire_timeout: float = 30.0,
) -> list[ProjectResult]:
    """Refresh the directory, then sync every mapped project (or the ones given) in this
    process. Celery fans out one task per project instead (``integrations.tasks``)."""
    _raise_if_broken()
    api = api or api_from_settings(acquire_timeout=acquire_timeout)
    try:
        refresh_directory(api)
    except ConnectionBroken as exc:
        mark_broken(exc.message)
        raise
    gids = list(projects) if projects is not None else sorted(mapped_projects())
    names = dict(AsanaProject.objects.filter(gid__in=gids).values_list("gid", "name"))
    results = []
    for done, gid in enumerate(gids, start=1):
        try:
            result = sync_project(gid, full=full, api=api)
        except ConnectionBroken:
            raise
        except (AsanaError, Unmapped) as exc:
            result = ProjectResult(project=gid, name=names.get(gid, gid), error=str(exc))
        if result is not None:
            results.append(result)
        if progress is not None:
            progress(names.get(gid, gid), done, len(gids))
    return results


def sync_project(gid: str, *, full: bool = False, api: AsanaApi | None = None):
    """Sync one project; None when another run holds it. Raises AsanaError subclasses for
    the Celery task to retry (RateLimited, Transient) or give up on (ConnectionBroken)."""
    with project_lock(gid) as held:
        if not held:
            logger.info("Asana project %s is being synced by another run; skipped", gid)
            return None
        return _run(gid, api, full, lambda run: run.sync(full=full))


def reconcile_project(gid: str, *, api: AsanaApi | None = None):
    """Soft-delete the project's tasks Asana confirms gone; read its goals. None if busy."""
    with project_lock(gid) as held:
        if not held:
            return None
        return _run(gid, api, False, lambda run: run.reconcile())


def sync_task_gids(gids: Iterable[str], *, project: str, api: AsanaApi | None = None):
    """Re-read the given tasks of a project (a webhook's hint); None if the project is busy
    (the caller retries later)."""
    with project_lock(project) as held:
        if not held:
            return None
        return _run(project, api, False, lambda run: run.reread(set(gids)))


def _run(gid: str, api: AsanaApi | None, full: bool, work: Callable[[_ProjectRun], None]):
    _raise_if_broken()
    api = api or api_from_settings()
    client_id = mapped_projects().get(gid)
    if client_id is None:
        raise Unmapped(f"Asana project {gid} is not mapped to a client.")
    project, _ = AsanaProject.objects.get_or_create(
        gid=gid,
        defaults={
            "name": gid,
            "workspace_gid": settings.ASANA_WORKSPACE_GID,
            "seen_at": timezone.now(),
        },
    )
    run = _ProjectRun(api, project, client_id, full)
    started, calls_before = timezone.now(), api.requests
    try:
        work(run)
    except AsanaError as exc:
        run.result.error = exc.message
        run.result.api_calls = api.requests - calls_before
        _finish(run, started, succeeded=False)
        if isinstance(exc, ConnectionBroken):
            mark_broken(exc.message)
        raise
    except Exception as exc:
        run.result.error = f"{type(exc).__name__}: {exc}"[:2000]
        run.result.api_calls = api.requests - calls_before
        _finish(run, started, succeeded=False)
        raise
    run.result.api_calls = api.requests - calls_before
    _finish(run, started, succeeded=True)
    return run.result


def _finish(run: _ProjectRun, started: datetime.datetime, *, succeeded: bool) -> None:
    result, now = run.result, timezone.now()
    with transaction.atomic():
        record_sync_run(
            source=SyncSource.ASANA,
            started_at=started,
            succeeded=succeeded,
            stats=result.stats,
            error=result.error,
            scope=run.project.gid,
            api_calls=result.api_calls,
        )
        if succeeded:
            fields = {"last_success_at": now, "last_error": "", "last_error_at": None}
            if result.full:
                fields["last_full_sync_at"] = now
        else:
            fields = {"last_error": result.error[:2000], "last_error_at": now}
        AsanaProject.objects.filter(pk=run.project.pk).update(**fields)
    if result.changed or result.deadline_changes or result.goals:
        # Outside the record's transaction: with Redis down the run is still recorded (and
        # the nightly refresh catches up); the original error is what the caller sees.
        try:
            schedule_metrics_refresh()
        except redis.exceptions.RedisError:
            logger.warning("Asana sync: Redis unavailable, metrics refresh not queued")


# ----------------------------------------------------------------------- one project's run
class _ProjectRun:
    def __init__(self, api: AsanaApi, project: AsanaProject, client_id: int, full: bool):
        self.api = api
        self.tasks_api = api.api(asana.TasksApi)
        self.project = project
        self.client_id = client_id
        self.people = People.load()
        self.zone = agency_zone()
        # Tasks the change feed says got a story (a comment, a date change); None when the
        # feed was not read, so every changed task's stories are read.
        self.story_tasks: set[str] | None = None
        self.pending_token = ""  # the change feed's next token, stored when the run is done
        self.result = ProjectResult(project=project.gid, name=project.name, full=full)
        self.seen: set[str] = set()  # task gids read in this run

    # -- the steps -----------------------------------------------------------------------
    def sync(self, *, full: bool) -> None:
        dirty = self._read_events()
        if dirty is None:  # a fresh or expired change feed: list everything
            self.result.full = True
        self._list_tasks(full=self.result.full)
        if dirty:
            self.reread(self._not_yet_read(dirty))
        if self.pending_token:
            # Only now: a run that dies before this re-reads the same events next time.
            self._store_token(self.pending_token)
        if full:  # asked for (admin, command); otherwise goals come with the nightly run
            self._read_goals()

    def reconcile(self) -> None:
        """List every task id of the project (and subtasks of known parents); only after
        the listing completed, confirm each stored task missing from it with its own GET."""
        listed = {
            record["gid"]
            for record in self.api.call(
                self.tasks_api.get_tasks, project=self.project.gid, opt_fields="gid", limit=100
            )
        }
        parents = Task.objects.filter(
            client_id=self.client_id, deleted_at=None, subtasks__isnull=False
        ).values_list("asana_gid", flat=True)
        for parent in {p for p in parents if p in listed}:
            listed.update(self._subtask_gids(parent))
        stored = set(
            Task.objects.filter(client_id=self.client_id, deleted_at=None)
            .exclude(asana_gid=None)
            .values_list("asana_gid", flat=True)
        )
        missing = stored - listed
        if missing:
            self.reread(missing)
        self._read_goals()
        AsanaProject.objects.filter(pk=self.project.pk).update(last_reconciled_at=timezone.now())

    def reread(self, gids: set[str]) -> None:
        """Read these tasks one by one; a 404 is the confirmation that one is gone."""
        records, gone = [], []
        for gid in sorted(gids):
            try:
                records.append(self.api.call(self.tasks_api.get_task, gid, opt_fields=TASK_FIELDS))
            except NotFound:
                gone.append(gid)
        records += self._with_subtasks([r for r in records if r.get("num_subtasks")])
        projects = mapped_projects()
        elsewhere = {
            r["gid"]
            for r in records
            if project_of(r, projects) not in (None, self.project.gid)
            and project_of(r, {self.project.gid: self.client_id}) is None
        }
        records = [r for r in records if r["gid"] not in elsewhere]  # another client's now
        projects = {self.project.gid: self.client_id}
        known = set(
            Task.objects.filter(
                asana_gid__in=[r["gid"] for r in records], client_id=self.client_id
            ).values_list("asana_gid", flat=True)
        )
        mine = [
            r
            for r in records
            if project_of(r, projects) or r["gid"] in known or (r.get("parent") or {}).get("gid")
        ]
        stories = self._stories_for(mine)
        with transaction.atomic():
            _relaxed_commit()
            self._upsert(mine, stories)
            self._soft_delete(gone)

    def _not_yet_read(self, dirty: dict[str, datetime.datetime | None]) -> set[str]:
        """The named tasks this run's listing did not read and that are not stored as of
        their latest event (a run resumed after a crash already has most of them)."""
        stored = dict(
            Task.objects.filter(asana_gid__in=list(dirty), deleted_at=None).values_list(
                "asana_gid", "source_modified_at"
            )
        )
        return {
            gid
            for gid, moment in dirty.items()
            if gid not in self.seen and not (moment and stored.get(gid) and stored[gid] >= moment)
        }

    # -- events --------------------------------------------------------------------------
    def _read_events(self) -> dict[str, datetime.datetime | None] | None:
        """Task gids the change feed names since the stored token, with the time of the
        latest event on each; None when there is no usable token (then a fresh one is
        stored, to be read after the full listing)."""
        events_api = self.api.api(asana.EventsApi)
        token, story_tasks = self.project.events_sync_token, set()
        dirty: dict[str, datetime.datetime | None] = {}
        while True:
            try:
                if not token:
                    raise _Expired(self._fresh_token())
                page = self.api.call(
                    events_api.get_events,
                    self.project.gid,
                    sync=token,
                    opt_fields=EVENT_FIELDS,
                    full_payload=True,
                )
            except _Expired as expired:
                self._store_token(expired.token)
                if token:
                    self.result.notes.append("change feed expired: project re-listed in full")
                return None
            except AsanaError as exc:
                if exc.status != 412:
                    raise
                self._store_token(_sync_token(exc))
                self.result.notes.append("change feed expired: project re-listed in full")
                return None
            for event in page.get("data") or []:
                moment = parse_moment(event.get("created_at"))
                for gid in _event_task_gids(event):
                    dirty[gid] = max(filter(None, (dirty.get(gid), moment)), default=None)
                story_tasks.update(_story_task_gids(event))
            token = page.get("sync") or token
            if not page.get("has_more"):
                break
        # The token is stored with the tasks it named once they are read (the next run
        # re-reads from the old token if this one dies first; events are idempotent hints).
        self.pending_token = token
        self.story_tasks = story_tasks
        return dirty

    def _fresh_token(self) -> str:
        try:
            self.api.call(
                self.api.api(asana.EventsApi).get_events,
                self.project.gid,
                full_payload=True,
            )
        except AsanaError as exc:
            if exc.status == 412:
                return _sync_token(exc)
            raise
        raise AsanaError("Asana answered an events call without a sync token with data")

    def _store_token(self, token: str) -> None:
        self.project.events_sync_token = token
        AsanaProject.objects.filter(pk=self.project.pk).update(events_sync_token=token)

    # -- listing -------------------------------------------------------------------------
    def _list_tasks(self, *, full: bool) -> None:
        project = AsanaProject.objects.get(pk=self.project.pk)
        if full or not project.listing_started:
            project.listing_started, project.listing_since = True, _since(project, full)
            project.listing_offset, project.listing_max_modified = "", None
            project.listing_started_at = timezone.now()
            project.save(
                update_fields=[
                    "listing_started",
                    "listing_since",
                    "listing_offset",
                    "listing_max_modified",
                    "listing_started_at",
                ]
            )
        restarted = False
        while True:
            try:
                page = self.api.call(
                    self.tasks_api.get_tasks,
                    project=project.gid,
                    modified_since=iso(project.listing_since) if project.listing_since else None,
                    opt_fields=TASK_FIELDS,
                    limit=PAGE_SIZE,
                    offset=project.listing_offset or None,
                    full_payload=True,
                )
            except AsanaError as exc:
                if exc.status == 400 and project.listing_offset and not restarted:
                    # An expired offset: list again from the same modified_since.
                    restarted = True
                    project.listing_offset = ""
                    self.result.notes.append("offset expired: listing restarted")
                    continue
                raise
            records = page.get("data") or []
            next_page = page.get("next_page") or {}
            records += self._with_subtasks([r for r in records if r.get("num_subtasks")])
            stories = self._stories_for(records)
            with transaction.atomic():
                _relaxed_commit()
                self._upsert(records, stories)
                modified = [parse_moment(r.get("modified_at")) for r in records]
                modified = [m for m in modified if m is not None]
                if modified:
                    top = max(modified)
                    if project.listing_max_modified is None or top > project.listing_max_modified:
                        project.listing_max_modified = top
                project.listing_offset = next_page.get("offset") or ""
                done = not project.listing_offset
                if done:
                    candidates = [project.tasks_watermark, project.listing_max_modified]
                    candidates = [c for c in candidates if c is not None]
                    project.tasks_watermark = max(candidates) if candidates else None
                    project.listing_started, project.listing_since = False, None
                    project.listing_max_modified = None
                    project.tasks_listed_at = project.listing_started_at
                project.save(
                    update_fields=[
                        "listing_offset",
                        "listing_max_modified",
                        "tasks_watermark",
                        "listing_started",
                        "listing_since",
                        "tasks_listed_at",
                    ]
                )
            if done:
                return

    def _with_subtasks(self, parents: list[dict]) -> list[dict]:
        """Subtasks of these tasks, depth first (subtasks are not listed under a project)."""
        found: list[dict] = []
        queue = list(parents)
        while queue:
            parent = queue.pop()
            for child in self.api.call(
                self.tasks_api.get_subtasks_for_task,
                parent["gid"],
                opt_fields=TASK_FIELDS,
                limit=PAGE_SIZE,
            ):
                found.append(child)
                if child.get("num_subtasks"):
                    queue.append(child)
        return found

    def _subtask_gids(self, parent: str) -> set[str]:
        gids: set[str] = set()
        queue = [parent]
        while queue:
            try:
                children = self.api.call(
                    self.tasks_api.get_subtasks_for_task,
                    queue.pop(),
                    opt_fields="num_subtasks",
                    limit=PAGE_SIZE,
                )
            except NotFound:
                continue
            for child in children:
                gids.add(child["gid"])
                if child.get("num_subtasks"):
                    queue.append(child["gid"])
        return gids

    # -- stories -------------------------------------------------------------------------
    def _stories_for(self, records: list[dict]) -> dict[str, list[dict]]:
        """Stories of tasks we knew that changed since we last read them, when the change
        feed named a story on them or their due date moved (a new task's history predates
        its commitment, so it is not read)."""
        stored = {
            gid: (modified, due)
            for gid, modified, due in Task.objects.filter(
                asana_gid__in=[r["gid"] for r in records]
            ).values_list("asana_gid", "source_modified_at", "due_on")
        }
        stories: dict[str, list[dict]] = {}
        for record in records:
            gid = record["gid"]
            if gid not in stored:
                continue
            before, due = stored[gid]
            now = parse_moment(record.get("modified_at"))
            if before is None:
                continue  # first read from Asana (a task from the bundle): history predates us
            if now is not None and now <= before:
                continue
            due_moved = parse_day(record.get("due_on")) != due
            if self.story_tasks is not None and gid not in self.story_tasks and not due_moved:
                continue
            listed = self.api.call(
                self.api.api(asana.StoriesApi).get_stories_for_task,
                gid,
                opt_fields=STORY_FIELDS,
                limit=100,
            )
            stories[gid] = [
                s for s in listed if (parse_moment(s.get("created_at")) or before) > before
            ]
        return stories

    # -- writing -------------------------------------------------------------------------
    def _upsert(self, records: list[dict], stories: dict[str, list[dict]]) -> None:
        """Write one page (inside the caller's transaction): de-duplicated by gid, parents
        before subtasks, only changed rows updated (a rerun with no change writes nothing,
        so history stays quiet)."""
        by_gid: dict[str, dict] = {}
        for record in records:
            by_gid[record["gid"]] = record
        self.seen.update(by_gid)
        if not by_gid:
            return
        parent_gids = {r["parent"]["gid"] for r in by_gid.values() if r.get("parent")}
        # One read (and lock) for the page's tasks and their parents.
        rows = Task.objects.select_for_update().filter(asana_gid__in=set(by_gid) | parent_gids)
        existing, parent_ids = {}, {}
        for task in rows:
            parent_ids[task.asana_gid] = task.id
            if task.asana_gid in by_gid:
                existing[task.asana_gid] = task
        changes: list[DeadlineChange] = []
        comments: list[TaskComment] = []
        pending = list(by_gid.values())
        while pending:
            # Parents first: a wave takes every record whose parent is known (or none).
            wave = [
                r
                for r in pending
                if not r.get("parent")
                or r["parent"]["gid"] in parent_ids
                or r["parent"]["gid"] not in by_gid
            ]
            wave = wave or pending  # a parent cycle (never seen in Asana): write them anyway
            pending = [r for r in pending if r not in wave]
            new_tasks = []
            for record in wave:
                gid = record["gid"]
                values = task_fields(record, self.people, self.zone)
                values["client_id"] = self.client_id
                parent = (record.get("parent") or {}).get("gid")
                values["parent_id"] = parent_ids.get(parent) if parent else None
                task = existing.get(gid)
                if task is None:
                    new_tasks.append(
                        Task(
                            key=f"asana-{gid}",
                            source=TaskSource.ASANA,
                            asana_gid=gid,
                            first_due_on=values["due_on"],
                            committed_due_on=values["due_on"],
                            **values,
                        )
                    )
                    continue
                old_due = task.due_on
                changed = [f for f in SOURCE_FIELDS if getattr(task, f) != values[f]]
                if task.first_due_on is None and values["due_on"] is not None:
                    # The first due date the task ever had is its commitment.
                    task.first_due_on = task.committed_due_on = values["due_on"]
                    changed += ["first_due_on", "committed_due_on"]
                if changed:
                    for name in changed:
                        setattr(task, name, values.get(name, getattr(task, name)))
                    task.save(update_fields=changed)
                    self.result.updated += 1
                task_stories = stories.get(gid, [])
                changes += self._deadline_changes(task, task_stories, old_due, values)
                comments += self._comments(task, task_stories)
            for task in Task.objects.bulk_create(new_tasks, batch_size=1000):
                parent_ids[task.asana_gid] = task.id
            self.result.inserted += len(new_tasks)
        self.result.deadline_changes += _insert_new(DeadlineChange, changes)
        self.result.comments += _insert_new(TaskComment, comments)

    def _deadline_changes(self, task, stories, old_due, values) -> list[DeadlineChange]:
        changes = []
        for story in stories:
            old = (story.get("old_dates") or {}).get("due_on")
            new = (story.get("new_dates") or {}).get("due_on")
            if (
                old is None
                or old == new
                or story.get("resource_subtype")
                not in (
                    "due_date_changed",
                    "dates_changed",
                )
            ):
                continue
            changes.append(
                DeadlineChange(
                    task=task,
                    changed_at=parse_moment(story["created_at"]),
                    from_due_on=parse_day(old),
                    to_due_on=parse_day(new),
                    changed_by_name=((story.get("created_by") or {}).get("name") or "")[:200],
                    source=TaskSource.ASANA,
                    external_id=story["gid"],
                )
            )
        new_due = values["due_on"]
        covered = any(c.to_due_on == new_due for c in changes)
        if old_due is not None and new_due != old_due and not covered:
            # No story says so (missed, or not read): the date still moved.
            moment = values["source_modified_at"] or timezone.now()
            changes.append(
                DeadlineChange(
                    task=task,
                    changed_at=moment,
                    from_due_on=old_due,
                    to_due_on=new_due,
                    source=TaskSource.ASANA,
                    external_id=f"diff-{task.asana_gid}-{int(moment.timestamp())}",
                )
            )
        return changes

    @staticmethod
    def _comments(task, stories) -> list[TaskComment]:
        return [
            TaskComment(
                task=task,
                created_at=parse_moment(story["created_at"]),
                author_name=((story.get("created_by") or {}).get("name") or "")[:200],
                text=story.get("text") or "",
                source=TaskSource.ASANA,
                external_id=story["gid"],
            )
            for story in stories
            if story.get("type") == "comment" or story.get("resource_subtype") == "comment_added"
        ]

    def _soft_delete(self, gids: list[str]) -> None:
        if gids:
            self.result.deleted += Task.objects.filter(asana_gid__in=gids, deleted_at=None).update(
                deleted_at=timezone.now()
            )

    # -- goals ---------------------------------------------------------------------------
    def _read_goals(self) -> None:
        try:
            goals = self.api.call(
                self.api.api(asana.GoalsApi).get_goals,
                project=self.project.gid,
                opt_fields=GOAL_FIELDS,
                limit=100,
            )
        except PaymentRequired:
            self.result.notes.append("goals: not available on this Asana plan (402), skipped")
            return
        with transaction.atomic():
            for goal in goals:
                if self._store_goal(goal):
                    self.result.goals += 1

    def _store_goal(self, goal: dict) -> bool:
        metric = goal.get("metric") or {}
        due_on = parse_day(goal.get("due_on"))
        target = _decimal(metric.get("target_number_value"))
        if due_on is None or target is None:
            return False  # no target or date: nothing a goal page could pace
        starts_on = min(parse_day(goal.get("start_on")) or due_on, due_on)
        status = GOAL_STATUS.get(goal.get("status") or "", GoalStatus.OPEN)
        if status == "dropped":
            ClientGoal.objects.filter(asana_gid=goal["gid"]).delete()
            return False
        values = {
            "client_id": self.client_id,
            "title": (goal.get("name") or goal["gid"])[:300],
            "metric": (metric.get("unit") or "")[:100] if metric.get("unit") != "none" else "",
            "baseline": _decimal(metric.get("initial_number_value")) or Decimal(0),
            "target": target,
            "current": _decimal(metric.get("current_number_value")),
            "starts_on": starts_on,
            "due_on": due_on,
            "status": status,
        }
        stored = ClientGoal.objects.filter(asana_gid=goal["gid"]).first()
        if stored is None:
            ClientGoal.objects.create(
                key=f"asana-goal-{goal['gid']}", asana_gid=goal["gid"], **values
            )
            return True
        # Asana's unit ("none", "currency"...) is no name for a metric: keep ours.
        values.pop("metric")
        changed = [k for k, v in values.items() if getattr(stored, k) != v]
        if changed:
            for k in changed:
                setattr(stored, k, values[k])
            stored.save(update_fields=changed)
        return bool(changed)


def _since(project: AsanaProject, full: bool) -> datetime.datetime | None:
    watermark = project.tasks_watermark
    if full or watermark is None:
        return None
    listed = project.tasks_listed_at
    if listed is not None and listed - watermark > SETTLED:
        # modified_since is ">=" and Asana's times have milliseconds: skip what we saw.
        return watermark + datetime.timedelta(milliseconds=1)
    return watermark - OVERLAP


def _relaxed_commit() -> None:
    """This transaction's commit does not wait for the disk (synchronous_commit off).

    A page and its cursor commit together, so a crash can only lose the last pages and
    their cursor as one: the next run reads them again from Asana. Consistency is kept; only
    the wait for a flush per page of 100 tasks (most of a large sync's database time) goes."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


class _Expired(Exception):
    def __init__(self, token: str):
        self.token = token


def _sync_token(exc: AsanaError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    token = body.get("sync")
    if not token:
        raise AsanaError("Asana answered 412 without a new sync token", status=412)
    return token


def _event_task_gids(event: dict) -> set[str]:
    resource = event.get("resource") or {}
    parent = event.get("parent") or {}
    gids = set()
    if resource.get("resource_type") == "task":
        gids.add(resource["gid"])
    if parent.get("resource_type") == "task":
        gids.add(parent["gid"])
    return gids


def _insert_new(model, rows: list) -> int:
    """Insert the rows whose (source, external id) is not stored yet; returns how many."""
    if not rows:
        return 0
    stored = set(
        model.objects.filter(
            source=TaskSource.ASANA, external_id__in=[r.external_id for r in rows]
        ).values_list("external_id", flat=True)
    )
    fresh = {r.external_id: r for r in rows if r.external_id not in stored}
    model.objects.bulk_create(fresh.values(), ignore_conflicts=True)
    return len(fresh)


def _story_task_gids(event: dict) -> set[str]:
    resource = event.get("resource") or {}
    parent = event.get("parent") or {}
    if (
        resource.get("resource_type") == "story"
        and parent.get("resource_type") == "task"
        and resource.get("resource_subtype", "comment_added") in STORY_SUBTYPES
    ):
        return {parent["gid"]}
    return set()


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    except (InvalidOperation, ValueError):
        return None
