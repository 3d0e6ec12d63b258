"""The pod meeting: clients past the SLA, then each client's last week's results, this week's
goals and overdue tasks, under a summary line; scoped to the user's pods, in fixed queries."""

import datetime
import re

import pytest

from godview.models import Role
from tests import factories
from tests.metrics_fixture import postpone

pytestmark = pytest.mark.django_db

D = datetime.date
SINCE = D(2025, 1, 1)
TODAY = D(2026, 3, 31)  # a Tuesday: this week started on Monday 30 Mar, last week on 23 Mar
THIS_WEEK, LAST_WEEK = D(2026, 3, 30), D(2026, 3, 23)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    for module in ("workflows.views.meetings", "metrics.views.pages", "clients.views"):
        monkeypatch.setattr(f"{module}.agency_today", lambda: TODAY)


def active_client(pod, am, name, *, since=SINCE, **fields):
    client = factories.client(pod=pod, account_manager=am, name=name, key=name.lower(), **fields)
    factories.engagement(client, since)
    return client


@pytest.fixture
def agency():
    alpha = factories.pod(name="Alpha", key="alpha")
    bravo = factories.pod(name="Bravo", key="bravo")
    alma = factories.staff(pod=alpha, name="Alma Alpha")
    bruno = factories.staff(pod=bravo, name="Bruno Bravo")
    director = factories.staff(role=Role.DIRECTOR, name="Dana Director")

    acme = active_client(alpha, alma, "Acme")
    birch = active_client(alpha, alma, "Birch")
    cedar = active_client(alpha, alma, "Cedar")
    active_client(alpha, alma, "Echo", since=D(2026, 3, 25))  # new: 6 days in service
    fjord = active_client(alpha, alma, "Fjord")
    gone = factories.client(pod=alpha, account_manager=alma, name="Gone", key="gone")
    factories.engagement(gone, D(2025, 1, 1), D(2025, 12, 31))  # no longer a client
    bolt = active_client(bravo, bruno, "Bolt")

    # Days inactive on 31 Mar: Acme 21, Birch 10 (exactly the standard: no breach), Cedar 11,
    # Echo 6 (since its start), Fjord 30 (a reply from the client does not count), Bolt 61.
    factories.touchpoint(acme, D(2026, 3, 10), channel="call")
    factories.touchpoint(birch, D(2026, 3, 21))
    factories.touchpoint(cedar, D(2026, 3, 20), channel="meeting")
    factories.touchpoint(fjord, D(2026, 3, 1), channel="call")
    factories.touchpoint(fjord, D(2026, 3, 29), direction="inbound")
    factories.touchpoint(bolt, D(2026, 1, 29))

    goal = factories.client_goal(acme, title="Cut CPA to 40")
    factories.weekly_goal(acme, alma, LAST_WEEK, description="Launch brand campaign", status="met")
    factories.weekly_goal(
        acme,
        alma,
        LAST_WEEK,
        description="Fix conversion tracking",
        status="missed",
        note="Client has not given us access to GTM",
    )
    factories.weekly_goal(acme, alma, LAST_WEEK, description="Draft March report")  # not closed
    factories.weekly_goal(
        acme, alma, THIS_WEEK, description="Raise the search budget", client_goal=goal
    )
    factories.weekly_goal(birch, alma, LAST_WEEK, description="Refresh ad copy", status="met")
    factories.weekly_goal(cedar, alma, D(2026, 3, 16), description="Two weeks ago", status="met")
    factories.weekly_goal(cedar, alma, THIS_WEEK, description="Ship the new landing page")
    factories.weekly_goal(bolt, bruno, LAST_WEEK, description="Bolt goal", status="missed")

    factories.task(acme, name="Audit the account", due_on=D(2026, 3, 20), assignee=alma)
    factories.task(acme, name="Due today", due_on=TODAY)
    factories.task(acme, name="Done late", due_on=D(2026, 3, 10), completed_on=D(2026, 3, 15))
    factories.task(acme, name="Early miss", due_on=D(2026, 3, 12), completed_on=D(2026, 3, 20))
    factories.task(
        acme,
        name="Deleted task",
        due_on=D(2026, 3, 5),
        deleted_at=datetime.datetime(2026, 3, 6, tzinfo=datetime.UTC),
    )
    moved = factories.task(acme, name="Postponed task", due_on=D(2026, 3, 20))
    postpone(moved, to=D(2026, 4, 5), approved_on=D(2026, 3, 19), approver=director)
    factories.task(cedar, name="Set up the new account", due_on=D(2026, 3, 28))
    factories.task(bolt, name="Bolt overdue task", due_on=D(2026, 3, 1))

    return {
        "alpha": alpha,
        "bravo": bravo,
        "alma": alma,
        "bruno": bruno,
        "director": director,
        "leader": factories.staff(role=Role.LEADERSHIP),
        "designer": factories.staff(role=Role.DESIGNER, pod=alpha),
    }


