"""Access scoping (DOMAIN.md, Access): account managers see their own pod; others answer 404."""

import datetime

import pytest

from clients.selectors import clients_visible_to
from godview.access import pods_visible_to, staff_visible_to
from godview.models import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_pods():
    pod_a, pod_b = factories.pod(name="Pod A"), factories.pod(name="Pod B")
    am_a = factories.staff(pod=pod_a, password="a-long-password-1")
    am_b = factories.staff(pod=pod_b)
    client_a = factories.client(pod=pod_a, account_manager=am_a, name="Alpha Client")
    client_b = factories.client(pod=pod_b, account_manager=am_b, name="Bravo Client")
    for client in (client_a, client_b):
        factories.engagement(client, datetime.date(2025, 1, 1))
    return {
        "pod_a": pod_a,
        "pod_b": pod_b,
        "am_a": am_a,
        "am_b": am_b,
        "client_a": client_a,
        "client_b": client_b,
    }


def test_account_manager_sees_only_their_pod(two_pods):
    user = two_pods["am_a"].user
    assert list(clients_visible_to(user)) == [two_pods["client_a"]]
    assert list(pods_visible_to(user)) == [two_pods["pod_a"]]
    assert set(staff_visible_to(user)) == {two_pods["am_a"], two_pods["client_a"].account_manager}


@pytest.mark.parametrize("role", [Role.LEADERSHIP, Role.DIRECTOR])
def test_leadership_and_directors_see_everything(two_pods, role):
    boss = factories.staff(role=role)
    assert set(clients_visible_to(boss.user)) == {two_pods["client_a"], two_pods["client_b"]}


def test_designer_sees_their_pod_like_an_account_manager(two_pods):
    designer = factories.staff(role=Role.DESIGNER, pod=two_pods["pod_b"])
    assert list(clients_visible_to(designer.user)) == [two_pods["client_b"]]


def test_superuser_without_staff_sees_everything(two_pods, superuser):
    assert clients_visible_to(superuser).count() == 2


def test_user_without_staff_record_sees_nothing(two_pods, django_user_model):
    user = django_user_model.objects.create_user(username="someone")
    assert clients_visible_to(user).count() == 0


def test_inactive_staff_see_nothing(two_pods):
    leader = factories.staff(role=Role.LEADERSHIP, active=False)
    assert clients_visible_to(leader.user).count() == 0


def test_client_page_of_another_pod_answers_404(client, two_pods):
    client.force_login(two_pods["am_a"].user)

    own = client.get(f"/clients/{two_pods['client_a'].key}/")
    other = client.get(f"/clients/{two_pods['client_b'].key}/")

    assert own.status_code == 200
    assert "Alpha Client" in own.text
    assert other.status_code == 404
    assert "Bravo Client" not in other.text


def test_anonymous_users_are_sent_to_login(client, two_pods):
    for url in (
        "/",
        "/clients/",
        "/glossary/",
        "/leaderboard/",
        f"/clients/{two_pods['client_a'].key}/",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/login/?next=")
