"""The metrics API (GET /api/v1/metrics) and the personal API tokens it takes."""

import datetime
import hashlib
import json
import logging
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from godview import services
from godview.models import ApiToken, Role
from tests import factories

pytestmark = pytest.mark.django_db

D = datetime.date
URL = "/api/v1/metrics"
AS_OF = D(2026, 3, 31)
TODAY = D(2026, 4, 15)
TOP_LEVEL_KEYS = {"as_of", "start", "end", "agency", "departments", "pods", "staff", "clients"}


@pytest.fixture(autouse=True)
def _agency_today(monkeypatch):
    # The agency's today, fixed so that the dates of the test data are in the past.
    monkeypatch.setattr("metrics.api.agency_today", lambda: TODAY)


def build_pods(count: int, department=None) -> list[dict]:
    """count pods, each with two account managers and a designer, and per account manager an
    active client with a touchpoint, a missed task and a weekly goal."""
    department = department or factories.department()
    pods = []
    for _ in range(count):
        pod = factories.pod(department=department)
        managers = [factories.staff(pod=pod, department=department) for _ in range(2)]
        designer = factories.staff(role=Role.DESIGNER, pod=pod, department=department)
        clients = []
        for manager in managers:
            client = factories.client(pod=pod, account_manager=manager)
            factories.engagement(client, D(2025, 1, 1))
            factories.touchpoint(client, D(2026, 3, 20), staff=manager)
            factories.task(client, assignee=manager, due_on=D(2026, 3, 10))
            factories.weekly_goal(client, manager, D(2026, 3, 2), status="met")
            clients.append(client)
        pods.append({"pod": pod, "staff": [*managers, designer], "clients": clients})
    return pods


def bearer(user) -> dict:
    _, secret = services.issue_api_token(user=user, name="Looker")
    return {"Authorization": f"Bearer {secret}"}


def get(client, headers, **params):
    return client.get(URL, {"as_of": AS_OF.isoformat(), **params}, headers=headers)


def keys(result, name) -> set[str]:
    return {entry["key"] for entry in result[name]}


@pytest.fixture
def leader():
    return factories.staff(role=Role.LEADERSHIP)


# Authentication


