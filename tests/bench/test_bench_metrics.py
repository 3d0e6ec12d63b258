"""Benchmark: recomputing every metric at the reference and the large scale of QUALITY.md,
and reading stored results for a page. Prints figures; asserts only that it ran correctly.

Scale: seed_demo --clients 200 (about 100,000 tasks, two years) and --clients 1000 (about
500,000 tasks). Targets (issue 3): reference < 10 s, large < 45 s, stored read < 5 ms.
"""

import datetime
import statistics
import time
import tracemalloc

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.compute import compute_metrics
from metrics.models import MetricRow
from metrics.services import refresh_current
from workflows.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = datetime.date(2026, 11, 25)
RUNS = 3


def measure(clients: int) -> dict:
    call_command(
        "seed_demo", "--clients", str(clients), "--today", TODAY.isoformat(), "--seed", "3"
    )
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            compute_metrics(as_of=TODAY)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    compute_metrics(as_of=TODAY)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    refresh_current(today=TODAY)
    reads = []
    for _ in range(50):
        started = time.perf_counter()
        MetricRow.objects.get(run__kind="current", run__period="quarter", level="agency")
        reads.append(time.perf_counter() - started)
    return {
        "clients": clients,
        "tasks": Task.objects.count(),
        "median_s": statistics.median(times),
        "queries": len(queries),
        "peak_mb": peak / 2**20,
        "read_ms": statistics.median(reads) * 1000,
    }


def test_bench_metrics_recompute(django_db_blocker):
    reference = measure(200)
    call_command("flush", "--noinput")
    large = measure(1000)
    for figures in (reference, large):
        print(
            f"\nmetrics recompute, {figures['clients']} clients, {figures['tasks']} tasks: "
            f"median {figures['median_s']:.2f} s of {RUNS}, {figures['queries']} queries, "
            f"peak {figures['peak_mb']:.0f} MB (tracemalloc); stored agency row read "
            f"{figures['read_ms']:.2f} ms"
        )
    print(f"large / reference time ratio: {large['median_s'] / reference['median_s']:.2f}")
    assert reference["queries"] == large["queries"]
