"""The sync status page: leadership and admins see whether Asana is connected, each client
project's last success, last run and last error, what is left to map and the latest runs;
anyone else gets 404. A fixed number of queries whatever the number of projects."""

import datetime
import itertools

import pytest
from django.utils import timezone

from godview.models import Role
from integrations.models import (
    AsanaProject,
    AsanaUser,
    ConnectionStatus,
    SyncRun,
    SyncSource,
    SyncStatus,
)
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/sync/"
_gids = itertools.count(1_300_000_000_000)


@pytest.fixture(autouse=True)
def _asana_settings(settings):
    settings.ASANA_ACCESS_TOKEN = "0/secret-token-never-shown"
    settings.ASANA_WORKSPACE_GID = "1000"


@pytest.fixture
def leader_client(client):
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)
    return client


def project(name="Website", **fields) -> AsanaProject:
    return AsanaProject.objects.create(
        **{
            "gid": str(next(_gids)),
            "name": name,
            "workspace_gid": "1000",
            "seen_at": timezone.now(),
            **fields,
        }
    )


def run(scope="", minutes_ago=0, **fields) -> SyncRun:
    finished = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    return SyncRun.objects.create(
        **{
            "source": SyncSource.ASANA,
            "scope": scope,
            "started_at": finished - datetime.timedelta(seconds=42),
            "finished_at": finished,
            "status": SyncStatus.SUCCEEDED,
            **fields,
        }
    )


def mapped_project(client_name: str, **fields) -> AsanaProject:
    synced = project(f"{client_name} site", **fields)
    factories.client(name=client_name, asana_project_gid=synced.gid)
    return synced


def test_a_project_shows_its_last_run_and_last_error(leader_client):
    now = timezone.now()
    acme = mapped_project(
        "Acme",
        last_success_at=now - datetime.timedelta(hours=2),
        last_error="Asana answered 503 three times",
        last_error_at=now - datetime.timedelta(minutes=5),
    )
    run(acme.gid, minutes_ago=30, api_calls=99, stats={"inserted": 1})
    run(
        acme.gid,
        minutes_ago=5,
        status=SyncStatus.FAILED,
        api_calls=12,
        stats={"inserted": 4, "updated": 3, "deleted": 2},
        error="Asana answered 503 three times",
    )

    response = leader_client.get(URL)

    assert response.status_code == 200
    [row] = response.context["projects"]
    assert (row.client.name, row.last_run.api_calls, row.failing) == ("Acme", 12, True)
    assert row.rows == {"inserted": 4, "updated": 3, "deleted": 2}
    page = response.text
    assert "Acme site" in page
    assert "Asana answered 503 three times" in page
    assert "1 failing since its last success" in page
    assert "0/secret-token-never-shown" not in page


def test_a_broken_connection_shows_its_reason_and_since_when(leader_client):
    broken_at = datetime.datetime(2026, 3, 30, 9, 15, tzinfo=datetime.UTC)
    ConnectionStatus.objects.create(
        source=SyncSource.ASANA,
        broken_at=broken_at,
        reason="Asana refused the token (401): it was revoked or expired.",
    )

    response = leader_client.get(URL)

    assert "Broken" in response.text
    assert "since 30 Mar 2026" in response.text
    assert "Asana refused the token (401): it was revoked or expired." in response.text


def test_a_working_and_an_unconfigured_connection(leader_client, settings):
    assert "Working" in leader_client.get(URL).text

    settings.ASANA_ACCESS_TOKEN = ""
    response = leader_client.get(URL)
    assert "Not configured" in response.text
    assert "ASANA_ACCESS_TOKEN" in response.text


def test_unmapped_projects_and_users_are_counted(client, superuser):
    mapped_project("Acme")
    project("Nobody's")
    project("Old", archived=True)
    project("Gone", gone_at=timezone.now())
    AsanaUser.objects.create(gid="9", name="Stray", seen_at=timezone.now())
    AsanaUser.objects.create(
        gid="10", name="Known", seen_at=timezone.now(), staff=factories.staff()
    )
    client.force_login(superuser)

    response = client.get(URL)

    assert response.context["unmapped_projects_count"] == 1
    assert response.context["unmatched_users_count"] == 1
    # Admins get links to map them.
    assert "/admin/integrations/asanaproject/?mapped=no" in response.text
    assert "/admin/integrations/asanauser/?matched=no" in response.text


