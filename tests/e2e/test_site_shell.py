"""Logging in and finding a client, as a person does it, in headless Chromium."""

import datetime

import pytest

from godview.models import Role
from tests import factories
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-demo-password"


@pytest.fixture
def agency():
    alpha, bravo = factories.pod(name="Pod Alpha"), factories.pod(name="Pod Bravo")
    am = factories.staff(pod=alpha, name="Ann Archer", email="ann@agency.test", password=PASSWORD)
    other_am = factories.staff(pod=bravo, name="Bob Brown")
    for n, name in enumerate(["Acme Widgets", "Apex Dental", "Atlas Legal"]):
        client = factories.client(pod=alpha, account_manager=am, name=name, key=f"a{n}")
        factories.engagement(client, datetime.date(2025, 1, 1), monthly_fee="2000")
    bravo_client = factories.client(pod=bravo, account_manager=other_am, name="Bolt Bikes")
    factories.engagement(bravo_client, datetime.date(2025, 1, 1))
    leader = factories.staff(role=Role.LEADERSHIP, email="lead@agency.test", password=PASSWORD)
    return {"am": am, "leader": leader, "bravo_client": bravo_client}


def log_in(page, base_url, email):
    page.goto(f"{base_url}/")
    assert "/login/" in page.url
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    page.click("nav.mainnav >> text=Clients")
    page.wait_for_url(f"{base_url}/clients/")


def test_account_manager_logs_in_and_sees_only_their_pod(page, live_server, agency):
    log_in(page, live_server.url, "ann@agency.test")

    rows = page.locator("#client-table tbody tr")
    assert rows.count() == 3
    assert "Bolt Bikes" not in page.content()
    assert "Ann Archer" in page.locator(".whoami").inner_text()
    screenshot(page, "home-account-manager")
    assert page.js_errors == []


def test_search_filters_the_table_in_place_and_keeps_the_url(page, live_server, agency):
    log_in(page, live_server.url, "lead@agency.test")
    assert page.locator("#client-table tbody tr").count() == 4

    page.fill("#client-search", "dental")
    page.wait_for_function("document.querySelectorAll('#client-table tbody tr').length === 1")

    assert page.locator("#client-table tbody tr").inner_text().startswith("Apex Dental")
    assert "q=dental" in page.url  # shareable: the filter lives in the query string
    page.reload()
    assert page.locator("#client-table tbody tr").count() == 1
    assert page.js_errors == []


def test_client_page_opens_from_the_list(page, live_server, agency):
    log_in(page, live_server.url, "ann@agency.test")

    page.click("text=Atlas Legal")

    assert page.locator("h1").inner_text() == "Atlas Legal"
    assert "2,000.00" in page.content()
    screenshot(page, "client-detail")


def test_wrong_password_is_refused_with_a_message(page, live_server, agency):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ann@agency.test")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")

    assert "/login/" in page.url
    assert "enter a correct" in page.locator("[role=alert]").inner_text().lower()


def test_godview_period_filter_and_sorting_update_the_url_and_numbers(page, live_server, agency):
    from metrics.services import refresh_current

    # A quiet client (no touchpoint since its engagement began) gives the table a row.
    refresh_current()
    log_in(page, live_server.url, "lead@agency.test")
    page.goto(f"{live_server.url}/")
    quarter_text = page.locator("p.muted").first.inner_text()

    page.click("nav.segmented >> text=This week")
    page.wait_for_url("**/?period=week")
    assert page.locator("nav.segmented a[aria-current=page]").inner_text() == "This week"
    assert page.locator("p.muted").first.inner_text() != quarter_text

    page.click("#at-risk th >> text=Client")
    page.wait_for_url("**sort=name")
    names = page.locator("#at-risk tbody tr td:first-child a").all_inner_texts()
    assert names == sorted(names)
    screenshot(page, "godview-leadership")
    assert page.js_errors == []
