"""The Asana sync, driven through the real SDK against the sandbox (a real HTTP server), into
the real PostgreSQL; locks and the request budget in the real Redis."""

import datetime
import threading

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from clients.models import ClientGoal
from integrations.asana import sync
from integrations.asana.client import (
    AsanaApi,
    ConnectionBroken,
    RateLimited,
    Transient,
    asana_client,
)
from integrations.asana.sandbox import AsanaSandbox
from integrations.models import AsanaProject, AsanaUser, SyncRun, SyncStatus
from tests import factories
from workflows.models import DeadlineChange, Postponement, Task, TaskComment

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "1/5550001:sync-test-token-never-logged"


@pytest.fixture
def sandbox():
    with AsanaSandbox(token=TOKEN) as box:
        yield box


@pytest.fixture
def world(sandbox, settings):
    """A workspace with two users and a project mapped to a client; a third project unmapped."""
    settings.ASANA_ACCESS_TOKEN = TOKEN
    settings.ASANA_BASE_URL = sandbox.base_url
    settings.ASANA_REQUESTS_PER_MINUTE = 100_000
    ws = sandbox.add_workspace("Agency")
    settings.ASANA_WORKSPACE_GID = ws
    am = factories.staff(email="Ann.Manager@agency.test")
    alice = sandbox.add_user("ann.manager@agency.test", "Ann Manager", workspaces=[ws])
    sandbox.add_user("stranger@elsewhere.test", "Stranger", workspaces=[ws])
    project = sandbox.add_project("Acme website", ws)
    sandbox.add_project("Internal", ws)
    client = factories.client(account_manager=am, asana_project_gid=project)
    # A fresh budget key per test: the sandbox token is shared by every test.
    settings.REDIS_URL = django_settings.REDIS_URL
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    return {"ws": ws, "project": project, "client": client, "am": am, "alice": alice}


def run(project, **kwargs):
    result = sync.sync_project(project, **kwargs)
    assert result is not None
    return result


def snapshot():
    return {
        t.asana_gid: (t.name, t.due_on, t.committed_due_on, t.completed_on, t.deleted_at is None)
        for t in Task.objects.exclude(asana_gid=None)
    }


def source_truth(sandbox):
    """What the sandbox holds: live tasks' (name, due_on, completed)."""
    out = {}
    for gid in sandbox.gids("task"):
        record = sandbox.get(gid)
        out[gid] = (record["name"], record["due_on"], record["completed"])
    return out


def test_directory_maps_users_by_email_and_lists_unmapped_projects(sandbox, world):
    api = sync.api_from_settings()
    counts = sync.refresh_directory(api)
    assert counts["projects_listed"] == 2
    ann = AsanaUser.objects.get(gid=world["alice"])
    assert ann.staff == world["am"]  # case-insensitive email match
    assert AsanaUser.objects.get(email="stranger@elsewhere.test").staff is None
    unmapped = AsanaProject.objects.exclude(gid__in=sync.mapped_projects())
    assert list(unmapped.values_list("name", flat=True)) == ["Internal"]


def test_full_sync_writes_tasks_subtasks_and_committed_dates(sandbox, world):
    p = world["project"]
    parent = sandbox.add_task(p, "Launch", due_on="2025-02-10", assignee=world["alice"])
    child = sandbox.add_task(None, "Copy", due_on="2025-02-07", parent=parent)
    grandchild = sandbox.add_task(None, "Proofread", parent=child)
    sandbox.add_task(p, "Done already", due_on="2025-01-20", completed=True)

    result = run(p)

    assert result.inserted == 4 and result.updated == 0
    launch = Task.objects.get(asana_gid=parent)
    assert launch.client == world["client"]
    assert launch.assignee == world["am"]
    assert launch.committed_due_on == launch.first_due_on == datetime.date(2025, 2, 10)
    assert Task.objects.get(asana_gid=child).parent == launch
    assert Task.objects.get(asana_gid=grandchild).parent.asana_gid == child
    assert Task.objects.get(name="Done already").completed_on is not None
    run_row = SyncRun.objects.get(scope=p)
    assert run_row.status == SyncStatus.SUCCEEDED
    assert run_row.api_calls == result.api_calls > 0
    assert run_row.stats["inserted"] == 4
    # Nothing from the unmapped project.
    assert Task.objects.exclude(client=world["client"]).count() == 0


def test_incremental_sync_fetches_only_what_changed(sandbox, world):
    p = world["project"]
    gids = [sandbox.add_task(p, f"Task {i}", due_on="2025-03-01") for i in range(250)]
    run(p)
    sandbox.advance(3600)
    sandbox.edit_task(gids[7], name="Task 7 renamed")
    before = len(sandbox.request_log)

    result = run(p)

    calls = sandbox.request_log[before:]
    task_pages = [c for c in calls if c.path.endswith("/tasks")]
    assert len(task_pages) == 1  # one page holds the one change (250 would need 3)
    assert "modified_since" in task_pages[0].query
    assert result.updated == 1 and result.inserted == 0
    assert Task.objects.get(asana_gid=gids[7]).name == "Task 7 renamed"


