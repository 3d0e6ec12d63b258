"""Tactics and CRO tests through the pages: logging one for a client (owner: the person
logging it, or for directors anyone of the client's pod) and closing it as win, loss or
inconclusive (a CRO test with its confidence), inline through htmx and on pages of their own
without JavaScript; field errors write nothing; other pods' clients answer 404."""

import datetime
import re
from decimal import Decimal

import pytest
from django.core.cache import cache

from godview.models import Role
from godview.services import METRICS_REFRESH_PENDING_KEY
from tests import factories
from workflows.models import Tactic

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 3, 9)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    for module in ("clients.views", "workflows.views.lists", "workflows.views.tactics"):
        monkeypatch.setattr(f"{module}.agency_today", lambda: TODAY)


@pytest.fixture
def agency():
    alpha, bravo = factories.pod(name="Alpha"), factories.pod(name="Bravo")
    am = factories.staff(pod=alpha, name="Alma Alpha")
    designer = factories.staff(role=Role.DESIGNER, pod=alpha, name="Dee Designer")
    bravo_am = factories.staff(pod=bravo, name="Bruno Bravo")
    acme = factories.client(pod=alpha, account_manager=am, name="Acme", key="acme")
    bolt = factories.client(pod=bravo, account_manager=bravo_am, name="Bolt", key="bolt")
    return {
        "am": am,
        "designer": designer,
        "bravo_am": bravo_am,
        "acme": acme,
        "bolt": bolt,
        "director": factories.staff(role=Role.DIRECTOR, name="Dana Director"),
        "tactic": tactic(acme, key="banner", name="New hero banner", owner=am),
        "test": tactic(acme, key="ab", name="Checkout A/B", kind="cro_test", owner=designer),
        "bolt_tactic": tactic(bolt, key="bolt-tactic", owner=bravo_am),
    }


def tactic(client, **fields):
    return Tactic.objects.create(
        client=client, **{"name": "Tactic", "started_on": D(2026, 2, 1), **fields}
    )


def fragment(client, url, data=None, **headers):
    headers = {"HX-Request": "true", **headers}
    if data is None:
        return client.get(url, headers=headers)
    return client.post(url, data, headers=headers)


def field_error(text: str, form: str, field: str) -> str:
    """The error list rendered above the field (empty when the field has none)."""
    found = re.search(rf'<ul class="errorlist" id="{form}-{field}_error">(.*?)</ul>', text, re.S)
    return found.group(1) if found else ""


START = {"name": "Sitelinks on brand", "kind": "tactic", "started_on": "2026-03-02"}


# --- Logging one ---------------------------------------------------------------------------


def test_the_list_offers_to_log_one_and_to_close_the_running_ones(client, agency):
    tactic(agency["acme"], key="done", name="Old test", outcome="win", ended_on=D(2026, 2, 20))
    client.force_login(agency["am"].user)

    text = fragment(client, "/clients/acme/tactics/").text

    assert 'href="/clients/acme/tactics/new/?next=/clients/acme/tactics/"' in text
    assert 'hx-get="/clients/acme/tactics/new/" hx-target="#tactic-new-slot"' in text
    rows = dict(re.findall(r'<tbody id="tactic-([\w-]+)">(.*?)</tbody>', text, re.S))
    assert 'hx-get="/tactics/banner/close/?row=client' in rows["banner"]
    assert 'href="/tactics/ab/close/?next=' in rows["ab"]
    assert "Close…" not in rows["done"]


def test_an_account_manager_logs_a_tactic_they_own(client, agency):
    client.force_login(agency["am"].user)

    form = client.get("/clients/acme/tactics/new/?next=/clients/acme/").text
    response = client.post("/clients/acme/tactics/new/?next=/clients/acme/", START)

    assert 'name="name"' in form and 'name="owner"' not in form  # they own what they log
    assert 'value="2026-03-09"' in form  # started today unless said otherwise
    assert response.status_code == 302 and response.url == "/clients/acme/"
    logged = Tactic.objects.get(name="Sitelinks on brand")
    assert (logged.client, logged.owner, logged.kind) == (agency["acme"], agency["am"], "tactic")
    assert (logged.started_on, logged.outcome) == (D(2026, 3, 2), "running")
    assert "Logged “Sitelinks on brand”" in client.get(response.url).text


