"""QUALITY.md R2, kill-and-rerun, with a real Celery worker subprocess, the real Redis and the
real PostgreSQL (the test database, which the worker reaches through DATABASE_URL).

A sandbox Asana (a thread of this process, real HTTP) holds a mapped project of a few hundred
tasks with subtasks. A first sync stores it; then dates move, names change, tasks are
completed, deleted and added, so the next (incremental) run lists four pages. That run is
killed at a random page, in one of four ways:

(a) SIGKILL of the worker's pool child;
(b) the worker's Redis (broker and request budget) SIGKILLed, then restarted;
(c) ``os._exit(1)`` in the pool child, inside a page's transaction (a hook the worker imports);
(d) SIGKILL of the whole worker (main process and child at once).

Then the task is sent again to a fresh worker, and the database must equal the sandbox: row
count, the set of gids, a checksum over (gid, name, due_on, completed) of live tasks, subtask
links, deletions and one deadline change per moved date. A second, full rerun must change 0
rows and write no history.

The seed of each test is printed (shown on failure); ``ASANA_KILL_SEED=<n>`` replays it.
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import os
import random
import signal
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from godview.celery import app
from integrations.asana import sync
from integrations.asana.sandbox import API_PREFIX, AsanaSandbox
from integrations.models import AsanaProject, SyncRun, SyncStatus
from tests import factories
from tests.asana_worker_env import (
    EXIT_AT_PAGE,
    EXIT_MARKER,
    PrivateRedis,
    Worker,
    database_url,
)
from workflows.models import DeadlineChange, Task, TaskComment, TaskEvent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKEN = "1/5550002:kill-rerun-token-never-logged"
LISTING_DELAY = 0.3  # seconds per page of GET /tasks while a run is being killed
INITIAL_TASKS = 320
INITIAL_SUBTASKS = 20 * 2 + 3  # 20 parents with two subtasks; three with a child of their own
NEW_TASKS = 300
KILLED_RUN_PAGES = 4  # (25 + 15 + 10 edited + 300 new) listed tasks, 100 a page


class SlowListingSandbox(AsanaSandbox):
    """The sandbox, with every ``GET /tasks`` page delayed by ``listing_delay`` seconds, so a
    test can aim a kill at a page. (``slow_next`` delays the next n requests of any path: a
    page's stories and subtask requests would take them, and the pages would not slow.)"""

    listing_delay = 0.0

    def handle(self, method, raw_path, headers, body):
        if self.listing_delay and method == "GET" and is_listing(urlsplit(raw_path).path):
            time.sleep(self.listing_delay)
        return super().handle(method, raw_path, headers, body)


def is_listing(path: str) -> bool:
    return path.rstrip("/") in (API_PREFIX + "/tasks", "/tasks")


_T0 = [time.monotonic()]


def step(what: str) -> None:
    print(f"{time.monotonic() - _T0[0]:7.2f}s {what}")


@dataclass
class World:
    sandbox: SlowListingSandbox
    project: str
    seed: int
    rng: random.Random
    env: dict[str, str]
    deleted: set[str]
    moved: collections.Counter  # (gid, from, to) of every due-date edit on a live task


@pytest.fixture
def world(settings):
    seed = int(os.environ.get("ASANA_KILL_SEED") or random.SystemRandom().randrange(1 << 31))
    print(f"ASANA_KILL_SEED={seed}")
    _T0[0] = time.monotonic()
    rng = random.Random(seed)
    shared = redis.Redis.from_url(django_settings.REDIS_URL)
    sandbox = SlowListingSandbox(token=TOKEN, port=0).start()
    try:
        ws = sandbox.add_workspace("Agency")
        project = sandbox.add_project("Acme retainer", ws)
        factories.client(asana_project_gid=project)
        settings.ASANA_ACCESS_TOKEN = TOKEN
        settings.ASANA_BASE_URL = sandbox.base_url
        settings.ASANA_WORKSPACE_GID = ws
        settings.ASANA_REQUESTS_PER_MINUTE = 100_000
        shared.delete(f"godview:asana:project:{project}")

        day = datetime.date(2025, 3, 1)
        tops = []
        for i in range(INITIAL_TASKS):
            due = (day + datetime.timedelta(days=rng.randrange(60))).isoformat()
            tops.append(sandbox.add_task(project, f"Task {i}", due_on=due, completed=i % 9 == 0))
        subtasks = []
        for parent in rng.sample(tops, 20):
            for j in range(2):
                due = (day + datetime.timedelta(days=rng.randrange(60))).isoformat()
                subtasks.append(sandbox.add_task(None, f"Sub {parent}.{j}", due, parent=parent))
        for child in rng.sample(subtasks, 3):
            sandbox.add_task(None, f"Grandchild of {child}", parent=child)

        step("sandbox filled")
        first = sync.sync_project(project)  # the first sync, in this process
        step("first sync done")
        assert first is not None and first.inserted == INITIAL_TASKS + INITIAL_SUBTASKS

        # An hour later: what the killed run has to carry over.
        sandbox.advance(3600)
        moved = collections.Counter()
        picked = rng.sample(tops, 53)
        due_edits, renames, toggles, deletes = (
            picked[:25],
            picked[25:40],
            picked[40:50],
            picked[50:],
        )
        for gid in due_edits + rng.sample(subtasks, 4):
            old = sandbox.get(gid)["due_on"]
            new = (datetime.date.fromisoformat(old) + datetime.timedelta(days=7)).isoformat()
            sandbox.edit_task(gid, due_on=new)
            moved[(gid, old, new)] += 1
        for gid in renames:
            sandbox.edit_task(gid, name=sandbox.get(gid)["name"] + " (renamed)")
        for gid in toggles:
            sandbox.edit_task(gid, completed=not sandbox.get(gid)["completed"])
        for gid in deletes:
            sandbox.delete_task(gid)
        for i in range(NEW_TASKS):
            due = (day + datetime.timedelta(days=rng.randrange(90))).isoformat()
            gid = sandbox.add_task(project, f"New task {i}", due_on=due)
            if i % 30 == 0:
                sandbox.add_task(None, f"New sub {i}.a", due, parent=gid)
                sandbox.add_task(None, f"New sub {i}.b", parent=gid)
        listed = [
            g
            for g in sandbox.gids("task")
            if sandbox.get(g)["memberships"] and sandbox.get(g)["modified_at"] == sandbox.now
        ]
        assert -(-len(listed) // 100) == KILLED_RUN_PAGES
        deleted = set(sandbox.gids("task", include_deleted=True)) - set(sandbox.gids("task"))
        moved = collections.Counter({k: v for k, v in moved.items() if k[0] not in deleted})

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "godview.settings",
            "DEBUG": os.environ.get("DEBUG", "true"),
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": django_settings.REDIS_URL,
            "ASANA_ACCESS_TOKEN": TOKEN,
            "ASANA_WORKSPACE_GID": ws,
            "ASANA_BASE_URL": sandbox.base_url,
            "ASANA_REQUESTS_PER_MINUTE": "100000",
        }
        step("edits made")
        yield World(sandbox, project, seed, rng, env, deleted, moved)
    finally:
        sandbox.stop()
        shared.delete(f"godview:asana:project:{project}")


# ----------------------------------------------------------------------- source vs database
def source_rows(sandbox) -> dict[str, tuple]:
    rows = {}
    for gid in sandbox.gids("task"):
        record = sandbox.get(gid)
        rows[gid] = (record["name"], record["due_on"] or "", bool(record["completed"]))
    return rows


def database_rows() -> dict[str, tuple]:
    return {
        t.asana_gid: (t.name, t.due_on.isoformat() if t.due_on else "", t.completed_on is not None)
        for t in Task.objects.exclude(asana_gid=None).filter(deleted_at=None)
    }


def checksum(rows: dict[str, tuple]) -> str:
    text = "\n".join(
        f"{gid}|{name}|{due}|{int(done)}" for gid, (name, due, done) in sorted(rows.items())
    )
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - a checksum, not a secret


def assert_converged(world: World) -> None:
    sandbox, seed = world.sandbox, world.seed
    source, stored = source_rows(sandbox), database_rows()
    assert len(stored) == len(source), f"seed {seed}: {len(stored)} live rows, {len(source)}"
    missing, extra = set(source) - set(stored), set(stored) - set(source)
    assert not missing and not extra, f"seed {seed}: missing {missing}, extra {extra}"
    assert checksum(stored) == checksum(source), f"seed {seed}: checksums differ"
    everything = Task.objects.exclude(asana_gid=None)
    total = len(sandbox.gids("task", include_deleted=True))
    assert everything.count() == total, f"seed {seed}: duplicates or strays"
    assert everything.values("asana_gid").distinct().count() == total
    assert (
        set(everything.exclude(deleted_at=None).values_list("asana_gid", flat=True))
        == world.deleted
    ), f"seed {seed}: soft deletions differ"
    parents = dict(everything.values_list("asana_gid", "parent__asana_gid"))
    assert parents == {
        gid: sandbox.get(gid)["parent"] for gid in sandbox.gids("task", include_deleted=True)
    }, f"seed {seed}: subtask links differ"
    changes = collections.Counter(
        (c.task.asana_gid, c.from_due_on.isoformat(), c.to_due_on.isoformat())
        for c in DeadlineChange.objects.select_related("task")
    )
    assert changes == world.moved, f"seed {seed}: deadline changes differ"


def assert_crashed_mid_listing(world: World) -> None:
    """The kill landed inside the run: its listing is unfinished and data is missing."""
    project = AsanaProject.objects.get(gid=world.project)
    assert project.listing_started, f"seed {world.seed}: the run finished before the kill"
    stored, source = database_rows(), source_rows(world.sandbox)
    assert set(source) - set(stored), f"seed {world.seed}: nothing left to resume"


# ----------------------------------------------------------------------- driving the worker
def listings(sandbox) -> int:
    return sum(1 for call in sandbox.calls("/tasks") if is_listing(call.path))


def wait_for_listings(world: World, count: int, worker: Worker, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while listings(world.sandbox) < count:
        assert worker.alive(), worker.tail()
        assert time.monotonic() < deadline, f"seed {world.seed}: {count} pages never served"
        time.sleep(0.01)


def send(world: World, worker: Worker, *, full: bool = False, broker: str | None = None) -> str:
    options = {"args": [world.project], "kwargs": {"full": full}, "queue": worker.queue}
    if broker is None:
        return app.send_task("asana.sync_project", **options).id
    with app.connection_for_write(broker) as conn:
        return app.send_task("asana.sync_project", connection=conn, **options).id


def note_requeued_run(world: World, worker: Worker, task_id: str) -> None:
    """After the pool child died, Celery requeues the message (reject_on_worker_lost) and a new
    child runs it at once: with a working lock it resumes and finishes the listing."""
    deadline = time.monotonic() + 20
    while "WorkerLostError" not in worker.log():
        assert time.monotonic() < deadline, (
            f"the worker did not see its child die:\n{worker.tail()}"
        )
        time.sleep(0.02)
    outcome = worker.wait_for(task_id, timeout=60)
    # The dead run's lock died with its database session: the requeued run is not skipped.
    assert outcome.succeeded and not outcome.skipped, outcome


def rerun_and_verify(world: World, env: dict, log_dir, *, broker: str | None = None) -> None:
    """Send the task to a fresh worker until the project converged with the sandbox; then a
    second, full rerun must change nothing."""
    step("starting the fresh worker")
    with Worker(env, log_dir / "rerun.log") as fresh:
        step("fresh worker ready")
        outcome = fresh.wait_for(send(world, fresh, broker=broker))
        step(f"rerun finished: {outcome}")
        assert outcome.succeeded and not outcome.skipped, f"seed {world.seed}: {outcome}"
        assert_converged(world)
        last = SyncRun.objects.filter(scope=world.project).order_by("-finished_at").first()
        assert last.status == SyncStatus.SUCCEEDED and not last.stats["full"], last.error
        project = AsanaProject.objects.get(gid=world.project)
        assert not project.listing_started and project.tasks_watermark is not None

        history = TaskEvent.objects.count()
        changes, comments = DeadlineChange.objects.count(), TaskComment.objects.count()
        runs = SyncRun.objects.filter(scope=world.project).count()
        step("converged")
        outcome = fresh.wait_for(send(world, fresh, full=True, broker=broker))
        step(f"second rerun finished: {outcome}")
        assert outcome.succeeded and not outcome.skipped, f"seed {world.seed}: {outcome}"
    assert SyncRun.objects.filter(scope=world.project).count() == runs + 1
    last = SyncRun.objects.filter(scope=world.project).order_by("-finished_at").first()
    assert last.status == SyncStatus.SUCCEEDED, last.error
    assert last.stats["full"] is True
    assert (last.stats["inserted"], last.stats["updated"], last.stats["deleted"]) == (0, 0, 0)
    assert (outcome.value["inserted"], outcome.value["updated"]) == (0, 0)
    assert TaskEvent.objects.count() == history, f"seed {world.seed}: history rows written"
    assert DeadlineChange.objects.count() == changes and TaskComment.objects.count() == comments
    assert_converged(world)


# ----------------------------------------------------------------------- the scenarios
def test_sigkill_of_the_pool_child_at_a_random_page(world, tmp_path):
    page = world.rng.randint(1, KILLED_RUN_PAGES - 1)
    with Worker(world.env, tmp_path / "killed.log") as worker:
        step("worker ready")
        before = listings(world.sandbox)
        world.sandbox.listing_delay = LISTING_DELAY
        task_id = send(world, worker)
        wait_for_listings(world, before + page, worker)
        time.sleep(world.rng.uniform(0, LISTING_DELAY * 0.8))
        (child,) = worker.pool_children()
        os.kill(child, signal.SIGKILL)
        step(f"killed after {page} pages")
        assert_crashed_mid_listing(world)
        world.sandbox.listing_delay = 0
        note_requeued_run(world, worker, task_id)
        step("requeued run noted")
    step("first worker stopped")
    rerun_and_verify(world, world.env, tmp_path)


def test_redis_killed_mid_run_then_restarted(world, tmp_path):
    committed = world.rng.randint(1, KILLED_RUN_PAGES - 2)  # pages certainly committed
    private = PrivateRedis(tmp_path / "redis").start()
    env = {**world.env, "REDIS_URL": private.url}
    try:
        with Worker(env, tmp_path / "killed.log") as worker:
            before = listings(world.sandbox)
            world.sandbox.listing_delay = LISTING_DELAY
            task_id = send(world, worker, broker=private.url)
            # Page k+1 is asked for only once page k committed; Redis dies inside page k+1.
            wait_for_listings(world, before + committed + 1, worker)
            time.sleep(world.rng.uniform(0, LISTING_DELAY * 0.8))
            private.kill()
            step(f"Redis killed in page {committed + 1}")
            # The run stops at its next request (the request budget lives in Redis).
            outcome = worker.wait_for(task_id, timeout=30)
            assert not outcome.succeeded and "ConnectionError" in outcome.error, outcome
            world.sandbox.listing_delay = 0
            assert_crashed_mid_listing(world)
            recorded = SyncRun.objects.filter(
                scope=world.project, status=SyncStatus.FAILED
            ).exists()
            last_error = AsanaProject.objects.get(gid=world.project).last_error
            private.start()
            # The worker that lost its broker connects again by itself.
            deadline = time.monotonic() + 30
            while worker.log().count("Connected to redis://") < 2:
                assert time.monotonic() < deadline, f"no reconnection:\n{worker.tail()}"
                time.sleep(0.05)
            step("the old worker reconnected")
        rerun_and_verify(world, env, tmp_path, broker=private.url)
    finally:
        private.kill()
    # The run that died of the outage is on record, with the Redis error as its reason.
    assert recorded, f"seed {world.seed}: no FAILED SyncRun"
    assert last_error, f"seed {world.seed}: no last_error on the project"


def test_os_exit_of_the_pool_child_inside_a_page(world, tmp_path):
    page = world.rng.randint(1, KILLED_RUN_PAGES - 1)
    marker = tmp_path / "exited"
    env = {**world.env, EXIT_AT_PAGE: str(page), EXIT_MARKER: str(marker)}
    with Worker(env, tmp_path / "killed.log", include="tests.asana_worker_env") as worker:
        step("worker ready")
        world.sandbox.listing_delay = LISTING_DELAY  # slows the requeued run, not the exit
        task_id = send(world, worker)
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.alive() and time.monotonic() < deadline, worker.tail()
            assert not worker.outcomes(task_id), f"the run never reached the hook:\n{worker.tail()}"
            time.sleep(0.01)
        worker.wait_dead(int(marker.read_text()))
        step(f"os._exit inside page {page}")
        assert_crashed_mid_listing(world)
        world.sandbox.listing_delay = 0
        note_requeued_run(world, worker, task_id)
    rerun_and_verify(world, world.env, tmp_path)


def test_sigkill_of_the_whole_worker_at_a_random_page(world, tmp_path):
    page = world.rng.randint(1, KILLED_RUN_PAGES - 1)
    with Worker(world.env, tmp_path / "killed.log") as worker:
        step("worker ready")
        before = listings(world.sandbox)
        world.sandbox.listing_delay = LISTING_DELAY
        send(world, worker)
        wait_for_listings(world, before + page, worker)
        time.sleep(world.rng.uniform(0, LISTING_DELAY * 0.8))
        worker.kill_group()
        step(f"the whole worker killed after {page} pages")
        assert not worker.alive()
        world.sandbox.listing_delay = 0
        assert_crashed_mid_listing(world)
    # The message stays unacknowledged until the visibility timeout (2 h): only a new message
    # (the next beat tick, here the rerun) resumes the project.
    rerun_and_verify(world, world.env, tmp_path)