def test_rerun_with_no_change_writes_no_history(sandbox, world):
    from workflows.models import TaskEvent

    p = world["project"]
    for i in range(30):
        sandbox.add_task(p, f"Task {i}", due_on="2025-03-01")
    run(p)
    history = TaskEvent.objects.count()
    result = run(p, full=True)
    assert result.changed == 0
    assert TaskEvent.objects.count() == history


def test_due_date_edit_is_an_unapproved_change_and_keeps_the_commitment(sandbox, world):
    p = world["project"]
    gid = sandbox.add_task(p, "Report", due_on="2025-02-10", assignee=world["alice"])
    run(p)
    sandbox.advance(3600)
    sandbox.edit_task(gid, due_on="2025-02-17")
    sandbox.add_comment(gid, "Client asked for more time")

    result = run(p)

    task = Task.objects.get(asana_gid=gid)
    assert task.due_on == datetime.date(2025, 2, 17)
    assert task.committed_due_on == datetime.date(2025, 2, 10)  # did not move
    change = DeadlineChange.objects.get(task=task)
    assert (change.from_due_on, change.to_due_on) == (
        datetime.date(2025, 2, 10),
        datetime.date(2025, 2, 17),
    )
    assert not change.external_id.startswith("diff-")  # from the story, with who and when
    assert not Postponement.objects.filter(task=task).exists()
    assert result.deadline_changes == 1
    assert TaskComment.objects.get(task=task).text == "Client asked for more time"
    # A rerun records the change once.
    run(p, full=True)
    assert DeadlineChange.objects.filter(task=task).count() == 1


def test_subtask_edit_reaches_us_through_the_change_feed(sandbox, world):
    p = world["project"]
    parent = sandbox.add_task(p, "Launch", due_on="2025-02-10")
    child = sandbox.add_task(None, "Copy", due_on="2025-02-07", parent=parent)
    run(p)
    sandbox.advance(3600)
    sandbox.edit_task(child, name="Copy v2")  # does not bump the parent's modified_at

    run(p)

    assert Task.objects.get(asana_gid=child).name == "Copy v2"


def test_deleted_task_is_soft_deleted_only_after_confirmation(sandbox, world):
    p = world["project"]
    keep = sandbox.add_task(p, "Keep", due_on="2025-02-10")
    gone = sandbox.add_task(p, "Gone", due_on="2025-02-10")
    run(p)
    # Reconciliation with a listing that fails part-way deletes nothing.
    sandbox.delete_task(gone)
    sandbox.fail_next(1, 500, path="/tasks")
    with pytest.raises(Transient):
        sync.reconcile_project(p)
    assert Task.objects.get(asana_gid=gone).deleted_at is None

    result = sync.reconcile_project(p)

    assert result.deleted == 1
    assert Task.objects.get(asana_gid=gone).deleted_at is not None
    assert Task.objects.get(asana_gid=keep).deleted_at is None


def until_done(project, api, errors):
    """Run as the Celery task's retries would, until a run completes; each failure stops the
    run and is counted by kind."""
    for _attempt in range(40):
        try:
            return sync.sync_project(project, api=api)
        except (RateLimited, Transient) as exc:
            errors.append(type(exc).__name__)
            redis.Redis.from_url(django_settings.REDIS_URL).flushdb()  # the 429's pause
    raise AssertionError(f"never finished: {errors}")