def section(html: str, dom_id: str) -> str:
    """The element with this id, up to the next client card or section (enough to assert
    on what one card or section says)."""
    start = html.index(f'id="{dom_id}"')
    ends = [html.find(marker, start + 1) for marker in ("<article", "<section")]
    ends = [end for end in ends if end != -1]
    return html[start : min(ends) if ends else len(html)]


def text_of(html: str) -> str:
    """Visible text with tags removed and white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


# --- Access -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["leader", "director", "alma", "designer"])
def test_leadership_directors_and_the_pods_own_people_see_the_meeting(client, agency, who):
    client.force_login(agency[who].user)

    response = client.get("/pods/alpha/meeting/")

    assert response.status_code == 200
    assert "Pod meeting" in response.text and "Acme" in response.text


def test_an_account_manager_gets_404_for_another_pods_meeting(client, agency):
    client.force_login(agency["bruno"].user)

    assert client.get("/pods/alpha/meeting/").status_code == 404
    assert client.get("/pods/alpha/meeting/", headers={"HX-Request": "true"}).status_code == 404
    assert client.get("/pods/bravo/meeting/").status_code == 200


def test_anonymous_users_are_sent_to_login(client, agency):
    response = client.get("/pods/alpha/meeting/")

    assert response.status_code == 302
    assert response.url.startswith("/login/?next=/pods/alpha/meeting/")


def test_the_pod_page_links_to_its_meeting_and_growth_review(client, agency):
    client.force_login(agency["alma"].user)

    text = client.get("/pods/alpha/").text

    assert 'href="/pods/alpha/meeting/"' in text
    assert 'href="/pods/alpha/growth-review/"' in text


# --- What the meeting shows ---------------------------------------------------------------


def test_the_summary_line_counts_the_pods_active_clients_only(client, agency):
    client.force_login(agency["alma"].user)

    summary = text_of(section(client.get("/pods/alpha/meeting/").text, "meeting").split("</ul>")[0])

    assert "3 of 5 clients past the SLA" in summary
    assert "2 of 4 goals met last week" in summary
    assert "2 overdue tasks" in summary
    assert "3 clients without goals this week" in summary


def test_clients_past_the_sla_come_first_most_days_first_in_words(client, agency):
    client.force_login(agency["alma"].user)

    html = client.get("/pods/alpha/meeting/").text
    sla = section(html, "meeting-sla-title")
    names = re.findall(r'<a href="#client-[a-z]+">(\w+)</a>', sla)

    assert names == ["Fjord", "Acme", "Cedar"]  # Birch at exactly 10 days is no breach
    words = text_of(sla)
    assert "30 days without contact: 20 days over the 10-day standard" in words
    assert "21 days without contact: 11 days over the 10-day standard" in words
    assert "11 days without contact: 1 day over the 10-day standard" in words
    assert html.index("meeting-sla-title") < html.index('id="client-acme"')


def test_each_client_shows_last_weeks_results_with_notes(client, agency):
    client.force_login(agency["alma"].user)

    html = client.get("/pods/alpha/meeting/").text
    acme = text_of(section(html, "client-acme"))
    last_week = acme.split("Last week's results")[1].split("This week's goals")[0]

    assert "Met Launch brand campaign" in last_week
    assert "Missed Fix conversion tracking" in last_week
    assert "Client has not given us access to GTM" in last_week
    assert "Not closed Draft March report" in last_week
    birch = text_of(section(html, "client-birch"))
    assert "Met Refresh ad copy" in birch
    cedar = text_of(section(html, "client-cedar"))
    assert "No goals were set last week." in cedar and "Two weeks ago" not in cedar
    assert "Bolt" not in html


def test_this_weeks_goals_or_a_flag_when_none_are_set(client, agency):
    client.force_login(agency["alma"].user)

    html = client.get("/pods/alpha/meeting/").text
    this_week = {
        key: text_of(section(html, f"client-{key}")).split("This week's goals")[1]
        for key in ("acme", "birch", "cedar", "echo", "fjord")
    }

    assert "Raise the search budget" in this_week["acme"]
    assert "for “Cut CPA to 40”" in this_week["acme"]
    assert "Ship the new landing page" in this_week["cedar"]
    for key in ("birch", "echo", "fjord"):
        assert "No goals set for this week." in this_week[key], key
        assert "No goals this week" in text_of(section(html, f"client-{key}"))
    for key in ("acme", "cedar"):
        assert "No goals set for this week." not in this_week[key], key


def test_a_client_with_nothing_to_raise_is_marked_all_clear(client, agency):
    birch = agency["alma"].managed_clients.get(key="birch")
    factories.weekly_goal(birch, agency["alma"], THIS_WEEK, description="Test new headlines")
    client.force_login(agency["alma"].user)

    html = client.get("/pods/alpha/meeting/").text

    # Birch: last week's goal met, this week's set, nothing overdue, 10 days (not past 10).
    assert "All clear" in section(html, "client-birch")
    # Acme missed a goal and has an overdue task; Cedar is past the SLA; Echo set no goals.
    for key in ("acme", "cedar", "echo", "fjord"):
        assert "All clear" not in section(html, f"client-{key}"), key


def test_overdue_tasks_with_committed_date_and_days_overdue(client, agency):
    client.force_login(agency["alma"].user)

    html = client.get("/pods/alpha/meeting/").text
    acme = text_of(section(html, "client-acme")).split("Overdue tasks")[1]
    cedar = text_of(section(html, "client-cedar")).split("Overdue tasks")[1]

    assert "Audit the account 11 days overdue · committed 20 Mar 2026 · Alma Alpha" in acme
    for not_overdue in ("Due today", "Done late", "Early miss", "Deleted task", "Postponed task"):
        assert not_overdue not in acme, not_overdue
    assert "Set up the new account 3 days overdue · committed 28 Mar 2026" in cedar
    assert "Nothing overdue." in text_of(section(html, "client-birch"))
    assert "Gone" not in html  # not active: not in the meeting


def test_a_past_week_is_shown_as_it_stood_on_its_monday(client, agency):
    client.force_login(agency["alma"].user)

    # Any day of the week picks that week: Wednesday 18 Mar is the week of Monday 16 Mar.
    html = client.get("/pods/alpha/meeting/?week=2026-03-18").text
    text = text_of(html)

    assert "week of 16 Mar – 22 Mar 2026" in text and "Mon 16 Mar" in text
    assert "Two weeks ago" in text_of(section(html, "client-cedar")).split("This week's goals")[1]
    # On 16 Mar Acme was heard from 6 days before and Fjord 15; Birch's and Cedar's contacts
    # came later, so they had not heard from us since they started; Early miss was overdue.
    sla = section(html, "meeting-sla-title")
    assert re.findall(r'<a href="#client-[a-z]+">(\w+)</a>', sla) == ["Birch", "Cedar", "Fjord"]
    assert "15 days without contact: 5 days over" in text_of(sla)
    acme = text_of(section(html, "client-acme")).split("Overdue tasks")[1]
    assert "Early miss 4 days overdue · committed 12 Mar 2026" in acme
    assert "Audit the account" not in acme  # due on 20 Mar: not yet
    assert 'href="?week=2026-03-23"' in html  # the next week is a link again


def test_the_week_navigator_stops_at_this_week(client, agency):
    client.force_login(agency["alma"].user)

    this_week = client.get("/pods/alpha/meeting/").text
    future = client.get("/pods/alpha/meeting/?week=2026-05-04").text
    nonsense = client.get("/pods/alpha/meeting/?week=soon").text

    assert 'href="?week=2026-03-23"' in this_week and "← Previous week" in this_week
    assert 'href="?week=2026-04-06"' not in this_week  # no next week yet
    assert 'href="?week=2026-03-30" hx-get="?week=2026-03-30"' in this_week
    for text in (this_week, future, nonsense):
        assert "week of 30 Mar – 5 Apr 2026" in text_of(text)


def test_htmx_gets_the_meeting_alone(client, agency):
    client.force_login(agency["alma"].user)

    response = client.get("/pods/alpha/meeting/?week=2026-03-23", headers={"HX-Request": "true"})

    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="meeting"')
    assert "week of 23 Mar – 29 Mar 2026" in text_of(response.text)
    assert "<script>" not in response.text
    this_week = client.get("/pods/alpha/meeting/", headers={"HX-Request": "true"}).text
    assert "Audit the account 11 days overdue" in text_of(this_week)


def test_past_five_overdue_tasks_the_rest_fold_away(client, agency):
    birch = agency["alma"].managed_clients.get(key="birch")
    for n in range(7):
        factories.task(birch, name=f"Birch task {n}", due_on=D(2026, 3, 10 + n))
    client.force_login(agency["alma"].user)

    birch_card = section(client.get("/pods/alpha/meeting/").text, "client-birch")
    shown, folded = birch_card.split("<details")

    assert "7 overdue" in text_of(shown)
    assert [f"Birch task {n}" in shown for n in range(7)] == [True] * 5 + [False] * 2
    assert "2 more overdue" in text_of(folded)
    assert "Birch task 5" in folded and "Birch task 6" in folded


def test_an_empty_pod_says_so(client, agency):
    empty = factories.pod(name="Empty", key="empty")
    client.force_login(agency["leader"].user)

    text = text_of(client.get(f"/pods/{empty.key}/meeting/").text)

    assert "0 of 0 clients past the SLA" in text
    assert "No client of this pod is active on 31 Mar 2026." in text


# --- Query counts -------------------------------------------------------------------------


def pod_of(size: int, n: int):
    pod = factories.pod(name=f"Sized {n}", key=f"sized-{n}")
    am = factories.staff(pod=pod)
    for i in range(size):
        client = active_client(pod, am, f"Sized{n}x{i:02d}")
        factories.touchpoint(client, D(2026, 3, 1 + i % 28), channel="call")
        factories.weekly_goal(client, am, LAST_WEEK, status="missed", note="why")
        factories.weekly_goal(client, am, THIS_WEEK)
        factories.task(client, due_on=D(2026, 3, 20), assignee=am)
        factories.task(client, due_on=D(2026, 3, 25))
    return pod


def test_the_meeting_runs_the_same_queries_at_two_sizes(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    leader = factories.staff(role=Role.LEADERSHIP).user
    counts = []
    for n, size in enumerate((2, 20)):
        pod = pod_of(size, n)
        client.force_login(leader)
        client.get(f"/pods/{pod.key}/meeting/")  # settings row created on first use
        sizes = []
        for headers in ({}, {"HX-Request": "true"}):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(f"/pods/{pod.key}/meeting/", headers=headers)
            assert response.status_code == 200
            assert response.text.count('class="overdue-days"') == 2 * size
            sizes.append(len(queries))
        counts.append(sizes)

    assert counts[0] == counts[1], counts
    # The meeting alone (htmx): session, user, staff (scope), pod, settings; clients,
    # engagements, last contacts, weekly goals, overdue tasks. The page adds the layout's.
    assert counts[0][1] == 10, counts
    assert counts[0][0] <= 12, counts
