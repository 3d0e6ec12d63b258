"""``manage.py asana_sandbox``: the sandbox workspace generated from the agency in the
database, the mapping written back, the people-at-work activity and what the command prints.

The sandbox is a real HTTP server read through the real SDK (``AsanaApi``)."""

import datetime
import io
from datetime import UTC

import asana
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from clients.models import Client, ClientGoal, GoalStatus
from integrations.asana.client import AsanaApi, asana_client
from integrations.asana.demo_workspace import DemoActivity, build_demo_workspace
from integrations.asana.sandbox import AsanaSandbox, iso
from integrations.management.commands.asana_sandbox import Command
from integrations.models import AsanaUser
from tests import factories
from workflows.models import Task, TaskSource

pytestmark = pytest.mark.django_db

TOKEN = "command-tests-token"
TODAY = datetime.date(2026, 3, 20)
NOW = datetime.datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
KEPT_PROJECT_GID = "1300000000000007"
KEPT_USER_GID = "1300000000000003"


@pytest.fixture
def sandbox():
    with AsanaSandbox(token=TOKEN, start=NOW) as box:
        yield box


@pytest.fixture
def api(sandbox):
    return AsanaApi(asana_client(token=TOKEN, base_url=sandbox.base_url, timeout=(2, 5)))


def day(n):
    return datetime.date(2026, 3, n)


@pytest.fixture
def agency():
    """Two clients; tasks open, recently done, long done, deleted, internal, and subtasks."""
    pod = factories.pod()
    ann = factories.staff(pod=pod, name="Ann", email="ann@agency.test")
    bob = factories.staff(pod=pod, name="Bob", email="Bob@Agency.test")
    AsanaUser.objects.create(gid=KEPT_USER_GID, email="bob@agency.test", seen_at=timezone.now())
    alpha = factories.client(pod=pod, account_manager=ann, name="Alpha")
    beta = factories.client(
        pod=pod, account_manager=bob, name="Beta", asana_project_gid=KEPT_PROJECT_GID
    )
    t = {
        "open": factories.task(alpha, name="Launch page", assignee=ann, due_on=day(25)),
        "recent": factories.task(
            beta, name="March report", assignee=bob, due_on=day(10), completed_on=day(12)
        ),
        "old": factories.task(
            alpha,
            name="Old audit",
            due_on=datetime.date(2026, 1, 10),
            created_on=datetime.date(2026, 1, 2),
            completed_on=datetime.date(2026, 1, 9),
        ),
        "deleted": factories.task(alpha, name="Dropped", deleted_at=timezone.now()),
        "internal": factories.task(None, name="Team offsite"),
    }
    t["sub"] = factories.task(alpha, name="Write copy", parent=t["open"], assignee=bob)
    # An open subtask of a long-done task: its parent comes along.
    t["orphan"] = factories.task(alpha, name="Fix typo", parent=t["old"])
    goals = {
        "open": factories.client_goal(
            alpha, title="More leads", baseline=10, target=30, current=18
        ),
        "met": factories.client_goal(beta, title="Old goal", status=GoalStatus.MET),
    }
    return {"ann": ann, "bob": bob, "alpha": alpha, "beta": beta, "tasks": t, "goals": goals}


def build(sandbox):
    return build_demo_workspace(sandbox, today=TODAY, recent_days=30, workspace_gid=None)


def test_the_workspace_mirrors_the_agency_and_the_database_is_mapped_to_it(sandbox, api, agency):
    built = build(sandbox)
    t, alpha, beta = agency["tasks"], agency["alpha"], agency["beta"]

    # Projects: one per client, named like it; an existing mapping keeps its gid.
    alpha.refresh_from_db()
    beta.refresh_from_db()
    assert beta.asana_project_gid == KEPT_PROJECT_GID
    projects = api.call(
        asana.ProjectsApi(api.client).get_projects_for_workspace,
        built.workspace_gid,
        opt_fields="name",
    )
    assert {p["gid"]: p["name"] for p in projects} == {
        alpha.asana_project_gid: "Alpha",
        KEPT_PROJECT_GID: "Beta",
    }

    # Users: one per staff member with the same email; a known Asana user keeps its gid.
    users = api.call(
        asana.UsersApi(api.client).get_users, workspace=built.workspace_gid, opt_fields="email"
    )
    emails = {u["email"]: u["gid"] for u in users}
    assert {"ann@agency.test", "Bob@Agency.test"} <= set(emails)
    assert emails["Bob@Agency.test"] == KEPT_USER_GID

    # Tasks: open, recent and the parents of included subtasks; mapped and now from Asana.
    included = {"open", "recent", "sub", "orphan", "old"}
    for key, task in t.items():
        task.refresh_from_db()
        if key in included:
            assert task.asana_gid == built.tasks[task.pk] and task.source == TaskSource.ASANA
        else:
            assert task.asana_gid is None and task.source == TaskSource.MANUAL, key
    listed = api.call(
        asana.TasksApi(api.client).get_tasks,
        project=alpha.asana_project_gid,
        opt_fields="name,due_on,completed,completed_at,assignee.email,num_subtasks",
    )
    by_name = {x["name"]: x for x in listed}
    assert set(by_name) == {"Launch page", "Old audit"}  # subtasks live under their parent
    launch = by_name["Launch page"]
    assert launch["due_on"] == "2026-03-25" and launch["completed"] is False
    assert launch["assignee"]["email"] == "ann@agency.test" and launch["num_subtasks"] == 1
    assert by_name["Old audit"]["completed_at"].startswith("2026-01-09")
    subtasks = api.call(
        asana.TasksApi(api.client).get_subtasks_for_task, t["open"].asana_gid, opt_fields="name"
    )
    assert [s["name"] for s in subtasks] == ["Write copy"]
    report = api.call(asana.TasksApi(api.client).get_task, t["recent"].asana_gid)
    assert report["completed"] is True and report["completed_at"].startswith("2026-03-12")
    assert report["due_on"] == "2026-03-10" and report["modified_at"] <= iso(NOW)
    assert built.subtasks == 2

    # Goals: the open one, supported by its client's project.
    goals = {g.pk: g for g in ClientGoal.objects.all()}
    assert goals[agency["goals"]["met"].pk].asana_gid is None
    goal_gid = goals[agency["goals"]["open"].pk].asana_gid
    found = api.call(
        asana.GoalsApi(api.client).get_goals,
        project=alpha.asana_project_gid,
        opt_fields="name,metric",
    )
    assert [(g["gid"], g["name"]) for g in found] == [(goal_gid, "More leads")]
    assert found[0]["metric"]["current_number_value"] == 18.0
    assert built.remapped == {"clients": 1, "tasks": 5, "goals": 1}