def test_the_url_is_named():
    assert reverse("api-metrics") == URL


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Token abc",
        "Bearer not-a-token-we-issued",
        "Bearer " + "a" * 10_000,
    ],
)
def test_without_a_valid_token_it_answers_401(client, leader, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = get(client, headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == "Bearer"
    assert "Bearer" in response.json()["error"]


def test_the_secret_is_a_bearer_token_in_any_case_of_the_scheme(client, leader):
    _, secret = services.issue_api_token(user=leader.user, name="BI")
    assert get(client, {"Authorization": f"bearer {secret}"}).status_code == 200


def test_a_revoked_token_answers_401(client, leader):
    token, secret = services.issue_api_token(user=leader.user, name="BI")
    headers = {"Authorization": f"Bearer {secret}"}
    assert get(client, headers).status_code == 200

    assert services.revoke_api_token(token=token) is True
    assert services.revoke_api_token(token=token) is False  # already revoked

    assert get(client, headers).status_code == 401


def test_an_inactive_user_is_refused(client, leader):
    headers = bearer(leader.user)
    leader.user.is_active = False
    leader.user.save()
    assert get(client, headers).status_code == 401


def test_a_session_is_neither_needed_nor_enough(client, leader):
    client.force_login(leader.user)
    assert get(client, {}).status_code == 401

    client.logout()
    response = get(client, bearer(leader.user))
    assert response.status_code == 200
    assert not response.cookies  # no session or CSRF cookie handed out


def test_only_get_is_allowed(client, leader):
    headers = bearer(leader.user)
    for method in (client.post, client.put, client.delete, client.patch):
        response = method(URL, headers=headers)
        assert response.status_code == 405
        assert response["Allow"] == "GET"
        assert "use GET" in response.json()["error"]


# Tokens


def test_only_the_hash_of_the_secret_is_stored(leader):
    token, secret = services.issue_api_token(user=leader.user, name="Looker")
    assert len(secret) >= 43
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["prefix"] == secret[:8]
    assert not any(secret in str(value) for value in row.values())
    assert secret not in str(list(token.events.values()))  # the audit history


def test_last_used_at_is_updated_at_most_once_a_minute(client, leader):
    token, secret = services.issue_api_token(user=leader.user, name="BI")
    headers = {"Authorization": f"Bearer {secret}"}
    assert token.last_used_at is None

    get(client, headers)
    token.refresh_from_db()
    first_use = token.last_used_at
    assert timezone.now() - first_use < datetime.timedelta(seconds=10)

    get(client, headers)
    token.refresh_from_db()
    assert token.last_used_at == first_use

    two_minutes_ago = timezone.now() - datetime.timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=two_minutes_ago)
    get(client, headers)
    token.refresh_from_db()
    assert token.last_used_at > two_minutes_ago


# Tokens in the admin


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_the_admin_shows_the_secret_once(admin_client, leader, caplog):
    caplog.set_level(logging.DEBUG)
    add_url = reverse("admin:godview_apitoken_add")
    form = admin_client.get(add_url).context["adminform"].form
    assert list(form.fields) == ["owner", "name"]

    response = admin_client.post(add_url, {"owner": leader.user.pk, "name": "Looker"}, follow=True)

    assert response.status_code == 200
    token = ApiToken.objects.get()
    shown = [str(m) for m in response.context["messages"] if "not be shown again" in str(m)]
    assert len(shown) == 1
    (secret,) = set(re.findall(r"[A-Za-z0-9_-]{43,}", shown[0]))
    assert hashlib.sha256(secret.encode()).hexdigest() == token.token_hash
    assert (token.owner, token.name) == (leader.user, "Looker")
    assert get(admin_client, {"Authorization": f"Bearer {secret}"}).status_code == 200

    # Never again: not on the list, not on the token's page, not in the admin's history or logs.
    change_url = reverse("admin:godview_apitoken_change", args=[token.pk])
    for url in (reverse("admin:godview_apitoken_changelist"), change_url):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert secret not in page.content.decode()
        assert not [m for m in get_messages(page.wsgi_request) if secret in str(m)]
    assert secret not in str(list(LogEntry.objects.values()))
    assert secret not in caplog.text


def test_the_admin_revokes_selected_tokens(admin_client, leader):
    token, secret = services.issue_api_token(user=leader.user, name="BI")
    kept, _ = services.issue_api_token(user=leader.user, name="Other")
    response = admin_client.post(
        reverse("admin:godview_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert "Revoked 1 token." in [str(m) for m in response.context["messages"]]
    token.refresh_from_db()
    kept.refresh_from_db()
    assert token.revoked_at is not None
    assert kept.revoked_at is None
    assert get(admin_client, {"Authorization": f"Bearer {secret}"}).status_code == 401


# What each user sees


def test_a_valid_token_answers_the_export_shape(client, leader):
    build_pods(1)
    response = get(client, bearer(leader.user), start="2026-01-01")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    result = response.json()
    assert set(result) == TOP_LEVEL_KEYS
    assert (result["as_of"], result["start"], result["end"]) == (
        "2026-03-31",
        "2026-01-01",
        "2026-03-31",
    )
    assert result["agency"]["active_clients"] == 2


def test_dates_default_to_the_agency_today_and_its_quarter(client, leader):
    response = client.get(URL, headers=bearer(leader.user))
    assert response.status_code == 200
    assert (response.json()["as_of"], response.json()["start"]) == ("2026-04-15", "2026-04-01")


def test_leadership_sees_everything(client, leader):
    pods = build_pods(2)
    result = get(client, bearer(leader.user)).json()
    assert keys(result, "pods") == {p["pod"].key for p in pods}
    assert keys(result, "clients") == {c.key for p in pods for c in p["clients"]}
    assert keys(result, "staff") == {s.key for p in pods for s in p["staff"]} | {leader.key}
    assert len(result["departments"]) == 1


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.DESIGNER])
def test_pod_members_see_the_agency_and_only_their_pod(client, role):
    own, other = build_pods(2)
    person = next(s for s in own["staff"] if s.role == role)
    result = get(client, bearer(person.user)).json()
    assert set(result) == TOP_LEVEL_KEYS
    assert result["agency"]["active_clients"] == 4  # the agency overview is for every staff
    assert result["departments"] == []
    assert keys(result, "pods") == {own["pod"].key}
    assert keys(result, "staff") == {s.key for s in own["staff"]}
    assert keys(result, "clients") == {c.key for c in own["clients"]}
    text = json.dumps(result)
    hidden = [other["pod"], *other["staff"], *other["clients"]]
    assert not [obj.key for obj in hidden if f'"{obj.key}"' in text]


def test_a_user_without_staff_record_sees_only_the_dates(client, django_user_model):
    build_pods(1)
    user = django_user_model.objects.create_user(username="bi@agency.test")
    result = get(client, bearer(user)).json()
    assert result == {
        "as_of": "2026-03-31",
        "start": "2026-01-01",
        "end": "2026-03-31",
        "agency": {},
        "departments": [],
        "pods": [],
        "staff": [],
        "clients": [],
    }


def test_a_superuser_sees_everything(client, superuser):
    pods = build_pods(2)
    result = get(client, bearer(superuser)).json()
    assert keys(result, "clients") == {c.key for p in pods for c in p["clients"]}
    assert len(result["departments"]) == 1


@pytest.mark.parametrize("level", ["agency", "departments", "pods", "staff", "clients"])
def test_level_answers_only_that_part(client, leader, level):
    build_pods(1)
    result = get(client, bearer(leader.user), level=level).json()
    assert set(result) == {"as_of", "start", "end", level}


def test_level_is_scoped_too(client):
    own, _ = build_pods(2)
    result = get(client, bearer(own["staff"][0].user), level="clients").json()
    assert keys(result, "clients") == {c.key for c in own["clients"]}


# Bad parameters

HOSTILE_DATES = [
    "",
    "yesterday",
    "2026-02-30",
    "2026-1-5",
    "20260105",
    "2026-W01-1",
    "２０２６-01-01",  # full-width digits
    "2026-01-01T00:00",
    "x" * 10_000,
    "2026-01-01' OR '1'='1",
    "2026-01-01; DROP TABLE godview_staff; --",
]


@pytest.mark.parametrize("value", HOSTILE_DATES)
@pytest.mark.parametrize("name", ["as_of", "start"])
def test_a_bad_date_answers_400_naming_the_parameter(client, leader, name, value):
    params = {"as_of": "2026-03-31", name: value}
    response = client.get(URL, params, headers=bearer(leader.user))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    message = response.json()["error"]
    assert message.startswith(f"{name}: ")
    assert "is not a date as YYYY-MM-DD" in message
    assert len(message) < 200


def test_the_message_quotes_the_bad_value(client, leader):
    response = client.get(URL, {"as_of": "2026-13-01"}, headers=bearer(leader.user))
    assert response.json() == {"error": "as_of: '2026-13-01' is not a date as YYYY-MM-DD"}


def test_start_after_as_of_answers_400(client, leader):
    response = get(client, bearer(leader.user), start="2026-04-01")
    assert response.status_code == 400
    assert response.json()["error"] == "start: 2026-04-01 is after as_of (2026-03-31)"


def test_as_of_in_the_future_answers_400(client, leader):
    response = get(client, bearer(leader.user), as_of="2026-04-16")
    assert response.status_code == 400
    assert response.json()["error"].startswith("as_of: 2026-04-16 is in the future")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"asof": "2026-03-31"}, "asof"),
        ({"format": "csv"}, "format"),
        ({"level": "teams"}, "level"),
        ({"level": ""}, "level"),
    ],
)
def test_unknown_parameters_and_levels_answer_400(client, leader, params, named):
    response = client.get(URL, params, headers=bearer(leader.user))
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{named}: ")


def test_a_repeated_parameter_answers_400(client, leader):
    response = client.get(f"{URL}?as_of=2026-03-31&as_of=2026-02-28", headers=bearer(leader.user))
    assert response.status_code == 400
    assert response.json()["error"] == "as_of: give it once"


# Queries


def api_queries(client, user) -> int:
    headers = bearer(user)
    with CaptureQueriesContext(connection) as queries:
        response = get(client, headers)
    assert response.status_code == 200
    return len(queries)


def test_queries_do_not_grow_with_the_agency(client, leader):
    department = factories.department()
    (small_pod,) = build_pods(1, department)
    manager = small_pod["staff"][0]
    small = {"leader": api_queries(client, leader.user), "am": api_queries(client, manager.user)}

    build_pods(2, department)  # three times the pods, people and clients
    large = {"leader": api_queries(client, leader.user), "am": api_queries(client, manager.user)}

    assert small == large
