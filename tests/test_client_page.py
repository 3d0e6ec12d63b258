"""The client page and its lists: goals with pace, tasks (committed vs current due date,
missed, unapproved changes, possible recreations), weekly goals, touchpoints and tactics;
each list paged through HTMX and on its own without JavaScript, scoped, in fixed queries."""

import datetime
import re

import pytest

from godview.models import Role
from tests import factories
from tests.metrics_fixture import deadline_change, postpone, utc
from workflows.models import Postponement, Tactic, Task

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 3, 31)  # a Tuesday; this week started on Monday Mar 30
LISTS = ("goals", "tasks", "weekly-goals", "tactics", "touchpoints")


@pytest.fixture(autouse=True)
def today(monkeypatch):
    for module in ("clients.views", "workflows.views.lists", "metrics.views.pages"):
        monkeypatch.setattr(f"{module}.agency_today", lambda: TODAY)


@pytest.fixture
def agency():
    alpha, bravo = factories.pod(name="Alpha"), factories.pod(name="Bravo")
    alpha_am = factories.staff(pod=alpha, name="Alma Alpha")
    bravo_am = factories.staff(pod=bravo, name="Bruno Bravo")
    acme = factories.client(pod=alpha, account_manager=alpha_am, name="Acme", key="acme")
    bolt = factories.client(pod=bravo, account_manager=bravo_am, name="Bolt", key="bolt")
    factories.engagement(acme, D(2024, 1, 1), D(2024, 6, 30), monthly_fee="800")
    factories.engagement(acme, D(2025, 1, 1), D(2025, 6, 30), monthly_fee="1000")
    factories.engagement(acme, D(2025, 7, 1), monthly_fee="1500")
    factories.engagement(bolt, D(2025, 1, 1))
    return {
        "acme": acme,
        "bolt": bolt,
        "alpha_am": alpha_am,
        "bravo_am": bravo_am,
        "director": factories.staff(role=Role.DIRECTOR, name="Dana Director"),
        "leader": factories.staff(role=Role.LEADERSHIP),
    }


def row(html: str, text: str) -> str:
    """The one table row (or timeline item) of html that contains text."""
    rows = [r for r in re.findall(r"<tr>.*?</tr>|<li>.*?</li>", html, re.S) if text in r]
    assert len(rows) == 1, f"{len(rows)} rows contain {text!r}"
    return rows[0]


def fragment(client, url, **headers):
    return client.get(url, headers={"HX-Request": "true", **headers})


# --- Access -------------------------------------------------------------------------------


def urls(key):
    return [f"/clients/{key}/", *(f"/clients/{key}/{name}/" for name in LISTS)]


