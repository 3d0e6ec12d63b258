"""The god-view pages as people use them, in headless Chromium.

Leadership reads the god-view, changes the period, drills down (department, pod, person,
client, and from the at-risk table to a client) and comes back; an account manager sees the
agency's tiles and their own pod and nothing of another pod; every page passes axe-core's
serious and critical rules, at laptop width and (the pages people open on the go) at phone
width without the page scrolling sideways; the keyboard reaches the navigation and the
period filter with a visible focus. Each page is saved as a screenshot (see conftest).

Each test builds its own small demo agency (40 clients, two pods): the live server needs
committed rows, so the database is emptied after every test.
"""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model

from godview.agency import agency_today
from godview.models import Pod, Role, Staff
from tests import factories
from tests.e2e.conftest import assert_accessible, assert_no_sideways_scroll, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-demo-password"
LEADER = "leader@demo-agency.test"
ACCOUNT_MANAGER = "am@demo-agency.test"
PHONE = {"width": 390, "height": 844}
CHART = ".chart.js-plotly-plot svg.main-svg"  # what Plotly.newPlot draws into a .chart div
LOADED_WARNING = "section#client-warning"  # the client page's panel once htmx swapped it in
# No htmx request in flight and no swap settling (htmx marks both with these classes).
HTMX_QUIET = (
    "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
)


def build_agency(*, history: bool) -> None:
    """The demo agency with its three demo logins, today's figures and (with history) a
    daily snapshot every three weeks of the last four months, for the trend charts."""
    from integrations.demo import DEMO_LOGINS, seed_demo_agency
    from metrics.services import backfill, refresh_current

    today = agency_today()
    seed_demo_agency(clients=40, seed=1, today=today)
    for user in get_user_model().objects.filter(username__in=DEMO_LOGINS.values()):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    refresh_current(today=today)
    if history:
        day = datetime.timedelta(days=1)
        backfill(since=today - 120 * day, until=today - day, every_days=21)


def log_in(page, base_url, email):
    page.goto(f"{base_url}/")
    assert "/login/" in page.url
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def check(page, name, *, heading=None):
    """What every page must pass: its heading, no console error, axe, no sideways scroll;
    then its screenshot. (Django's admin pages name no icon, so after one the browser asks
    for /favicon.ico and logs its 404: not a fault of the page checked.)"""
    page.wait_for_function(HTMX_QUIET)  # the panels htmx loads after the page are in
    if heading is not None:
        assert page.locator("h1").inner_text() == heading
    errors = [error for error in page.js_errors if not error.endswith("/favicon.ico)")]
    assert errors == [], errors
    assert_no_sideways_scroll(page)
    assert_accessible(page)
    screenshot(page, name)


def open_client(page, link):
    """Click a client link; wait for the early-warning panel (htmx) and its chart."""
    name = link.inner_text()
    link.click()
    page.wait_for_url("**/clients/*/")
    assert_charts_drawn(page, LOADED_WARNING)
    assert page.locator("h1").first.inner_text() == name
    return name


def assert_charts_drawn(page, scope):
    """Every chart div of the scope holds the SVG Plotly drew."""
    page.wait_for_selector(f"{scope} {CHART}")
    charts = page.locator(f"{scope} .chart")
    drawn = page.locator(f"{scope} .chart.js-plotly-plot", has=page.locator("svg.main-svg"))
    assert charts.count() >= 1
    assert drawn.count() == charts.count()


def head_text(page):
    return page.locator(".page-head p.muted").first.inner_text()


def test_leadership_reads_the_godview_changes_period_and_drills_down(page, live_server):
    build_agency(history=True)
    base = live_server.url
    log_in(page, base, LEADER)

    assert_charts_drawn(page, "#charts")
    quarter_head, quarter_tiles = head_text(page), page.locator("#tiles").inner_text()
    assert quarter_head.startswith("The whole agency · This quarter")
    assert page.locator("#at-risk tbody tr").count() > 0
    assert page.locator("#pods tbody tr").count() == 2
    check(page, "godview-quarter", heading="God-view")

    page.click("nav.segmented >> text=This month")
    page.wait_for_url(f"{base}/?period=month")
    assert_charts_drawn(page, "#charts")
    assert page.locator("nav.segmented a[aria-current=page]").inner_text() == "This month"
    assert head_text(page).startswith("The whole agency · This month")
    assert page.locator("#tiles").inner_text() != quarter_tiles
    assert "last month" in page.locator("#tiles").inner_text()
    check(page, "godview-month", heading="God-view")

    # From the at-risk table to a client, and back to the god-view as it was.
    open_client(page, page.locator("#at-risk tbody tr td:first-child a").first)
    check(page, "client-from-at-risk")
    page.go_back()
    page.wait_for_url(f"{base}/?period=month")
    assert head_text(page).startswith("The whole agency · This month")

    # Down the tree: department, pod, person, client; the period follows along.
    department = page.locator("#pods tbody tr").first.locator(".muted a")
    department_name = department.inner_text()
    department.click()
    page.wait_for_url("**/departments/*/?period=month")
    assert page.locator("nav.segmented a[aria-current=page]").inner_text() == "This month"
    check(page, "department", heading=department_name)

    pod = page.locator("table tbody tr td:first-child a").first
    pod_name = pod.inner_text()
    pod.click()
    page.wait_for_url("**/pods/*/?period=month")
    check(page, "pod", heading=pod_name)

    people = page.locator("section.card", has=page.locator("h2", has_text="People"))
    manager = people.locator("tbody tr", has_text="Account manager").first.locator("a").first
    manager_name = manager.inner_text()
    manager.click()
    page.wait_for_url("**/people/*/?period=month")
    check(page, "person", heading=manager_name)
    person_url = page.url

    managed = page.locator("section.card", has=page.locator("h2", has_text="Clients managed"))
    open_client(page, managed.locator("tbody tr td:first-child a").first)
    check(page, "client")
    page.go_back()
    page.wait_for_url(person_url)
    assert page.locator("h1").inner_text() == manager_name

    # The crumb leads back to the god-view, the period kept.
    page.click(".crumbs >> text=God-view")
    page.wait_for_url(f"{base}/?period=month")

    # The pod filter narrows the page in place (htmx) and says so in the address.
    page.select_option("#filter-pod", label=pod_name)
    page.wait_for_url(re.compile(r"/\?period=month&.*pod=demo-pod-"))
    page.wait_for_function(
        "document.querySelectorAll('#pods tbody tr').length === 1",
    )
    assert head_text(page).startswith(f"{pod_name} · This month")
    assert_charts_drawn(page, "#charts")
    check(page, "godview-pod-filter", heading="God-view")