def test_a_director_picks_the_owner_among_the_clients_pod(client, agency):
    client.force_login(agency["director"].user)

    form = client.get("/clients/acme/tactics/new/").text
    client.post("/clients/acme/tactics/new/", {**START, "owner": agency["designer"].pk})
    other_pod = client.post(
        "/clients/acme/tactics/new/", {**START, "name": "Elsewhere", "owner": agency["bravo_am"].pk}
    )

    options = re.findall(r"<option[^>]*>(.*?)</option>", form.split('name="owner"')[1])
    assert set(options) == {"Alma Alpha", "Dana Director", "Dee Designer"}
    assert f'value="{agency["director"].pk}" selected' in form  # themselves by default
    assert Tactic.objects.get(name="Sitelinks on brand").owner == agency["designer"]
    assert "Select a valid choice" in field_error(other_pod.text, "tactic-new", "owner")
    assert not Tactic.objects.filter(name="Elsewhere").exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**START, "name": "  "}, "name", "This field is required."),
        ({**START, "name": "x" * 301}, "name", "at most 300 characters"),
        ({**START, "kind": "hunch"}, "kind", "Select a valid choice"),
        ({**START, "started_on": ""}, "started_on", "This field is required."),
        ({**START, "started_on": "2026-03-10"}, "started_on", "The start date is in the future."),
    ],
)
def test_a_bad_tactic_names_the_field_and_writes_nothing(client, agency, data, field, message):
    client.force_login(agency["am"].user)
    before = Tactic.objects.count()

    page = client.post("/clients/acme/tactics/new/", data)
    inline = fragment(client, "/clients/acme/tactics/new/", data)

    for response in (page, inline):
        assert response.status_code == 200
        assert message in field_error(response.text, "tactic-new", field)
    assert "<html" in page.text and "<html" not in inline.text
    assert Tactic.objects.count() == before


def test_inline_the_form_opens_in_the_list_and_the_list_shows_what_was_logged(client, agency):
    client.force_login(agency["am"].user)

    opened = fragment(client, "/clients/acme/tactics/new/")
    logged = fragment(client, "/clients/acme/tactics/new/", START)

    assert opened.text.lstrip().startswith('<div class="inline-panel" id="tactic-new">')
    assert 'hx-post="/clients/acme/tactics/new/" hx-target="#tactic-new"' in opened.text
    assert logged.headers["HX-Retarget"] == "#client-tactics"
    assert logged.headers["HX-Reswap"] == "outerHTML"
    assert logged.text.lstrip().startswith('<section id="client-tactics"')
    assert "Logged “Sitelinks on brand” (Tactic, owned by Alma Alpha)" in logged.text
    assert '<tbody id="tactic-' in logged.text and "Sitelinks on brand" in logged.text


def test_a_tactic_logged_through_the_page_can_be_closed_from_the_list(client, agency):
    client.force_login(agency["am"].user)
    client.post("/clients/acme/tactics/new/", START)
    logged = Tactic.objects.get(name="Sitelinks on brand")

    text = fragment(client, "/clients/acme/tactics/").text

    assert logged.key and f'hx-get="/tactics/{logged.key}/close/?row=client' in text


def test_two_tactics_are_logged_one_after_the_other(client, agency):
    client.force_login(agency["am"].user)

    client.post("/clients/acme/tactics/new/", START)
    client.post("/clients/acme/tactics/new/", {**START, "name": "Brand exclusions"})

    assert Tactic.objects.filter(name__in=[START["name"], "Brand exclusions"]).count() == 2


def test_logging_requests_a_metrics_refresh(client, agency):
    cache.delete(METRICS_REFRESH_PENDING_KEY)
    client.force_login(agency["am"].user)

    client.post("/clients/acme/tactics/new/", START)

    assert cache.get(METRICS_REFRESH_PENDING_KEY)


# --- Closing one ---------------------------------------------------------------------------


def test_closing_a_tactic_as_a_win(client, agency):
    client.force_login(agency["am"].user)

    form = client.get("/tactics/banner/close/").text
    response = client.post(
        "/tactics/banner/close/?next=/clients/acme/",
        {"outcome": "win", "ended_on": "2026-03-06"},
    )

    assert 'name="outcome"' in form and 'name="confidence"' not in form  # a test's figure
    assert response.status_code == 302 and response.url == "/clients/acme/"
    closed = Tactic.objects.get(key="banner")
    assert (closed.outcome, closed.ended_on, closed.confidence) == ("win", D(2026, 3, 6), None)
    assert "Closed “New hero banner” as Win." in client.get(response.url).text