def test_the_latest_runs_of_every_source_name_what_they_covered(leader_client):
    acme = mapped_project("Acme")
    for minutes in range(25):
        run(acme.gid, minutes_ago=minutes + 10)
    run("", minutes_ago=1, api_calls=4)  # the workspace directory
    SyncRun.objects.create(
        source=SyncSource.BUNDLE,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        status=SyncStatus.SUCCEEDED,
        stats={"created": {"clients.csv": 2, "staff.csv": 3}},
    )

    response = leader_client.get(URL)

    rows = response.context["runs"]
    assert len(rows) == 20
    assert [row.scope_label for row in rows[:3]] == ["", "Workspace", "Acme site"]
    assert rows[0].rows["inserted"] == 5  # the bundle's per-file counts, summed
    assert "Agency bundle" in response.text


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.DESIGNER])
def test_others_get_404(client, role):
    client.force_login(factories.staff(role=role, pod=factories.pod()).user)
    assert client.get(URL).status_code == 404


def test_directors_and_staff_users_see_it_and_the_nav_links_it(client, django_user_model):
    director = factories.staff(role=Role.DIRECTOR)
    client.force_login(director.user)
    assert client.get(URL).status_code == 200
    assert 'href="/sync/"' in client.get("/glossary/").text

    admin = django_user_model.objects.create_user(username="ops", is_staff=True)
    client.force_login(admin)
    assert client.get(URL).status_code == 200

    manager = factories.staff(role=Role.ACCOUNT_MANAGER, pod=factories.pod())
    client.force_login(manager.user)
    assert 'href="/sync/"' not in client.get("/glossary/").text


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith("/login/?next=")


def build(projects: int) -> None:
    for n in range(projects):
        synced = mapped_project(f"Client {n}", last_error="boom", last_error_at=timezone.now())
        run(synced.gid, minutes_ago=n, stats={"inserted": n})
        run(synced.gid, minutes_ago=n + 60, status=SyncStatus.FAILED, error="boom")
        project(f"Unmapped {n}")
        AsanaUser.objects.create(gid=f"u{n}", name=f"User {n}", seen_at=timezone.now())


# The same count at 1 and at 12 projects: a query per project would break it.
PAGE_QUERIES = 12


@pytest.mark.parametrize("projects", [1, 12])
def test_queries_do_not_grow_with_projects(leader_client, django_assert_num_queries, projects):
    build(projects)
    with django_assert_num_queries(PAGE_QUERIES):
        response = leader_client.get(URL)
    assert len(response.context["projects"]) == projects
    assert len(response.context["runs"]) == min(2 * projects, 20)


def test_projects_needing_attention_come_first_and_the_rest_is_paged(leader_client):
    now = timezone.now()
    for n in range(30):  # all fine, synced n minutes ago
        mapped_project(f"Fine {n:02d}", last_success_at=now - datetime.timedelta(minutes=n))
    mapped_project(
        "Zeta failing",
        last_success_at=now - datetime.timedelta(hours=2),
        last_error="Asana answered 500",
        last_error_at=now - datetime.timedelta(minutes=1),
    )
    mapped_project("Never synced")

    first = leader_client.get(URL)
    names = [row.client.name for row in first.context["projects"]]
    assert names[:3] == ["Zeta failing", "Never synced", "Fine 29"]  # then the oldest success
    assert len(names) == 25
    assert 'href="?page=2#projects-title"' in first.content.decode()

    second = leader_client.get(URL, {"page": 2})
    rest = [row.client.name for row in second.context["projects"]]
    assert len(rest) == 7 and rest[-1] == "Fine 00"
    assert leader_client.get(URL, {"page": "nonsense"}).context["projects"].number == 1
