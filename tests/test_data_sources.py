"""Every page says when each source's data last arrived, and flags a failed or late one."""

import datetime
import shutil
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from godview.models import Role
from integrations import freshness
from integrations.models import SyncRun, SyncSource
from metrics.services import refresh_current
from tests import factories

pytestmark = pytest.mark.django_db

BUNDLE = Path(__file__).parent / "data" / "bundle"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.delete(freshness.CACHE_KEY)
    yield
    cache.delete(freshness.CACHE_KEY)


@pytest.fixture
def leader_client(client):
    refresh_current()
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)
    return client


def test_a_successful_import_is_recorded_and_shown(leader_client):
    call_command("import_agency", str(BUNDLE))

    run = SyncRun.objects.get()
    response = leader_client.get("/")

    assert (run.source, run.status) == ("bundle", "succeeded")
    assert run.stats["created"]["clients.csv"] == 2
    assert "Agency bundle: last imported" in response.text


def test_a_refused_import_is_recorded_as_failed_and_flagged(leader_client, tmp_path):
    call_command("import_agency", str(BUNDLE))
    bad = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bad)
    clients = bad / "clients.csv"
    clients.write_text(clients.read_text() + "broken,,,\n")

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_agency", str(bad))

    failed = SyncRun.objects.filter(status="failed").get()
    assert "problem" in failed.error and "clients.csv" in failed.error
    response = leader_client.get("/")
    assert "the last attempt failed" in response.text


def test_a_dry_run_records_nothing(leader_client):
    call_command("import_agency", str(BUNDLE), "--dry-run")

    assert not SyncRun.objects.exists()
    assert "No import or sync has run yet" in leader_client.get("/").text


def test_a_source_past_its_limit_is_stale(monkeypatch):
    now = datetime.datetime(2026, 3, 31, 12, tzinfo=datetime.UTC)
    freshness.record_sync_run(
        source=SyncSource.ASANA, started_at=now - datetime.timedelta(hours=2), succeeded=True
    )
    monkeypatch.setitem(freshness.STALE_AFTER, SyncSource.ASANA, datetime.timedelta(hours=1))
    SyncRun.objects.update(finished_at=now - datetime.timedelta(hours=2))
    cache.delete(freshness.CACHE_KEY)

    [asana] = freshness.data_sources(now=now)

    assert asana["stale"] is True
    assert freshness.data_sources(now=now - datetime.timedelta(minutes=90))[0]["stale"] is False


def test_reading_freshness_costs_pages_no_query_once_cached(
    leader_client, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr(freshness, "CACHE_SECONDS", 60)
    freshness.record_sync_run(
        source=SyncSource.BUNDLE,
        started_at=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC),
        succeeded=True,
    )
    freshness.data_sources()  # fills the cache

    with django_assert_num_queries(0):
        assert freshness.data_sources()[0]["source"] == "bundle"
