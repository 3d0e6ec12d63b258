"""The client list shows the clients the user may see, searchable, in a fixed number of queries."""

import datetime

import pytest

from godview.models import Role
from tests import factories

pytestmark = pytest.mark.django_db


def make_pod_with_clients(count, name):
    pod = factories.pod(name=name)
    am = factories.staff(pod=pod, name=f"{name} manager")
    clients = []
    for n in range(count):
        client = factories.client(pod=pod, account_manager=am, name=f"{name} client {n:02d}")
        factories.engagement(client, datetime.date(2025, 1, 1), monthly_fee="1500")
        clients.append(client)
    return pod, am, clients


def test_client_list_lists_only_visible_clients(client):
    _, am_a, clients_a = make_pod_with_clients(2, "Alpha")
    make_pod_with_clients(2, "Bravo")
    client.force_login(am_a.user)

    response = client.get("/clients/")

    assert response.status_code == 200
    assert "Alpha client 00" in response.text and "Alpha client 01" in response.text
    assert "Bravo client" not in response.text
    assert "2 clients" in response.text


def test_client_list_shows_former_clients_and_mrr(client):
    _, am, (active, former) = make_pod_with_clients(2, "Alpha")
    former.engagements.update(ended_on=datetime.date(2025, 6, 30))
    client.force_login(am.user)

    response = client.get("/clients/")

    assert "1 active" in response.text
    assert "1,500.00" in response.text
    assert "Former" in response.text


def test_search_returns_only_the_table_for_htmx(client):
    make_pod_with_clients(3, "Alpha")
    leader = factories.staff(role=Role.LEADERSHIP)
    client.force_login(leader.user)

    response = client.get("/clients/?q=client 02", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Alpha client 02" in response.text
    assert "Alpha client 01" not in response.text


@pytest.mark.parametrize("clients_per_pod", [2, 30])
def test_client_list_runs_a_fixed_number_of_queries(
    client, django_assert_max_num_queries, clients_per_pod
):
    make_pod_with_clients(clients_per_pod, "Alpha")
    make_pod_with_clients(clients_per_pod, "Bravo")
    leader = factories.staff(role=Role.LEADERSHIP)
    client.force_login(leader.user)

    with django_assert_max_num_queries(8):
        response = client.get("/clients/")
    assert response.status_code == 200


@pytest.mark.parametrize("goals", [1, 15])
def test_client_page_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries, goals):
    _, am, (acme,) = make_pod_with_clients(1, "Alpha")
    for _ in range(goals):
        factories.client_goal(acme)
        factories.touchpoint(acme, datetime.date(2026, 1, 5), staff=am)
    client.force_login(am.user)

    with django_assert_max_num_queries(9):
        response = client.get(f"/clients/{acme.key}/")
    assert response.status_code == 200
    assert response.text.count("Touchpoint") >= 1  # the touchpoints are on the page itself
    assert f"/clients/{acme.key}/goals/" in response.text  # goals load after the page