def test_a_cro_test_closes_with_its_confidence_and_lift(client, agency):
    client.force_login(agency["designer"].user)

    form = client.get("/tactics/ab/close/").text
    client.post(
        "/tactics/ab/close/",
        {"outcome": "loss", "ended_on": "2026-03-09", "confidence": "96.5", "lift_pct": "-4.2"},
    )

    assert 'name="confidence"' in form and 'name="lift_pct"' in form
    closed = Tactic.objects.get(key="ab")
    assert (closed.outcome, closed.confidence, closed.lift_pct) == (
        "loss",
        Decimal("96.5"),
        Decimal("-4.2"),
    )


@pytest.mark.parametrize(
    ("key", "data", "field", "message"),
    [
        ("ab", {"outcome": "win", "ended_on": "2026-03-06"}, "confidence", "needs its statistical"),
        (
            "ab",
            {"outcome": "win", "ended_on": "2026-03-06", "confidence": "101"},
            "confidence",
            "less than or equal to 100",
        ),
        ("banner", {"outcome": "running", "ended_on": "2026-03-06"}, "outcome", "valid choice"),
        ("banner", {"outcome": "win", "ended_on": ""}, "ended_on", "This field is required."),
        ("banner", {"outcome": "win", "ended_on": "2026-01-31"}, "ended_on", "on or after"),
        ("banner", {"outcome": "win", "ended_on": "2026-03-10"}, "ended_on", "in the future"),
    ],
)
def test_a_bad_close_names_the_field_and_writes_nothing(client, agency, key, data, field, message):
    client.force_login(agency["am"].user)

    page = client.post(f"/tactics/{key}/close/", data)
    inline = fragment(client, f"/tactics/{key}/close/?row=client", data)

    for response in (page, inline):
        assert response.status_code == 200
        assert message in field_error(response.text, f"close-{key}", field)
    assert "<html" in page.text and "<html" not in inline.text
    assert Tactic.objects.get(key=key).outcome == "running"


def test_a_closed_tactic_cannot_be_closed_again(client, agency):
    client.force_login(agency["am"].user)
    client.post("/tactics/banner/close/", {"outcome": "win", "ended_on": "2026-03-06"})

    page = client.get("/tactics/banner/close/").text
    again = client.post("/tactics/banner/close/", {"outcome": "loss", "ended_on": "2026-03-07"})

    assert "already closed as" in page and 'name="outcome"' not in page
    assert "already closed as Win" in again.text
    assert Tactic.objects.get(key="banner").outcome == "win"


def test_inline_the_row_opens_the_form_and_closing_updates_the_row(client, agency):
    client.force_login(agency["am"].user)
    url = "/tactics/banner/close/?row=client&next=/clients/acme/tactics/"

    opened = fragment(client, url)
    closed = fragment(client, url, {"outcome": "inconclusive", "ended_on": "2026-03-09"})
    done = fragment(client, url + "&cancel=1")

    assert (
        opened.text.startswith('<tbody id="tactic-banner">') and 'class="row-panel"' in opened.text
    )
    assert 'hx-target="#tactic-banner"' in opened.text
    assert "Inconclusive" in closed.text and "Close…" not in closed.text
    assert 'role="status"' in closed.text
    assert 'class="row-panel"' not in done.text and "9 Mar 2026" in done.text


def test_inline_on_a_person_list_the_row_is_the_persons(client, agency):
    client.force_login(agency["am"].user)

    text = fragment(client, "/tactics/banner/close/?row=person").text

    assert '<a href="/clients/acme/">Acme</a>' in text  # the client column of a person's list


# --- Scope --------------------------------------------------------------------------------


def test_another_pods_client_and_tactics_answer_404_and_nothing_is_written(client, agency):
    client.force_login(agency["am"].user)
    close = {"outcome": "win", "ended_on": "2026-03-06"}

    assert client.get("/clients/bolt/tactics/new/").status_code == 404
    assert client.post("/clients/bolt/tactics/new/", START).status_code == 404
    assert fragment(client, "/clients/bolt/tactics/new/", START).status_code == 404
    assert client.get("/tactics/bolt-tactic/close/").status_code == 404
    assert client.post("/tactics/bolt-tactic/close/", close).status_code == 404
    assert fragment(client, "/tactics/bolt-tactic/close/?row=client", close).status_code == 404
    assert not Tactic.objects.filter(name="Sitelinks on brand").exists()
    assert Tactic.objects.get(key="bolt-tactic").outcome == "running"


def test_anonymous_users_are_sent_to_login(client, agency):
    for url in ("/clients/acme/tactics/new/", "/tactics/banner/close/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/?next=")
