"""Postponements and tactics as people use them, in headless Chromium.

An account manager asks, from the client page's task list, to postpone a deadline (inline,
without leaving the page); a director logs in, finds the request in the queue (the badge in
the navigation says one waits) and approves it without a full reload: the committed due date
moves. An account manager closes a CRO test from the client page's tactics. Every page passes
axe-core's serious and critical rules, at laptop and phone width without sideways scrolling;
screenshots `postponements.png` and `tactic-close.png` (and their phone versions).
"""

import datetime
import re

import pytest

from godview.agency import agency_today
from godview.models import Role
from tests import factories
from tests.e2e.conftest import assert_accessible, assert_no_sideways_scroll, screenshot
from workflows.models import Postponement, Tactic, Task

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-demo-password"
PHONE = {"width": 390, "height": 844}
DAY = datetime.timedelta(days=1)
# No htmx request in flight and no swap settling (htmx marks both with these classes).
HTMX_QUIET = (
    "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
)


@pytest.fixture
def agency():
    today = agency_today()
    alpha, bravo = factories.pod(name="Pod Alpha"), factories.pod(name="Pod Bravo")
    am = factories.staff(pod=alpha, name="Ann Archer", email="ann@agency.test", password=PASSWORD)
    designer = factories.staff(role=Role.DESIGNER, pod=alpha, name="Dev Patel")
    bravo_am = factories.staff(pod=bravo, name="Bob Brown")
    director = factories.staff(
        role=Role.DIRECTOR, name="Dana Director", email="dana@agency.test", password=PASSWORD
    )
    acme = factories.client(pod=alpha, account_manager=am, name="Acme Widgets", key="acme")
    bolt = factories.client(pod=bravo, account_manager=bravo_am, name="Bolt Bikes", key="bolt")
    apex = factories.client(pod=alpha, account_manager=am, name="Apex Dental", key="apex")
    for client in (acme, bolt, apex):
        factories.engagement(client, datetime.date(2025, 1, 1), monthly_fee="2500")
    created = today - 20 * DAY
    launch = factories.task(
        acme,
        key="launch",
        name="Launch spring landing page",
        assignee=am,
        created_on=created,
        due_on=today + 2 * DAY,
    )
    factories.task(
        acme,
        name="Weekly report",
        assignee=am,
        created_on=created,
        due_on=today - 3 * DAY,
        completed_on=today - 4 * DAY,
    )
    factories.task(
        acme,
        name="Audit negative keywords",
        assignee=designer,
        created_on=created,
        due_on=today + 6 * DAY,
    )
    # The rest of the queue: two other requests waiting and a few recent decisions.
    waiting = [
        (bolt, bravo_am, "Rebuild checkout funnel", 1, 8, "Dev capacity went to the outage fix"),
        (apex, am, "Call tracking setup", 3, 5, "Waiting for the client's CallRail login"),
    ]
    for n, (client, person, name, due_in, days, reason) in enumerate(waiting):
        task = factories.task(
            client, name=name, assignee=person, created_on=created, due_on=today + due_in * DAY
        )
        Postponement.objects.create(
            task=task,
            from_due_on=task.committed_due_on,
            to_due_on=task.committed_due_on + days * DAY,
            reason=reason,
            requested_by=person,
            requested_at=datetime.datetime.now(datetime.UTC) - (n + 2) * DAY,
        )
    decided = [
        ("Q2 budget plan", "approved", "Fine: the client moved the kickoff", 2),
        ("Display banners refresh", "declined", "The sale starts that week; keep the date", 6),
    ]
    for name, status, note, ago in decided:
        task = factories.task(bolt, name=name, created_on=created, due_on=today + 9 * DAY)
        Postponement.objects.create(
            task=task,
            from_due_on=task.committed_due_on,
            to_due_on=task.committed_due_on + 7 * DAY,
            reason="Client asked for more time",
            requested_by=bravo_am,
            status=status,
            approved_by=director,
            approved_on=today - ago * DAY,
            decision_note=note,
        )
    Tactic.objects.create(
        key="ab-checkout",
        client=acme,
        owner=designer,
        kind="cro_test",
        name="One-page checkout A/B",
        started_on=today - 30 * DAY,
    )
    Tactic.objects.create(
        key="broad", client=acme, owner=am, name="Broad match trial", started_on=today - 14 * DAY
    )
    Tactic.objects.create(
        key="sitelinks",
        client=acme,
        owner=am,
        name="Sitelinks on brand",
        started_on=today - 60 * DAY,
        ended_on=today - 10 * DAY,
        outcome="win",
    )
    return {"launch": launch, "today": today}