def test_faults_are_survived_with_the_same_final_state(sandbox, world):
    p = world["project"]
    gids = [sandbox.add_task(p, f"Task {i}", due_on="2025-03-01") for i in range(230)]
    api = AsanaApi(asana_client(token=TOKEN, base_url=sandbox.base_url, timeout=(2, 1)))
    errors = []
    # A 429 on page two stops the run with the server's Retry-After; the first page stays.
    sandbox.fail_next(1, 429, retry_after=1, path="/tasks", after=1)
    with pytest.raises(RateLimited) as limited:
        sync.sync_project(p, api=api)
    assert limited.value.retry_after == 1
    assert 0 < Task.objects.count() < 230
    # Then a 429 storm, 5xx, and a read timeout (the sandbox answers too late).
    sandbox.fail_next(5, 429, retry_after=1, path="/tasks")
    sandbox.fail_next(3, 503, path="/tasks")
    until_done(p, api, errors)
    sandbox.slow_next(1, seconds=1.5)
    until_done(p, api, errors)
    assert errors == ["RateLimited"] * 5 + ["Transient"] * 4
    assert not sandbox._faults  # every fault was met
    assert Task.objects.count() == 230

    # Changes, then an expired offset mid-listing: the listing restarts from the same
    # modified_since. Then an expired change feed (412): the project is re-listed in full.
    sandbox.advance(7200)
    for gid in gids[:150]:
        sandbox.edit_task(gid, name=sandbox.get(gid)["name"] + " v2")
    sandbox.fail_next(1, 503, path="/tasks", after=1)
    with pytest.raises(Transient):
        sync.sync_project(p, api=api)
    sandbox.expire_offsets()
    result = until_done(p, api, errors)
    assert "offset expired: listing restarted" in result.notes
    sandbox.expire_sync_tokens()
    result = until_done(p, api, errors)
    assert result.full and result.changed == 0

    truth = {g: (n, d) for g, (n, d, _c) in source_truth(sandbox).items()}
    stored = {g: (name, due.isoformat()) for g, (name, due, *_rest) in snapshot().items()}
    assert stored == truth
    assert Task.objects.count() == 230  # nothing duplicated


def test_revoked_token_stops_cleanly(sandbox, world):
    p = world["project"]
    sandbox.add_task(p, "Task", due_on="2025-03-01")
    sandbox.revoke_token(TOKEN)
    with pytest.raises(ConnectionBroken):
        run(p)
    status = sync.connection_status()
    assert status.is_broken and "401" in status.reason
    assert TOKEN not in status.reason
    calls = len(sandbox.request_log)
    with pytest.raises(ConnectionBroken, match="Try again"):
        sync.sync_project(p)
    assert len(sandbox.request_log) == calls  # no call made while broken
    failed = SyncRun.objects.get(scope=p, status=SyncStatus.FAILED)
    assert TOKEN not in failed.error


def test_two_runs_of_one_project_one_skips(sandbox, world):
    p = world["project"]
    sandbox.add_task(p, "Task", due_on="2025-03-01")
    holding, release = threading.Event(), threading.Event()

    def other_run():  # another worker: its own database connection
        try:
            with sync.project_lock(p) as held:
                assert held
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_run)
    thread.start()
    try:
        assert holding.wait(30)
        assert sync.sync_project(p) is None
        assert not Task.objects.exists()
    finally:
        release.set()
        thread.join()
    assert run(p).inserted == 1


def test_a_killed_runs_lock_does_not_outlive_it(sandbox, world):
    """The lock belongs to the holder's database session: when the holder dies (here: its
    connection is closed without releasing), the next run is not blocked."""
    p = world["project"]
    sandbox.add_task(p, "Task", due_on="2025-03-01")

    def die_holding():
        lock = sync.project_lock(p)
        assert lock.__enter__()
        connection.close()  # never released, as with SIGKILL

    thread = threading.Thread(target=die_holding)
    thread.start()
    thread.join()
    assert run(p).inserted == 1


def test_goals_become_client_goals_and_402_is_skipped(sandbox, world):
    p = world["project"]
    sandbox.add_goal(
        "Leads +20%",
        world["ws"],
        project=p,
        due_on="2025-03-31",
        start_on="2025-01-01",
        initial=100,
        target=120,
        current=105,
    )
    run(p)  # a routine run does not read goals: those come with full runs and the nightly one
    assert not ClientGoal.objects.exists()
    run(p, full=True)
    goal = ClientGoal.objects.get(client=world["client"])
    assert (goal.baseline, goal.target, goal.current) == (100, 120, 105)
    sandbox.premium = False
    result = run(p, full=True)
    assert any("402" in note for note in result.notes)
    assert SyncRun.objects.filter(scope=p).first().status == SyncStatus.SUCCEEDED


def test_sync_all_reports_progress_and_skips_unmapped(sandbox, world):
    p = world["project"]
    sandbox.add_task(p, "Task", due_on="2025-03-01")
    seen = []
    results = sync.sync_all(progress=lambda name, done, total: seen.append((name, done, total)))
    assert [r.project for r in results] == [p]
    assert seen == [("Acme website", 1, 1)]


def test_task_moved_to_another_clients_project_follows_it(sandbox, world):
    p = world["project"]
    other_project = sandbox.add_project("Globex", world["ws"])
    other = factories.client(asana_project_gid=other_project)
    gid = sandbox.add_task(p, "Moves", due_on="2025-02-10")
    run(p)
    run(other_project)
    sandbox.advance(3600)
    sandbox.move_task(gid, project=other_project, remove_from=p)

    run(other_project)  # the change feed names it
    sync.reconcile_project(p)  # gone from p's listing, but not gone from Asana

    task = Task.objects.get(asana_gid=gid)
    assert task.client == other
    assert task.deleted_at is None
