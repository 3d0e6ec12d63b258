"""Benchmark: the Asana sync against the sandbox at the reference scale of QUALITY.md
(100,000 tasks across 200 projects), P4 and P5.

Prints: API calls of the first full sync against the minimum (pages needed to list every
task plus one per parent's subtask list), its wall and database time and rows per second;
an incremental sync after 1% of the tasks changed, its calls as a share of the full sync's;
a rerun with no change (history rows written); the time a full sync would take at Asana's
150 and 1,500 requests per minute. Asserts only correctness (row counts and ids equal the
sandbox's), never time. Scale with BENCH_ASANA_TASKS / BENCH_ASANA_PROJECTS.
"""

import math
import os
import random
import time

import pytest
import redis
from django.db import connection
from pghistory.models import Events

from integrations.asana import sync
from integrations.asana.sandbox import AsanaSandbox
from tests import factories
from workflows.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = int(os.environ.get("BENCH_ASANA_TASKS", 100_000))
PROJECTS = int(os.environ.get("BENCH_ASANA_PROJECTS", 200))
SUBTASKS_PER_PROJECT = 5  # under one parent per project
TOKEN = "bench-token"


class DbTimer:
    """Database time: the sum of every query's execution, measured around the cursor."""

    def __init__(self):
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            self.queries += 1


def timed(fn):
    timer = DbTimer()
    start = time.perf_counter()
    with connection.execute_wrapper(timer):
        out = fn()
    return out, time.perf_counter() - start, timer


def test_bench_asana_sync(settings):
    rng = random.Random(11)
    per_project = TASKS // PROJECTS
    with AsanaSandbox(token=TOKEN) as sandbox:
        settings.ASANA_ACCESS_TOKEN = TOKEN
        settings.ASANA_BASE_URL = sandbox.base_url
        settings.ASANA_REQUESTS_PER_MINUTE = 10_000_000
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        ws = sandbox.add_workspace("Bench agency")
        settings.ASANA_WORKSPACE_GID = ws
        pod = factories.pod()
        people = [factories.staff(pod=pod, email=f"am{i}@bench.test") for i in range(20)]
        users = [sandbox.add_user(p.email, p.name, workspaces=[ws]) for p in people]
        build = time.perf_counter()
        minimum = 0
        for i in range(PROJECTS):
            project = sandbox.add_project(f"Client {i}", ws)
            factories.client(pod=pod, account_manager=people[i % 20], asana_project_gid=project)
            top = per_project - SUBTASKS_PER_PROJECT
            first = None
            for n in range(top):
                gid = sandbox.add_task(
                    project,
                    f"Task {i}-{n}",
                    due_on=f"2025-0{1 + n % 6}-{1 + n % 28:02d}",
                    assignee=rng.choice(users),
                    completed=n % 3 == 0,
                )
                first = first or gid
            for n in range(SUBTASKS_PER_PROJECT):
                sandbox.add_task(None, f"Sub {i}-{n}", due_on="2025-02-01", parent=first)
            minimum += math.ceil(top / 100) + 1  # task pages + the parent's subtask list
        print(
            f"\nsandbox built in {time.perf_counter() - build:.1f}s: {TASKS:,} tasks, "
            f"{PROJECTS} projects"
        )

        api = sync.api_from_settings()
        results, wall, db = timed(lambda: sync.sync_all(api=api))
        full_calls = api.requests
        rows = sum(r.inserted for r in results)
        assert rows == Task.objects.count() == len(sandbox.gids("task"))
        assert all(not r.error for r in results)
        print(
            f"full sync: {full_calls:,} API calls vs minimum {minimum:,} "
            f"(ratio {full_calls / minimum:.3f}; per project: task pages, 1 subtask list, "
            f"1 events token; plus the directory: {full_calls - minimum - PROJECTS} calls)"
        )
        print(
            f"full sync: wall {wall:.1f}s (sandbox in the same process), database "
            f"{db.seconds:.1f}s in {db.queries:,} queries, {rows / wall:,.0f} rows/s wall, "
            f"{rows / db.seconds:,.0f} rows/s database"
        )
        print(
            f"full sync against real Asana: {full_calls / 150:.1f} min at 150 req/min, "
            f"{full_calls / 1500:.1f} min at 1,500 req/min"
        )

        history = Events.objects.count()
        before = api.requests
        results, wall, db = timed(lambda: sync.sync_all(api=api, full=True))
        print(
            f"rerun, no change (full listing): {sum(r.changed for r in results)} rows changed, "
            f"{Events.objects.count() - history} history rows, {api.requests - before:,} "
            f"calls, wall {wall:.1f}s, database {db.seconds:.1f}s"
        )
        assert Events.objects.count() == history

        sandbox.advance(2 * 3600)
        live = sandbox.gids("task")
        changed = rng.sample(live, len(live) // 100)
        for gid in changed:
            sandbox.edit_task(gid, name=sandbox.get(gid)["name"] + " (edited)")
        before = api.requests
        results, wall, db = timed(lambda: sync.sync_all(api=api))
        calls = api.requests - before
        assert sum(r.updated for r in results) == len(changed)
        print(
            f"incremental after 1% changed ({len(changed):,} tasks): {calls:,} calls = "
            f"{100 * calls / full_calls:.1f}% of the full sync's (floor: 2 per project, "
            f"events + listing = {2 * PROJECTS}); wall {wall:.1f}s, database {db.seconds:.1f}s"
        )