def log_in(page, base_url, email):
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def log_out(page):
    page.click(".whoami button[type=submit]")
    page.wait_for_url("**/login/**")


def quiet(page):
    page.wait_for_function(HTMX_QUIET)


def mark_document(page):
    """Mark the document: the mark survives htmx swaps and is gone after a full reload."""
    page.evaluate("window.__not_reloaded = true")


def not_reloaded(page) -> bool:
    return page.evaluate("window.__not_reloaded === true")


def check(page, name):
    quiet(page)
    assert page.js_errors == [], page.js_errors
    assert_no_sideways_scroll(page)
    assert_accessible(page)
    screenshot(page, name)


def test_an_account_manager_asks_and_a_director_approves_from_the_queue(page, live_server, agency):
    base, today = live_server.url, agency["today"]
    new_date = today + 9 * DAY

    # The account manager, on the client page: Postpone… opens a form in the task's row.
    log_in(page, base, "ann@agency.test")
    assert page.locator("nav.mainnav >> text=Postponements").count() == 0
    page.goto(f"{base}/clients/acme/")
    row = page.locator("tbody#task-launch")
    row.locator("text=Postpone…").click()
    page.wait_for_selector("#postpone-launch-to_due_on")
    mark_document(page)
    page.fill("#postpone-launch-to_due_on", "")
    row.locator("button[type=submit]").click()  # no date: the field says so
    page.wait_for_selector("#postpone-launch-to_due_on_error")
    assert Postponement.objects.filter(task=agency["launch"]).count() == 0
    page.fill("#postpone-launch-to_due_on", new_date.isoformat())
    page.fill("#postpone-launch-reason", "The client's legal team reviews the copy until then")
    check(page, "postpone-inline")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("tbody#task-launch >> text=Postponement requested")
    quiet(page)
    assert not_reloaded(page)
    assert "Postpone…" not in row.inner_text()
    assert page.js_errors == []
    log_out(page)

    # The director: the navigation says three requests wait; approve this one in place.
    log_in(page, base, "dana@agency.test")
    nav = page.locator("nav.mainnav a[href='/postponements/']")
    assert nav.inner_text().replace("\n", " ") == "Postponements3 waiting"
    nav.click()
    page.wait_for_url(f"{base}/postponements/")
    postponement = Postponement.objects.get(task=agency["launch"])
    item = page.locator(f"#postponement-{postponement.pk}")
    assert "Launch spring landing page" in item.inner_text()
    assert "+7 days" in item.inner_text() and "Ann Archer" in item.inner_text()
    mark_document(page)
    item.locator("input[name=note]").fill("OK: legal review is outside our control")
    item.locator("button[value=approve]").click()
    page.wait_for_selector(f"#postponement-{postponement.pk}.is-decided")
    quiet(page)

    assert not_reloaded(page)  # decided in place, no full reload
    assert "Approved" in item.inner_text() and "by you" in item.inner_text()
    assert page.locator("#queue-waiting").inner_text() == "2"
    assert nav.inner_text().replace("\n", " ") == "Postponements2 waiting"
    launch = Task.objects.get(pk=agency["launch"].pk)
    postponement.refresh_from_db()
    assert launch.committed_due_on == new_date
    assert (postponement.approved_by.name, postponement.approved_on) == ("Dana Director", today)
    check(page, "postponements")

    page.set_viewport_size(PHONE)
    page.reload()
    check(page, "postponements-phone")


