"""`manage.py sync_asana`: a progress bar on stderr, a summary on stdout, exit code 1 when a
project failed or the connection is broken, a clear error when Asana is not configured.
(End-to-end runs against the sandbox are in the sync's own tests.)"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import OutputWrapper
from django.utils import timezone

from integrations.asana.client import ConnectionBroken
from integrations.asana.sync import ProjectResult
from integrations.management.progress import ProgressBar
from integrations.models import ConnectionStatus, SyncSource

pytestmark = pytest.mark.django_db

TOKEN = "0/secret-token-never-printed"


@pytest.fixture(autouse=True)
def _asana_settings(settings):
    settings.ASANA_ACCESS_TOKEN = TOKEN
    settings.ASANA_WORKSPACE_GID = "1000"


def fake_sync_all(results, *, names, calls):
    """A sync_all that reports progress for `names` and returns `results`."""

    def sync_all(*, full=False, projects=None, progress=None, **options):
        calls.append({"full": full, "projects": projects})
        for done, name in enumerate(names, start=1):
            progress(name, done, len(names))
        return results

    return sync_all


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("sync_asana", *args, stdout=out, stderr=err)
    except CommandError as error:
        return error, out.getvalue(), err.getvalue()
    return None, out.getvalue(), err.getvalue()


def test_progress_and_summary(monkeypatch):
    calls = []
    results = [
        ProjectResult(project="11", name="Acme", api_calls=7, inserted=40, updated=2),
        ProjectResult(project="12", name="Bolt", api_calls=3, updated=1, deleted=1),
    ]
    names = ["Acme", "Bolt", "Core"]  # Core was held by another run: no result
    monkeypatch.setattr(
        "integrations.asana.sync.sync_all", fake_sync_all(results, names=names, calls=calls)
    )

    error, out, err = run()

    assert error is None
    assert calls == [{"full": False, "projects": None}]
    assert err.splitlines() == [
        "[" + "#" * 10 + "." * 20 + "] 1/3 Acme",
        "[" + "#" * 20 + "." * 10 + "] 2/3 Bolt",
        "[" + "#" * 30 + "] 3/3 Core",
    ]
    assert "Projects: 2 synced, 1 skipped (another run held them), 0 failed." in out
    assert "API calls: 10." in out
    assert "Rows: 40 inserted, 3 updated, 1 deleted;" in out
    assert "Asana sync finished." in out


def test_full_and_one_project_are_passed_on(monkeypatch):
    calls = []
    results = [ProjectResult(project="11", name="Acme", full=True)]
    monkeypatch.setattr(
        "integrations.asana.sync.sync_all", fake_sync_all(results, names=["Acme"], calls=calls)
    )

    error, out, _ = run("--full", "--project", "11")

    assert error is None
    assert calls == [{"full": True, "projects": ["11"]}]
    assert "Projects: 1 synced, 0 skipped" in out


def test_a_failed_project_exits_1_and_is_named(monkeypatch):
    results = [
        ProjectResult(project="11", name="Acme", api_calls=4, inserted=5),
        ProjectResult(project="12", name="Bolt", api_calls=1, error="Asana answered 500 twice"),
    ]
    monkeypatch.setattr(
        "integrations.asana.sync.sync_all",
        fake_sync_all(results, names=["Acme", "Bolt"], calls=[]),
    )

    error, out, _ = run()

    assert error is not None and error.returncode == 1
    assert "1 project failed" in str(error)
    assert "Projects: 1 synced, 0 skipped (another run held them), 1 failed." in out
    assert "Failed: Bolt (12): Asana answered 500 twice" in out
    assert "Asana sync finished." not in out


def test_a_connection_broken_mid_run_exits_1_with_the_reason(monkeypatch):
    def sync_all(*, full=False, projects=None, progress=None, **options):
        progress("Acme", 1, 2)
        raise ConnectionBroken("Asana refused the token (401): it was revoked.", status=401)

    monkeypatch.setattr("integrations.asana.sync.sync_all", sync_all)

    error, out, err = run()

    assert error is not None and error.returncode == 1
    assert "Asana refused the token (401): it was revoked." in str(error)
    assert err.endswith("1/2 Acme\n")
    assert TOKEN not in str(error) + out + err


def test_an_already_broken_connection_stops_before_calling_asana():
    ConnectionStatus.objects.create(
        source=SyncSource.ASANA, broken_at=timezone.now(), reason="401: the token was revoked."
    )

    error, out, err = run()

    assert error is not None and error.returncode == 1
    assert "401: the token was revoked." in str(error)
    assert "Try again" in str(error)
    assert TOKEN not in str(error) + out + err


def test_not_configured_is_a_clear_error(settings):
    settings.ASANA_ACCESS_TOKEN = ""

    error, out, _ = run()

    assert error is not None and error.returncode == 1
    assert "Asana is not configured" in str(error)
    assert "ASANA_ACCESS_TOKEN" in str(error)
    assert out == ""


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_bar_is_redrawn_in_place():
    stream = Terminal()
    bar = ProgressBar(OutputWrapper(stream), width=4)

    bar("A long client name", 1, 2)
    bar("Bo", 2, 2)
    bar.finish()

    first = "[##..] 1/2 A long client name"
    second = "[####] 2/2 Bo"
    assert stream.getvalue() == "\r" + first + "\r" + second.ljust(len(first)) + "\n"


@pytest.mark.parametrize(("updated", "refreshed"), [(1, True), (0, False)])
def test_refresh_metrics_runs_only_when_something_changed(monkeypatch, updated, refreshed):
    results = [ProjectResult(project="11", name="Acme", updated=updated)]
    monkeypatch.setattr(
        "integrations.asana.sync.sync_all", fake_sync_all(results, names=["Acme"], calls=[])
    )
    snapshots = []
    monkeypatch.setattr(
        "integrations.management.commands.sync_asana.call_command",
        lambda name, **kwargs: snapshots.append(name),
    )

    error, out, _err = run("--refresh-metrics")

    assert error is None
    assert snapshots == (["snapshot_metrics"] if refreshed else [])
    assert ("Refreshing the figures" in out) is refreshed