@pytest.mark.parametrize("role", ["leader", "director", "alpha_am"])
def test_leadership_directors_and_the_pod_see_the_page_and_every_list(client, agency, role):
    client.force_login(agency[role].user)

    for url in urls("acme"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Acme" in response.text


def test_an_account_manager_gets_404_for_another_pods_client_and_its_lists(client, agency):
    client.force_login(agency["alpha_am"].user)

    for url in urls("bolt"):
        assert client.get(url).status_code == 404, url
        assert fragment(client, url).status_code == 404, url


def test_anonymous_users_are_sent_to_login(client, agency):
    for url in urls("acme"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/login/?next=")


# --- The page -----------------------------------------------------------------------------


def test_the_page_loads_each_list_from_its_own_url_with_a_plain_link_too(client, agency):
    client.force_login(agency["alpha_am"].user)

    text = client.get("/clients/acme/").text

    for name in ("goals", "tasks", "weekly-goals", "tactics"):
        assert f'hx-get="/clients/acme/{name}/' in text
        assert f'<a href="/clients/acme/{name}/' in text
    assert 'id="client-touchpoints"' in text  # rendered in the page itself
    assert "<script>" not in text  # no inline scripts (CSP)


def test_the_page_passes_its_address_on_to_the_lists(client, agency):
    client.force_login(agency["alpha_am"].user)

    text = client.get("/clients/acme/?tasks_page=2&tasks_show=missed&tactics_page=3").text

    assert 'hx-get="/clients/acme/tasks/?page=2&amp;show=missed"' in text
    assert 'hx-get="/clients/acme/tactics/?page=3"' in text
    assert 'hx-get="/clients/acme/weekly-goals/?"' in text


def test_engagements_read_as_mrr_history(client, agency):
    client.force_login(agency["alpha_am"].user)

    text = client.get("/clients/acme/").text

    assert "▲ 500.00" in row(text, "1 Jul 2025")  # fee change 1,000 -> 1,500
    assert "returned" in row(text, "1 Jan 2025")  # after a gap since Jun 2024
    assert "started" in row(text, "1 Jan 2024")
    table = text[text.index("Engagements and MRR history") :]
    assert table.index("1 Jul 2025") < table.index("1 Jan 2025") < table.index("1 Jan 2024")
    assert "Active since 1 Jan 2025" in text  # a fee change does not restart the service


# --- Quarterly goals with pace ------------------------------------------------------------


def test_goals_show_their_pace_as_the_metric_defines_it(client, agency):
    acme = agency["acme"]
    # Jan 1 .. Apr 30: on Mar 31, 89 of 119 days have passed, so 74.8% progress is expected.
    for title, current, status in [
        ("Ahead", 80, "open"),
        ("A little behind", 60, "open"),
        ("Far behind", 20, "open"),
        ("No figure yet", None, "open"),
        ("Done already", 100, "met"),
    ]:
        factories.client_goal(
            acme,
            title=title,
            baseline=0,
            target=100,
            current=current,
            status=status,
            starts_on=D(2026, 1, 1),
            due_on=D(2026, 4, 30),
        )
    factories.client_goal(
        acme, title="Next quarter", starts_on=D(2026, 4, 1), due_on=D(2026, 6, 30)
    )
    client.force_login(agency["alpha_am"].user)

    text = fragment(client, "/clients/acme/goals/").text

    assert "<html" not in text
    assert "On track" in row(text, "Ahead")
    assert "At risk" in row(text, "A little behind")
    assert "Off track" in row(text, "Far behind")
    assert 'title="No pace: it needs a current value' in row(text, "No figure yet")
    assert 'title="Only open goals have a pace; this one is met"' in row(text, "Done already")
    assert 'title="Not started yet: it starts on 1 Apr 2026"' in row(text, "Next quarter")


# --- Tasks --------------------------------------------------------------------------------


@pytest.fixture
def tasks(agency):
    acme, am, director = agency["acme"], agency["alpha_am"], agency["director"]

    def task(name, due, **fields):
        return factories.task(acme, name=name, due_on=due, assignee=am, **fields)

    task("Send monthly report", D(2026, 3, 10))
    task("  send   MONTHLY report ", D(2026, 4, 30), created_on=D(2026, 3, 12))
    task("SEND monthly report", D(2026, 4, 30), created_on=D(2026, 3, 10))  # not after Mar 10
    task("Audit landing page", D(2026, 3, 5), completed_on=D(2026, 3, 4))
    task("Late task", D(2026, 3, 2), completed_on=D(2026, 3, 9))
    edited = task("Edited in Asana", D(2026, 3, 25))
    Task.objects.filter(pk=edited.pk).update(due_on=D(2026, 4, 15))
    deadline_change(edited, changed_at=utc(2026, 3, 20), to=D(2026, 4, 15))
    moved = task("Postponed properly", D(2026, 3, 20))
    deadline_change(moved, changed_at=utc(2026, 3, 14), to=D(2026, 4, 10))
    postpone(moved, to=D(2026, 4, 10), approved_on=D(2026, 3, 15), approver=director)
    task("Due today", TODAY)
    task("No date", None, first_due_on=None, committed_due_on=None)
    factories.task(agency["bolt"], name="Send monthly report", created_on=D(2026, 3, 12))


def test_tasks_show_committed_and_current_dates_and_what_went_wrong(client, agency, tasks):
    client.force_login(agency["alpha_am"].user)

    text = fragment(client, "/clients/acme/tasks/").text

    assert "<html" not in text and text.lstrip().startswith('<section id="client-tasks"')
    edited = row(text, "Edited in Asana")
    assert "25 Mar 2026" in edited and "15 Apr 2026" in edited  # committed vs current
    assert "Missed · still open" in edited
    assert "Date edited ×1, unapproved" in edited
    moved = row(text, "Postponed properly")
    assert "10 Apr 2026" in moved and "first 20 Mar · postponed" in moved
    assert "Open" in moved and "unapproved" not in moved  # the postponement covers the edit
    assert "Missed · still open" in row(text, "Send monthly report")
    recreated = row(text, "send   MONTHLY report")
    assert "Possible recreation" in recreated and "Missed" not in recreated
    assert text.count("Possible recreation</span>") == 1
    assert "Possible recreation" not in row(text, "SEND monthly report")
    assert "Done on time" in row(text, "Audit landing page")
    assert "Missed · done late" in row(text, "Late task")
    assert "Due today" in row(text, ">Due today<br>")
    assert "No due date" in row(text, "No date")
    assert "Bolt" not in text
    # Latest committed date first, undated last.
    assert text.index("send   MONTHLY") < text.index("Edited in Asana") < text.index("No date")


def test_the_task_filters_count_and_narrow(client, agency, tasks):
    client.force_login(agency["alpha_am"].user)

    everything = fragment(client, "/clients/acme/tasks/").text
    missed = fragment(client, "/clients/acme/tasks/?show=missed").text
    changed = fragment(client, "/clients/acme/tasks/?show=changed").text

    for label, count in [
        ("All", 9),
        ("Missed", 3),
        ("Date changed without approval", 1),
        ("Possible recreations", 1),
    ]:
        assert f'{label} <span class="tally">{count}</span>' in everything
    assert "Send monthly report" in missed and "Late task" in missed
    assert "Audit landing page" not in missed and "Due today" not in missed
    assert "Edited in Asana" in changed and "Postponed properly" not in changed
    assert re.search(r'<a href="[^"]*show=missed"[^>]*aria-current="true"', missed)
    assert not re.search(r'<a href="[^"]*show=all"[^>]*aria-current="true"', missed)


# --- Weekly goals, touchpoints, tactics ---------------------------------------------------


def test_weekly_goals_read_as_a_timeline_newest_week_first(client, agency):
    acme, am = agency["acme"], agency["alpha_am"]
    goal = factories.client_goal(acme, title="More leads")
    factories.weekly_goal(acme, am, D(2026, 3, 9), description="Old open goal")
    factories.weekly_goal(
        acme, am, D(2026, 3, 16), description="Launch ads", status="met", note="Live on Wed"
    )
    factories.weekly_goal(
        acme,
        am,
        D(2026, 3, 23),
        description="New landing page",
        status="missed",
        note="Client delayed copy",
        client_goal=goal,
    )
    factories.weekly_goal(acme, am, D(2026, 3, 30), description="This week's goal")
    client.force_login(am.user)

    text = fragment(client, "/clients/acme/weekly-goals/").text

    assert "Not closed out" in row(text, "Old open goal")
    assert "Met" in row(text, "Launch ads") and "Live on Wed" in row(text, "Launch ads")
    missed = row(text, "New landing page")
    assert "Missed" in missed and "Client delayed copy" in missed and "More leads" in missed
    assert "Open" in row(text, "This week&#x27;s goal")
    order = [f"{week} 2026" for week in ("30 Mar – 5 Apr", "23 Mar – 29 Mar", "16 Mar – 22 Mar")]
    order.append("9 Mar – 15 Mar 2026")
    assert [text.index(week) for week in order] == sorted(text.index(week) for week in order)


def test_touchpoints_say_which_do_not_count_as_contact(client, agency):
    acme = agency["acme"]
    factories.touchpoint(acme, D(2026, 3, 20), channel="email", direction="inbound")
    factories.touchpoint(acme, D(2026, 3, 21), channel="call", direction="inbound")
    factories.touchpoint(acme, D(2026, 3, 22), channel="email", summary="Weekly report")
    client.force_login(agency["alpha_am"].user)

    text = client.get("/clients/acme/").text

    assert "Not counted as contact" in row(text, "20 Mar 2026")
    assert "Not counted as contact" not in row(text, "21 Mar 2026")
    assert "Not counted as contact" not in row(text, "Weekly report")


def test_tactics_show_owner_outcome_and_confidence(client, agency):
    acme, am = agency["acme"], agency["alpha_am"]
    for key, name, outcome, ended, confidence in [
        ("t1", "Bigger buttons", "win", D(2026, 2, 1), 97.5),
        ("t2", "Broad match", "loss", D(2026, 2, 15), None),
        ("t3", "Video ads", "running", None, None),
    ]:
        Tactic.objects.create(
            key=key,
            client=acme,
            owner=am,
            name=name,
            kind="cro_test" if confidence else "tactic",
            started_on=D(2026, 1, 5),
            ended_on=ended,
            outcome=outcome,
            confidence=confidence,
            lift_pct=12.5 if confidence else None,
        )
    client.force_login(am.user)

    text = fragment(client, "/clients/acme/tactics/").text

    win = row(text, "Bigger buttons")
    assert "Win" in win and "CRO test" in win and "97.5%" in win and "12.5%" in win
    assert "Alma Alpha" in win
    assert "Loss" in row(text, "Broad match")
    assert "Only CRO tests have a confidence" in row(text, "Broad match")
    assert "Running" in row(text, "Video ads") and "– now" in row(text, "Video ads")


# --- Paging -------------------------------------------------------------------------------


def fill(acme, am, count):
    """count tasks (each postponed and edited), weekly goals, tactics, touchpoints, goals."""
    director = factories.staff(role=Role.DIRECTOR)
    for n in range(count):
        task = factories.task(
            acme, name=f"Task {n:02d}", due_on=D(2026, 1, 1) + datetime.timedelta(days=n)
        )
        Postponement.objects.create(
            task=task,
            from_due_on=task.first_due_on,
            to_due_on=task.first_due_on + datetime.timedelta(days=3),
            reason="Client asked",
            status="approved",
            approved_by=director,
            approved_on=D(2026, 1, 1),
            requested_by=am,
        )
        deadline_change(task, changed_at=utc(2026, 1, 2), to=D(2026, 6, 1))
        factories.weekly_goal(
            acme, am, D(2025, 1, 6) + datetime.timedelta(weeks=n), description=f"Weekly {n:02d}"
        )
        Tactic.objects.create(
            key=f"tactic-{acme.key}-{n}",
            client=acme,
            owner=am,
            name=f"Tactic {n:02d}",
            started_on=D(2025, 1, 1) + datetime.timedelta(days=n),
        )
        factories.touchpoint(
            acme, D(2025, 1, 1) + datetime.timedelta(days=n), staff=am, summary=f"Touch {n:02d}"
        )
        factories.client_goal(acme, title=f"Goal {n:02d}", current=12)


@pytest.mark.parametrize(
    "name, label, per_page",
    [("tasks", "Task", 15), ("weekly-goals", "Weekly", 10), ("tactics", "Tactic", 10)]
    + [("touchpoints", "Touch", 10)],
)
def test_page_two_comes_as_a_fragment_for_htmx_and_as_a_page_without(
    client, agency, name, label, per_page
):
    fill(agency["acme"], agency["alpha_am"], 25)  # newest first: item 24 leads page 1
    client.force_login(agency["alpha_am"].user)
    url = f"/clients/acme/{name}/?page=2"
    first, last = f"{label} {24 - per_page:02d}", f"{label} {max(0, 25 - 2 * per_page):02d}"
    before = f"{label} {25 - per_page:02d}"  # the last one of page 1

    htmx = fragment(client, url)
    page = client.get(url)

    assert htmx.status_code == page.status_code == 200
    assert "<html" not in htmx.text
    assert htmx.text.lstrip().startswith(f'<section id="client-{name}"')
    assert first in htmx.text and last in htmx.text and before not in htmx.text
    assert f"{per_page + 1}–{min(25, 2 * per_page)} of 25" in htmx.text
    assert "<html" in page.text and first in page.text and '<nav class="crumbs">' in page.text
    assert f'href="/clients/acme/{name}/?page=1"' in htmx.text  # a real link back
    assert f'hx-target="#client-{name}"' in htmx.text and 'hx-push-url="true"' in htmx.text


def test_paging_inside_the_page_keeps_the_page_address_in_step(client, agency):
    fill(agency["acme"], agency["alpha_am"], 25)
    client.force_login(agency["alpha_am"].user)
    on_page = {"HX-Current-URL": "http://testserver/clients/acme/?touchpoints_page=2"}

    paged = fragment(client, "/clients/acme/tasks/?page=2&show=all", **on_page)
    first_load = fragment(
        client,
        "/clients/acme/tasks/?page=2",
        **{"HX-Current-URL": "http://testserver/clients/acme/?tasks_page=2"},
    )
    on_its_own_page = fragment(
        client,
        "/clients/acme/tasks/?page=2",
        **{"HX-Current-URL": "http://testserver/clients/acme/tasks/"},
    )

    assert paged.headers["HX-Push-Url"] == "/clients/acme/?touchpoints_page=2&tasks_page=2"
    assert first_load.headers["HX-Push-Url"] == "false"  # already what the address says
    assert "HX-Push-Url" not in on_its_own_page.headers  # the link's own URL is pushed


def test_a_history_restore_gets_the_whole_page(client, agency):
    client.force_login(agency["alpha_am"].user)

    response = fragment(client, "/clients/acme/tasks/", **{"HX-History-Restore-Request": "true"})

    assert "<html" in response.text


# --- Query counts -------------------------------------------------------------------------

QUERIES = {
    "/clients/acme/": 7,
    "/clients/acme/goals/": 6,
    "/clients/acme/tasks/": 8,
    "/clients/acme/weekly-goals/": 6,
    "/clients/acme/tactics/": 6,
    "/clients/acme/touchpoints/": 6,
}


@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize("url", list(QUERIES))
def test_each_page_and_list_runs_the_same_queries_whatever_the_data(
    client, agency, django_assert_num_queries, size, url
):
    # session, user, staff record (scope), client; then per URL: the page's engagements,
    # today, touchpoints count and page; goals, today, pace margin; tasks: today, zone,
    # filter counts, count and page; a list: today (where it needs it), count and page.
    fill(agency["acme"], agency["alpha_am"], size)
    client.force_login(agency["alpha_am"].user)
    client.get(url)  # settings rows and the like created on first use

    with django_assert_num_queries(QUERIES[url]):
        response = fragment(client, url) if url.count("/") > 3 else client.get(url)
    assert response.status_code == 200
