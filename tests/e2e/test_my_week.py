"""My week as an account manager uses it, in headless Chromium: log in, land on the week,
set two goals with Enter, close last week's goal as missed with a note, log a call and see
days inactive drop to 0, all without the page reloading; at laptop and phone width, with no
console error, no serious accessibility fault and no sideways scroll."""

import datetime

import pytest

from godview.agency import agency_today
from tests import factories
from tests.e2e.conftest import assert_accessible, assert_no_sideways_scroll, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-demo-password"
PHONE = {"width": 390, "height": 844}
HTMX_QUIET = (
    "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
)


@pytest.fixture
def agency():
    today = agency_today()
    monday = today - datetime.timedelta(days=today.weekday())
    last_monday = monday - datetime.timedelta(weeks=1)
    pod = factories.pod(name="Pod Alpha")
    ann = factories.staff(pod=pod, name="Ann Archer", email="ann@agency.test", password=PASSWORD)
    bob = factories.staff(pod=pod, name="Bob Brown")
    clients = {}
    rows = [
        ("Acme Widgets", ann, 12),
        ("Apex Dental", ann, 3),
        ("Atlas Legal", ann, 15),
        ("Aurora Spa", ann, 6),
        ("Birch Bikes", bob, 2),
    ]
    for n, (name, manager, quiet) in enumerate(rows):
        client = factories.client(pod=pod, account_manager=manager, name=name, key=f"c{n}")
        factories.engagement(client, datetime.date(2025, 1, 1), monthly_fee="2000")
        factories.touchpoint(client, today - datetime.timedelta(days=quiet), channel="call")
        clients[name] = client
    acme, apex = clients["Acme Widgets"], clients["Apex Dental"]
    factories.client_goal(
        acme,
        title="Cut cost per lead to 40",
        metric="CPL",
        baseline=60,
        target=40,
        current=51,
        starts_on=today - datetime.timedelta(days=40),
        due_on=today + datetime.timedelta(days=50),
    )
    factories.client_goal(
        apex,
        title="200 booked consultations",
        metric="Bookings",
        baseline=90,
        target=200,
        current=150,
        starts_on=today - datetime.timedelta(days=30),
        due_on=today + datetime.timedelta(days=60),
    )
    last_week_goal = factories.weekly_goal(
        acme, ann, last_monday, description="Launch the remarketing campaign"
    )
    factories.weekly_goal(
        apex, ann, last_monday, description="Rewrite the ad copy", status="met", note="CTR +18%"
    )
    factories.weekly_goal(apex, ann, monday, description="Test a booking-form variant")
    factories.task(
        acme,
        name="Monthly report",
        created_on=today - datetime.timedelta(days=20),
        due_on=monday + datetime.timedelta(days=4),
        assignee=ann,
    )
    factories.task(
        clients["Atlas Legal"],
        name="Fix conversion tracking",
        created_on=today - datetime.timedelta(days=30),
        due_on=today - datetime.timedelta(days=3),
        assignee=ann,
    )
    return {"acme": acme, "last_week_goal": last_week_goal}


def test_an_account_manager_runs_their_week_without_a_reload(page, live_server, agency):
    acme, goal = agency["acme"], agency["last_week_goal"]
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ann@agency.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/my-week/")
    assert page.locator("h1").inner_text() == "My week"
    page.evaluate("window.__marker = 1")
    card = page.locator(f"#client-{acme.pk}")
    assert card.locator("[data-days-inactive]").get_attribute("data-days-inactive") == "12"

    # Two goals, each typed and sent with Enter; the field is ready for the next at once.
    adder = f"#add-goal-{acme.pk}"
    page.fill(adder, "Launch spring ads")
    page.press(adder, "Enter")
    card.locator(".week-block.shown .goal-text", has_text="Launch spring ads").wait_for()
    page.wait_for_function(f"document.activeElement.id === 'add-goal-{acme.pk}'")
    page.keyboard.type("Cut wasted spend on brand terms")
    page.keyboard.press("Enter")
    card.locator(".goal-text", has_text="Cut wasted spend on brand terms").wait_for()
    assert card.locator(".week-block.shown .goal-row").count() == 2

    # Last week's goal: a short note, then one click.
    row = page.locator(f"#goal-{goal.pk}")
    to_close = card.locator(".week-block.previous .to-close")
    assert to_close.is_visible()
    row.locator(f"#note-{goal.pk}").fill("Client paused the budget")
    row.locator("button[value=missed]").click()
    row.locator(".badge.bad", has_text="Missed").wait_for()
    assert row.locator(".note").inner_text() == "Client paused the budget"
    # Nothing left to close out for Acme: the hint goes (its own swap, after the row's).
    to_close.wait_for(state="hidden")

    # A call today, the default: one click.
    card.locator(f"#contact-{acme.pk} button[type=submit]").click()
    card.locator("[data-days-inactive='0']").wait_for()
    page.wait_for_function(HTMX_QUIET)

    assert page.evaluate("window.__marker") == 1  # never reloaded
    summary = page.locator("#week-summary .tile-value")
    assert summary.nth(0).inner_text().replace(" ", "") == "2/4"  # Acme and Apex have goals
    assert summary.nth(1).inner_text() == "0"  # nothing left to close out
    assert page.js_errors == []
    assert_no_sideways_scroll(page)
    assert_accessible(page)
    screenshot(page, "my-week")

    page.set_viewport_size(PHONE)
    page.reload()
    page.wait_for_function(HTMX_QUIET)
    assert_no_sideways_scroll(page)
    assert_accessible(page)
    screenshot(page, "my-week-phone")
    assert page.js_errors == []


def test_pace_loads_on_demand_and_the_weeks_move(page, live_server, agency):
    acme = agency["acme"]
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ann@agency.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/my-week/")

    page.locator(f"#client-{acme.pk} .pace summary").click()
    page.locator(f"#client-{acme.pk} .pace-body table").wait_for()
    assert "On track" in page.locator(f"#client-{acme.pk} .pace-body").inner_text()

    page.click(".week-nav >> text=Previous")
    page.wait_for_url("**/my-week/?week=*")
    page.wait_for_function(HTMX_QUIET)
    assert "Launch the remarketing campaign" in page.locator(".week-block.shown").first.inner_text()
    page.click(".week-nav >> text=This week")
    page.wait_for_function(HTMX_QUIET)
    assert page.locator(".week-nav a[aria-current=page]").inner_text() == "This week"
    assert page.js_errors == []