def test_an_account_manager_closes_a_cro_test_from_the_client_page(page, live_server, agency):
    base, today = live_server.url, agency["today"]
    log_in(page, base, "ann@agency.test")
    page.goto(f"{base}/clients/acme/")

    row = page.locator("tbody#tactic-ab-checkout")
    row.locator("text=Close…").click()
    page.wait_for_selector("#close-ab-checkout-outcome")
    mark_document(page)
    page.select_option("#close-ab-checkout-outcome", "win")
    page.fill("#close-ab-checkout-confidence", "97.5")
    page.fill("#close-ab-checkout-lift_pct", "12.4")
    check(page, "tactic-close")

    page.fill("#close-ab-checkout-confidence", "")
    row.locator("button[type=submit]").click()  # a CRO test needs its confidence
    page.wait_for_selector("#close-ab-checkout-confidence_error")
    assert Tactic.objects.get(key="ab-checkout").outcome == "running"
    page.fill("#close-ab-checkout-confidence", "97.5")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("tbody#tactic-ab-checkout >> text=Closed on")
    quiet(page)
    assert not_reloaded(page)
    assert "Close…" not in row.locator("tr").first.inner_text()
    closed = Tactic.objects.get(key="ab-checkout")
    assert (closed.outcome, str(closed.confidence), closed.ended_on) == ("win", "97.50", today)

    # Logging one: the form opens inside the tactics card, the card then lists it.
    page.click("text=+ Log a tactic or test")
    page.wait_for_selector("#tactic-new-name")
    page.fill("#tactic-new-name", "Competitor brand exclusions")
    page.select_option("#tactic-new-kind", "tactic")
    check(page, "tactic-new")
    page.locator("#tactic-new button[type=submit]").click()
    page.wait_for_selector("#client-tactics >> text=Logged “Competitor brand exclusions”")
    quiet(page)
    assert not_reloaded(page)
    assert page.js_errors == []

    page.set_viewport_size(PHONE)
    page.reload()
    quiet(page)
    page.locator("tbody#tactic-broad >> text=Close…").click()
    page.wait_for_selector("#close-broad-outcome")
    page.evaluate("document.querySelectorAll('.scroll').forEach(e => { e.scrollLeft = 0; })")
    check(page, "tactic-close-phone")


def test_without_javascript_the_actions_are_pages_that_lead_back(browser, live_server, agency):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    base, today = live_server.url, agency["today"]
    try:
        log_in(page, base, "ann@agency.test")
        page.goto(f"{base}/clients/acme/tasks/")
        page.locator("tbody#task-launch >> text=Postpone…").click()
        page.wait_for_url(re.compile(r"/tasks/launch/postpone/\?next="))
        page.fill("#postpone-launch-to_due_on", (today + 5 * DAY).isoformat())
        page.fill("#postpone-launch-reason", "Copy approval moved to next week")
        screenshot(page, "postpone-page")
        page.click("text=Ask to postpone")
        page.wait_for_url(re.compile(r"/clients/acme/tasks/\?"))
        assert "Asked to postpone “Launch spring landing page”" in page.inner_text(".messages")
        assert "Postponement requested" in page.inner_text("tbody#task-launch")

        page.goto(f"{base}/clients/acme/tactics/")
        page.locator("tbody#tactic-broad >> text=Close…").click()
        page.wait_for_url(re.compile(r"/tactics/broad/close/\?next="))
        page.select_option("#close-broad-outcome", "loss")
        page.click("text=Close it")
        page.wait_for_url(re.compile(r"/clients/acme/tactics/\?$"))
        assert "Closed “Broad match trial” as Loss." in page.inner_text(".messages")
        assert Tactic.objects.get(key="broad").outcome == "loss"
    finally:
        context.close()