def test_a_second_run_recreates_the_same_gids_and_changes_nothing(agency):
    with AsanaSandbox(token=TOKEN, start=NOW) as first:
        built = build(first)
    projects = sorted(Client.objects.values_list("pk", "asana_project_gid"))
    # Meanwhile the internal task gets a client: it joins the sandbox with a new gid.
    joined = agency["tasks"]["internal"].pk
    Task.objects.filter(pk=joined).update(client=agency["alpha"])

    with AsanaSandbox(token=TOKEN, start=NOW) as again:
        rebuilt = build(again)  # no workspace gid configured: the same one anyway
        assert again.get(built.tasks[agency["tasks"]["open"].pk])["name"] == "Launch page"

    assert rebuilt.workspace_gid == built.workspace_gid
    assert rebuilt.projects == built.projects and rebuilt.goals == built.goals
    assert {pk: g for pk, g in rebuilt.tasks.items() if pk != joined} == built.tasks
    assert int(rebuilt.tasks[joined]) > max(int(g) for g in built.tasks.values())
    assert rebuilt.remapped == {"clients": 0, "tasks": 1, "goals": 0}
    assert sorted(Client.objects.values_list("pk", "asana_project_gid")) == projects
    assert dict(Task.objects.exclude(asana_gid=None).values_list("pk", "asana_gid")) == (
        rebuilt.tasks
    )


def test_activity_edits_tasks_as_people_would_and_a_sync_sees_only_those(sandbox, api, agency):
    built = build(sandbox)
    people = DemoActivity(sandbox, seed=3)
    later = NOW + datetime.timedelta(minutes=10)

    lines = people.step(now=later)

    assert [line.split()[0] for line in lines] == ["moved", "completed", "commented"]
    changed = [
        task
        for project in built.projects.values()
        for task in api.call(
            asana.TasksApi(api.client).get_tasks,
            project=project,
            modified_since=iso(later),
            opt_fields="name",
        )
    ]
    subtasks = [g for g in sandbox.gids("task") if sandbox.get(g)["parent"]]
    edited_subtasks = [g for g in subtasks if sandbox.get(g)["modified_at"] == later]
    assert len(changed) + len(edited_subtasks) == 3
    stories = [
        s
        for g in sandbox.gids("task")
        for s in api.call(asana.StoriesApi(api.client).get_stories_for_task, g)
    ]
    assert {"due_date_changed", "marked_complete", "comment_added"} <= {
        s["resource_subtype"] for s in stories
    }


def run_command(monkeypatch, **options):
    monkeypatch.setattr(Command, "serve", lambda self, sandbox, activity, seed: None)
    out = io.StringIO()
    call_command("asana_sandbox", port=0, stdout=out, **options)
    return out.getvalue()


def test_the_command_prints_the_settings_to_use_with_the_fake_token(monkeypatch, settings, agency):
    settings.ASANA_ACCESS_TOKEN = ""
    settings.ASANA_WORKSPACE_GID = ""

    text = run_command(monkeypatch)

    alpha = Client.objects.get(pk=agency["alpha"].pk)
    assert "export ASANA_BASE_URL=http://127.0.0.1:" in text and "/api/1.0" in text
    assert "export ASANA_ACCESS_TOKEN=sandbox-token" in text and "fake" in text
    assert "export ASANA_WORKSPACE_GID=" in text
    assert alpha.asana_project_gid is not None and "2 projects" in text


def test_a_token_from_the_environment_is_never_printed(monkeypatch, settings, agency):
    settings.ASANA_ACCESS_TOKEN = "2/1234:a-real-looking-personal-access-token"
    settings.ASANA_WORKSPACE_GID = "1300000000000099"

    text = run_command(monkeypatch)

    assert settings.ASANA_ACCESS_TOKEN not in text and "not printed" in text
    assert "export ASANA_WORKSPACE_GID=1300000000000099" in text


def test_the_command_refuses_an_empty_database(monkeypatch):
    with pytest.raises(CommandError, match="seed_demo"):
        run_command(monkeypatch)
