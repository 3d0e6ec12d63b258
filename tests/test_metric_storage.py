"""Stored metric results: refreshed after writes (debounced, by a real Celery worker) and
read back in the export shape, so pages never compute from raw history."""

import datetime
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from godview.services import METRICS_REFRESH_PENDING_KEY, schedule_metrics_refresh
from metrics.compute import compute_metrics
from metrics.models import MetricRow, MetricRun
from metrics.services import (
    backfill,
    metrics_for,
    refresh_current,
    store_run,
)
from tests import factories

ROOT = Path(__file__).resolve().parents[1]
D = datetime.date


@pytest.fixture
def small_agency():
    pod = factories.pod()
    am = factories.staff(pod=pod)
    for n in range(3):
        client = factories.client(pod=pod, account_manager=am)
        factories.engagement(client, D(2025, 1, 1), monthly_fee=str(1000 * (n + 1)))
        factories.touchpoint(client, D(2026, 3, 20 + n), channel="call")
    return pod


@pytest.mark.django_db
def test_a_stored_run_reads_back_as_the_computed_result(small_agency):
    result = compute_metrics(as_of=D(2026, 3, 31), start=D(2026, 1, 1))
    store_run(kind="current", period="quarter", result=result, seconds=0.1)

    assert metrics_for(as_of=D(2026, 3, 31), start=D(2026, 1, 1)) == result


@pytest.mark.django_db
def test_refresh_replaces_the_current_runs_instead_of_piling_them_up(small_agency):
    refresh_current(today=D(2026, 3, 31))
    refresh_current(today=D(2026, 3, 31))

    current = MetricRun.objects.filter(kind="current")
    assert sorted(current.values_list("period", flat=True)) == [
        "last_month",
        "last_quarter",
        "last_week",
        "month",
        "quarter",
        "week",
    ]
    last_week = current.get(period="last_week")
    assert (last_week.start, last_week.as_of) == (D(2026, 3, 23), D(2026, 3, 29))
    assert MetricRun.objects.filter(kind="daily").count() == 1
    quarter = current.get(period="quarter")
    assert (quarter.start, quarter.as_of) == (D(2026, 1, 1), D(2026, 3, 31))
    assert quarter.computed_at is not None
    agency = MetricRow.objects.get(run=quarter, level="agency").values
    assert agency["mrr"] == 6000.0


SORTED_BY = ("risk_score", "days_inactive", "mrr", "leaderboard_rank", "tactic_wins")


def columns(row) -> dict:
    return {name: getattr(row, name) for name in (*SORTED_BY, "tactics_ended", "on_leaderboard")}


def expected_columns(row) -> dict:
    ended = ("tactic_wins", "tactic_losses", "tactic_inconclusive")
    return {
        **{name: row.values.get(name) for name in SORTED_BY},
        "tactics_ended": sum(row.values.get(name) or 0 for name in ended),
        "on_leaderboard": "leaderboard_parts" in row.values,
    }


@pytest.mark.django_db
def test_stored_rows_copy_what_pages_sort_by_into_columns(small_agency):
    from workflows.models import Tactic

    am = small_agency.members.get()
    acme = small_agency.clients.first()
    Tactic.objects.create(
        key="t1",
        client=acme,
        owner=am,
        name="Landing page",
        started_on=D(2026, 1, 5),
        ended_on=D(2026, 2, 1),
        outcome="win",
    )
    refresh_current(today=D(2026, 3, 31))

    rows = MetricRow.objects.filter(run__kind="current", run__period="quarter")
    for row in rows:
        assert columns(row) == expected_columns(row), (row.level, row.key)
    person = rows.get(level="staff", key=am.key)
    assert (person.tactic_wins, person.tactics_ended, person.on_leaderboard) == (1, 1, True)
    assert {row.mrr for row in rows.filter(level="client")} == {1000.0, 2000.0, 3000.0}


@pytest.mark.django_db
def test_the_migration_fills_the_columns_of_rows_stored_before_it(small_agency):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("metrics.migrations.0004_metric_row_columns")
    backfill(since=D(2026, 3, 1), until=D(2026, 3, 31), every_days=7)
    refresh_current(today=D(2026, 3, 31))
    expected = {row.id: expected_columns(row) for row in MetricRow.objects.all()}
    MetricRow.objects.update(**dict.fromkeys(SORTED_BY), tactics_ended=0, on_leaderboard=False)

    migration.fill_columns(apps, None)

    assert {row.id: columns(row) for row in MetricRow.objects.all()} == expected
    assert any(value["risk_score"] for value in expected.values())


@pytest.mark.django_db
def test_daily_snapshots_keep_only_what_trends_need_for_clients(small_agency):
    count = backfill(since=D(2026, 3, 1), until=D(2026, 3, 31), every_days=7)

    assert count == 6  # 1, 8, 15, 22, 29 March and the 31st (also the quarter's last day)
    row = MetricRow.objects.filter(run__as_of=D(2026, 3, 31), level="client").first()
    assert set(row.values) == {
        "mrr",
        "days_inactive",
        "risk_score",
        "risk_signals",
        "risk_reasons",
    }


@pytest.mark.django_db
def test_snapshot_metrics_command_rejects_bad_dates(small_agency):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not a date"):
        call_command("snapshot_metrics", "--since", "March")
    with pytest.raises(CommandError, match="is after"):
        call_command("snapshot_metrics", "--since", "2026-03-02", "--until", "2026-03-01")


@pytest.mark.django_db
def test_schedule_refresh_is_debounced(django_capture_on_commit_callbacks):
    cache.delete(METRICS_REFRESH_PENDING_KEY)
    with django_capture_on_commit_callbacks() as callbacks:
        assert schedule_metrics_refresh() is True
        assert schedule_metrics_refresh() is False  # a refresh is already pending
    assert len(callbacks) == 1
    cache.delete(METRICS_REFRESH_PENDING_KEY)


def test_an_import_is_followed_by_a_refresh_run_by_a_real_worker(transactional_db, settings):
    cache.delete(METRICS_REFRESH_PENDING_KEY)
    test_db = connection.settings_dict
    base = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    database_url = urllib.parse.urlunsplit(base._replace(path="/" + test_db["NAME"]))
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "godview",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "warning",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "METRICS_REFRESH_DELAY_SECONDS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    settings.METRICS_REFRESH_DELAY_SECONDS = 1
    try:
        call_command("import_agency", str(ROOT / "tests" / "data" / "bundle"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            if MetricRun.objects.filter(kind="current", period="quarter").exists():
                break
            time.sleep(0.5)
        assert worker.poll() is None, worker.stdout.read().decode()
        run = MetricRun.objects.get(kind="current", period="quarter")
        clients = MetricRow.objects.filter(run=run, level="client")
        assert {row.key for row in clients} <= {"acme", "bolt"}
        assert cache.get(METRICS_REFRESH_PENDING_KEY) is None  # the task cleared the debounce
    finally:
        worker.terminate()
        worker.wait(10)


@pytest.mark.django_db
def test_backfill_keeps_every_quarter_end(small_agency):
    count = backfill(since=D(2025, 12, 1), until=D(2026, 4, 10), every_days=30)

    days = set(MetricRun.objects.filter(kind="daily").values_list("as_of", flat=True))
    assert {D(2025, 12, 31), D(2026, 3, 31), D(2026, 4, 10)} <= days
    assert count == len(days)
