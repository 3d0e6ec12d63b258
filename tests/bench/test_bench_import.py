"""Benchmark: importing an agency bundle at the reference scale of QUALITY.md, then again.

Prints figures; asserts only correctness (row counts, a no-op second import), never time.
Run with `make bench`.
"""

import csv
import datetime
import os
import random
import time

import pytest
from pghistory.models import Events

from integrations.bundle.importer import import_bundle
from workflows.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = int(os.environ.get("BENCH_CLIENTS", 200))
TASKS = int(os.environ.get("BENCH_TASKS", 100_000))


def write(folder, name, header, rows):
    with open(folder / name, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def make_bundle(folder):
    rng = random.Random(7)
    pods = CLIENTS // 13 + 1
    write(folder, "departments.csv", ["key", "name"], [["am", "Account management"]])
    write(
        folder,
        "pods.csv",
        ["key", "name", "department"],
        [[f"p{i}", f"Pod {i}", "am"] for i in range(pods)],
    )
    write(
        folder,
        "staff.csv",
        ["key", "name", "email", "role", "pod"],
        [
            [f"s{i}", f"Person {i}", f"p{i}@bench.test", "account_manager", f"p{i // 2}"]
            for i in range(pods * 2)
        ],
    )
    write(
        folder,
        "clients.csv",
        ["key", "name", "pod", "account_manager"],
        [[f"c{i}", f"Client {i}", f"p{i % pods}", f"s{(i % pods) * 2}"] for i in range(CLIENTS)],
    )
    write(
        folder,
        "engagements.csv",
        ["client", "started_on", "monthly_fee"],
        [[f"c{i}", "2024-11-01", 1000 + i] for i in range(CLIENTS)],
    )
    start = datetime.date(2024, 11, 1)
    rows = []
    for i in range(TASKS):
        created = start + datetime.timedelta(days=rng.randrange(700))
        due = created + datetime.timedelta(days=rng.randrange(1, 21))
        done = due + datetime.timedelta(days=rng.randrange(-5, 4)) if rng.random() < 0.9 else None
        done = max(done, created) if done else None
        rows.append(
            [
                f"t{i}",
                f"c{i % CLIENTS}",
                f"s{(i % CLIENTS % pods) * 2}",
                f"Task {i}",
                created.isoformat(),
                due.isoformat(),
                done.isoformat() if done else "",
            ]
        )
    write(
        folder,
        "tasks.csv",
        ["key", "client", "assignee", "name", "created_on", "due_on", "completed_on"],
        rows,
    )


def test_bench_bundle_import(tmp_path):
    make_bundle(tmp_path)

    started = time.perf_counter()
    first = import_bundle(source=tmp_path)
    first_seconds = time.perf_counter() - started
    assert first.ok, first.problems[:5]
    assert Task.objects.count() == TASKS
    events = Events.objects.count()

    started = time.perf_counter()
    second = import_bundle(source=tmp_path)
    second_seconds = time.perf_counter() - started
    assert sum(second.created.values()) + sum(second.updated.values()) == 0
    assert Events.objects.count() == events

    print(
        f"\nbundle import, {CLIENTS} clients, {TASKS} tasks: first {first_seconds:.1f} s, "
        f"unchanged re-import {second_seconds:.1f} s (0 rows, 0 history entries written)"
    )