def test_every_page_at_laptop_and_phone_width(page, live_server):
    build_agency(history=False)
    base = live_server.url
    pod = Pod.objects.order_by("key").first()
    person = Staff.objects.get(email=ACCOUNT_MANAGER)
    pages = [
        ("/", "godview", "God-view"),
        (f"/departments/{pod.department.key}/", "department", pod.department.name),
        (f"/pods/{pod.key}/", "pod", pod.name),
        (f"/people/{person.key}/", "person", person.name),
        ("/clients/", "clients", "Clients"),
        ("/leaderboard/", "leaderboard", "Leaderboard"),
        ("/tactics/", "tactics", "Tactics and tests"),
        ("/training/", "training", "Training"),
        ("/glossary/", "glossary", "Glossary"),
    ]

    page.goto(f"{base}/login/")
    check(page, "login")
    log_in(page, base, LEADER)
    # The journey test saves these pages at laptop width with a history; this one checks
    # the rest at laptop width, then every page at phone width.
    for path, name, heading in pages[4:]:
        page.goto(f"{base}{path}")
        check(page, name, heading=heading)
    page.goto(f"{base}/admin/")
    check(page, "admin")

    page.set_viewport_size(PHONE)
    for path, name, heading in pages:
        page.goto(f"{base}{path}")
        if path == "/":
            assert_charts_drawn(page, "#charts")
        check(page, f"{name}-phone", heading=heading)
    page.goto(f"{base}/clients/")
    open_client(page, page.locator("#client-table tbody tr td:first-child a").first)
    check(page, "client-phone")


def test_account_manager_sees_agency_tiles_and_only_their_own_pod(page, live_server):
    build_agency(history=False)
    base = live_server.url
    own_pod = Staff.objects.get(email=ACCOUNT_MANAGER).pod
    other_pod = Pod.objects.exclude(pk=own_pod.pk).first()
    log_in(page, base, ACCOUNT_MANAGER)

    assert head_text(page).startswith("Agency figures, and your pod in detail")
    assert page.locator("#tiles .tile").count() >= 4
    assert page.locator("#pods tbody tr td:first-child a").all_inner_texts() == [own_pod.name]
    assert other_pod.name not in page.locator("#pods").inner_text()
    check(page, "godview-account-manager", heading="God-view")

    page.click(f"#pods >> text={own_pod.name}")
    page.wait_for_url(f"**/pods/{own_pod.key}/?period=quarter")
    check(page, "pod-account-manager", heading=own_pod.name)

    response = page.goto(f"{base}/pods/{other_pod.key}/")
    assert response.status == 404
    assert other_pod.name not in page.content()
    screenshot(page, "pod-of-another-pod-404")


def test_keyboard_reaches_navigation_and_period_filter_with_visible_focus(page, live_server):
    department = factories.department(name="Account management")
    for name in ("Pod Alpha", "Pod Bravo"):
        factories.pod(name=name, department=department)
    factories.staff(role=Role.LEADERSHIP, email="lead@agency.test", password=PASSWORD)
    log_in(page, live_server.url, "lead@agency.test")

    stops = []
    for _ in range(40):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        if stop is None:  # past the last control, focus leaves the page
            break
        stops.append(stop)
    labels = [stop["label"] for stop in stops]

    assert labels[0] == "Skip to content"
    assert stops[0]["visible"], "the skip link shows itself when focused"
    for label in ["God-view", "Clients", "Leaderboard", "Tactics", "Training", "Glossary"]:
        assert label in labels
    for label in ["This week", "This month", "This quarter", "Last quarter"]:
        assert label in labels
    assert "filter-department" in [stop["id"] for stop in stops]
    assert "filter-pod" in [stop["id"] for stop in stops]
    unmarked = [stop["label"] for stop in stops if not stop["ring"]]
    assert unmarked == [], f"focus is invisible on {unmarked}"

    page.locator("nav.segmented >> text=This month").focus()
    screenshot(page, "keyboard-focus-period")

    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")
    screenshot(page, "keyboard-skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.js_errors == []


# The focused element: its text, whether it can be seen and whether its focus is marked
# (an outline, or a box shadow as some controls use).
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  return {
    label: (el.innerText || el.getAttribute("aria-label") || "").trim(),
    id: el.id,
    visible: box.width > 1 && box.height > 1 && box.bottom > 0 && box.top < innerHeight,
    ring: el.matches(":focus-visible") && (outline || style.boxShadow !== "none"),
  };
}"""
