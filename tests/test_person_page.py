"""The person page and its lists: tasks due and missed in the period, weekly goals,
postponements (status, by whom), tactics they own and training results; scoped, paged through
HTMX and on their own without JavaScript, in a fixed number of queries."""

import datetime
import re

import pytest

from godview.models import Role
from metrics.models import MetricRow
from metrics.services import refresh_current
from tests import factories
from tests.metrics_fixture import postpone
from workflows.models import Postponement, Tactic, TrainingModule, TrainingResult

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 3, 31)  # the quarter's period: 1 Jan .. 31 Mar 2026
PERIOD = "start=2026-01-01&end=2026-03-31"


def moment(day):
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    for module in ("clients.views", "workflows.views.lists", "metrics.views.pages"):
        monkeypatch.setattr(f"{module}.agency_today", lambda: TODAY)


@pytest.fixture
def agency():
    management = factories.department(name="Account management")
    design = factories.department(name="Design")
    alpha = factories.pod(name="Alpha", department=management)
    bravo = factories.pod(name="Bravo", department=management)
    am = factories.staff(pod=alpha, department=management, name="Alma Alpha", key="alma")
    bravo_am = factories.staff(pod=bravo, department=management, name="Bruno", key="bruno")
    designer = factories.staff(role=Role.DESIGNER, pod=alpha, department=design, name="Dee")
    acme = factories.client(pod=alpha, account_manager=am, name="Acme")
    factories.engagement(acme, D(2025, 1, 1))
    return {
        "management": management,
        "design": design,
        "am": am,
        "bravo_am": bravo_am,
        "designer": designer,
        "acme": acme,
        "director": factories.staff(role=Role.DIRECTOR, name="Dana Director"),
        "leader": factories.staff(role=Role.LEADERSHIP),
    }


def computed():
    refresh_current(today=TODAY)


def row(html: str, text: str) -> str:
    """The one table row (or timeline item) of html that contains text."""
    rows = [r for r in re.findall(r"<tr>.*?</tr>|<li>.*?</li>", html, re.S) if text in r]
    assert len(rows) == 1, f"{len(rows)} rows contain {text!r}"
    return rows[0]


def fragment(client, url, **headers):
    return client.get(url, headers={"HX-Request": "true", **headers})


# --- Access -------------------------------------------------------------------------------


LISTS = ("tasks", "weekly-goals", "postponements", "tactics")


def urls(key):
    return [f"/people/{key}/", *(f"/people/{key}/{name}/?{PERIOD}" for name in LISTS)]


@pytest.mark.parametrize("role", ["leader", "director", "am", "designer"])
def test_leadership_directors_and_the_pod_see_the_page_and_its_lists(client, agency, role):
    computed()
    client.force_login(agency[role].user)

    for url in urls("alma"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Alma Alpha" in response.text


def test_an_account_manager_gets_404_for_someone_of_another_pod(client, agency):
    computed()
    client.force_login(agency["am"].user)

    for url in urls("bruno"):
        assert client.get(url).status_code == 404, url
        assert fragment(client, url).status_code == 404, url


def test_anonymous_users_are_sent_to_login(client, agency):
    for url in urls("alma"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/login/?next=")


# --- Tasks due and missed -----------------------------------------------------------------


@pytest.fixture
def tasks(agency):
    acme, am = agency["acme"], agency["am"]

    def task(name, due, **fields):
        return factories.task(acme, name=name, due_on=due, assignee=am, **fields)

    fields = {"created_on": D(2025, 12, 1)}
    task("Report Jan", D(2026, 1, 15), completed_on=D(2026, 1, 14), **fields)
    task("Report Feb", D(2026, 2, 15), **fields)
    task("Late one", D(2026, 3, 2), completed_on=D(2026, 3, 9), **fields)
    task("Due today", TODAY, **fields)
    task("Last year", D(2025, 12, 15), **fields)
    task("Next month", D(2026, 4, 15), **fields)
    moved = task("Moved out", D(2026, 3, 20), **fields)
    postpone(moved, to=D(2026, 4, 10), approved_on=D(2026, 3, 15), approver=agency["director"])
    # approved after the period's end: on Mar 31 the task was still due on Mar 25
    late = task("Postponed too late", D(2026, 3, 25), **fields)
    postpone(late, to=D(2026, 4, 20), approved_on=D(2026, 4, 2), approver=agency["director"])
    factories.task(acme, name="Dee's task", due_on=D(2026, 2, 1), assignee=agency["designer"])
    return moved


def test_tasks_due_in_the_period_with_whether_each_was_missed(client, agency, tasks):
    client.force_login(agency["am"].user)

    text = fragment(client, f"/people/alma/tasks/?{PERIOD}").text

    assert "<html" not in text and text.lstrip().startswith('<section id="person-tasks"')
    assert "5 due · 3 missed" in text
    assert "Done on time" in row(text, "Report Jan")
    assert "Missed · still open" in row(text, "Report Feb")
    assert "Missed · done late" in row(text, "Late one")
    assert "Due today" in row(text, ">Due today<br>")
    too_late = row(text, "Postponed too late")
    assert "25 Mar 2026" in too_late and "Missed · still open" in too_late
    for outside in ("Last year", "Next month", "Moved out", "Dee&#x27;s task"):
        assert outside not in text
    missed = fragment(client, f"/people/alma/tasks/?{PERIOD}&show=missed").text
    assert "Report Feb" in missed and "Late one" in missed and "Report Jan" not in missed


def test_the_task_counts_are_the_metrics_own(client, agency, tasks):
    computed()
    client.force_login(agency["am"].user)
    run_values = MetricRow.objects.filter(
        run__kind="current", run__period="quarter", level="staff", key="alma"
    ).values_list("values", flat=True)
    figures = run_values.get()

    text = fragment(client, f"/people/alma/tasks/?{PERIOD}").text

    assert (figures["tasks_due"], figures["tasks_missed"]) == (5, 3)
    assert f"{figures['tasks_due']} due · {figures['tasks_missed']} missed" in text


def test_the_page_loads_its_lists_for_the_chosen_period(client, agency):
    computed()
    client.force_login(agency["am"].user)

    quarter = client.get("/people/alma/?tasks_page=2&tasks_show=missed").text
    week = client.get("/people/alma/?period=week").text

    expected = 'hx-get="/people/alma/tasks/?start=2026-01-01&amp;end=2026-03-31&amp;page=2'
    assert expected + '&amp;show=missed"' in quarter
    assert '<a href="/people/alma/tasks/?start=2026-01-01&amp;end=2026-03-31' in quarter
    for name in LISTS:
        assert f'hx-get="/people/alma/{name}/?start=2026-03-30&amp;end=2026-03-31' in week
    assert "<script>" not in quarter  # no inline scripts (CSP)


def test_paging_inside_the_page_keeps_its_period_in_the_address(client, agency):
    fill(agency, 25)
    client.force_login(agency["am"].user)

    response = fragment(
        client,
        f"/people/alma/tasks/?{PERIOD}&page=2",
        **{"HX-Current-URL": "http://testserver/people/alma/?period=quarter"},
    )

    assert response.headers["HX-Push-Url"] == "/people/alma/?period=quarter&tasks_page=2"
    link = f"/people/alma/tasks/?{PERIOD}&page=1".replace("&", "&amp;")
    assert f'href="{link}"' in response.text


# --- Postponements, tactics, training -----------------------------------------------------


def test_postponements_show_their_status_and_who_asked_and_decided(client, agency, tasks):
    am, director, acme = agency["am"], agency["director"], agency["acme"]
    report = factories.task(acme, name="Quarterly deck", due_on=D(2026, 3, 20), assignee=am)
    Postponement.objects.filter(task=tasks).update(
        requested_by=am, requested_at=moment(D(2026, 3, 14))
    )
    Postponement.objects.create(
        task=report,
        from_due_on=D(2026, 3, 20),
        to_due_on=D(2026, 3, 27),
        reason="Waiting for data",
        requested_by=am,
        requested_at=moment(D(2026, 3, 18)),
    )
    Postponement.objects.create(
        task=report,
        from_due_on=D(2026, 3, 20),
        to_due_on=D(2026, 4, 20),
        reason="Too busy",
        status="declined",
        requested_by=am,
        requested_at=moment(D(2026, 3, 1)),
        approved_by=director,
        approved_on=D(2026, 3, 2),
    )
    Postponement.objects.create(
        task=report,
        from_due_on=D(2025, 11, 1),
        to_due_on=D(2025, 11, 8),
        reason="Last year",
        requested_at=moment(D(2025, 10, 30)),
    )
    client.force_login(am.user)

    text = fragment(client, f"/people/alma/postponements/?{PERIOD}").text

    assert "1 approved · 1 declined · 1 waiting" in text
    approved = row(text, "Moved out")
    assert "Approved" in approved and "Dana Director" in approved and "15 Mar 2026" in approved
    assert "20 Mar → 10 Apr 2026" in approved and "+21 days" in approved
    assert "asked by Alma Alpha" in approved and "approved by Dana Director" in approved
    requested = row(text, "Waiting for data")
    assert "Requested" in requested and "waiting for a decision" in requested
    declined = row(text, "Too busy")
    assert "Declined" in declined and "declined by Dana Director · 2 Mar 2026" in declined
    assert "Last year" not in text


def test_tactics_they_own_that_ran_in_the_period(client, agency):
    am, acme = agency["am"], agency["acme"]
    for key, name, owner, started, ended, outcome in [
        ("t1", "Running test", am, D(2026, 2, 1), None, "running"),
        ("t2", "Won test", am, D(2026, 1, 5), D(2026, 3, 1), "win"),
        ("t3", "Old tactic", am, D(2025, 6, 1), D(2025, 9, 1), "loss"),
        ("t4", "Dee's tactic", agency["designer"], D(2026, 2, 1), None, "running"),
    ]:
        Tactic.objects.create(
            key=key,
            client=acme,
            owner=owner,
            name=name,
            started_on=started,
            ended_on=ended,
            outcome=outcome,
        )
    client.force_login(am.user)

    text = fragment(client, f"/people/alma/tactics/?{PERIOD}").text

    assert "Running" in row(text, "Running test") and "Acme" in row(text, "Running test")
    assert "Win" in row(text, "Won test")
    assert "Old tactic" not in text and "Dee&#x27;s tactic" not in text


def test_training_shows_the_latest_result_of_each_module_that_applies(client, agency):
    am, management, design = agency["am"], agency["management"], agency["design"]

    def module(name, *, required=True, department=None, pass_score=70):
        return TrainingModule.objects.create(
            key=name.lower().replace(" ", "-"),
            name=name,
            required=required,
            department=department,
            pass_score=pass_score,
        )

    def result(module, day, score):
        TrainingResult.objects.create(staff=am, module=module, completed_on=day, score=score)

    onboarding = module("Onboarding")
    result(onboarding, D(2026, 1, 10), 60)
    result(onboarding, D(2026, 2, 10), 85)
    ads = module("Google Ads", department=management, pass_score=80)
    result(ads, D(2026, 3, 1), 70)
    analytics = module("Analytics")
    result(analytics, D(2026, 4, 5), 95)  # after the period's end: not taken yet as of then
    module("Design basics", department=design)
    seo = module("SEO", required=False)
    result(seo, D(2026, 2, 1), 90)
    module("Copywriting", required=False)
    computed()
    client.force_login(am.user)

    text = client.get("/people/alma/").text

    passed = row(text, "Onboarding")
    assert "Passed" in passed and ">85<" in passed and "10 Feb 2026" in passed and ">2<" in passed
    assert "Below pass score" in row(text, "Google Ads")
    assert "Not taken" in row(text, "Analytics")
    assert "optional" in row(text, "SEO") and "Passed" in row(text, "SEO")
    assert "Design basics" not in text and "Copywriting" not in text


def test_weekly_goals_of_the_period_newest_first(client, agency):
    am, acme = agency["am"], agency["acme"]
    factories.weekly_goal(acme, am, D(2025, 12, 29), description="Before the period")
    factories.weekly_goal(acme, am, D(2026, 3, 2), description="Early March", status="met")
    factories.weekly_goal(acme, am, D(2026, 3, 16), description="Mid March", note="Half done")
    client.force_login(am.user)

    text = fragment(client, f"/people/alma/weekly-goals/?{PERIOD}").text

    assert "Before the period" not in text
    assert "Met" in row(text, "Early March")
    assert "Not closed out" in row(text, "Mid March") and "Half done" in row(text, "Mid March")
    assert text.index("Mid March") < text.index("Early March")
    assert "Acme" in row(text, "Mid March")


# --- Paging and query counts --------------------------------------------------------------


def fill(agency, count):
    """count tasks due in the period (each postponed once), weekly goals, postponements
    and tactics for Alma, and training results."""
    am, acme, director = agency["am"], agency["acme"], agency["director"]
    for n in range(count):
        task = factories.task(
            acme,
            name=f"Task {n:02d}",
            due_on=D(2026, 1, 1) + datetime.timedelta(days=n),
            assignee=am,
            created_on=D(2025, 12, 1),
        )
        postpone(
            task,
            to=task.first_due_on + datetime.timedelta(days=1),
            approved_on=D(2026, 1, 1),
            approver=director,
        )
        factories.weekly_goal(
            acme,
            am,
            D(2026, 1, 5) + datetime.timedelta(weeks=n % 12),
            description=f"Weekly {n:02d}",
        )
        Tactic.objects.create(
            key=f"tactic-{n}",
            client=acme,
            owner=am,
            name=f"Tactic {n:02d}",
            started_on=D(2026, 1, 1),
        )
        module = TrainingModule.objects.create(
            key=f"module-{n}", name=f"Module {n:02d}", pass_score=50
        )
        TrainingResult.objects.create(staff=am, module=module, completed_on=D(2026, 1, 2), score=60)


def test_page_two_of_tasks_comes_as_a_fragment_for_htmx_and_as_a_page_without(client, agency):
    fill(agency, 25)  # latest due first, 15 a page: page 2 holds tasks 09..00
    client.force_login(agency["am"].user)
    url = f"/people/alma/tasks/?{PERIOD}&page=2"

    htmx = fragment(client, url)
    page = client.get(url)

    assert "<html" not in htmx.text
    assert "Task 09" in htmx.text and "Task 00" in htmx.text and "Task 10" not in htmx.text
    assert "16–25 of 25" in htmx.text
    assert "<html" in page.text and "Task 09" in page.text and '<nav class="crumbs">' in page.text


def test_page_two_of_weekly_goals_comes_as_a_fragment_for_htmx(client, agency):
    fill(agency, 25)
    client.force_login(agency["am"].user)

    htmx = fragment(client, f"/people/alma/weekly-goals/?{PERIOD}&page=2")

    assert "<html" not in htmx.text and "11–20 of 25" in htmx.text
    assert 'hx-target="#person-weekly-goals"' in htmx.text


QUERIES = {
    "/people/alma/": 11,
    f"/people/alma/tasks/?{PERIOD}": 8,
    f"/people/alma/weekly-goals/?{PERIOD}": 6,
    f"/people/alma/postponements/?{PERIOD}": 8,
    f"/people/alma/tactics/?{PERIOD}": 6,
}


@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize("url", list(QUERIES))
def test_the_page_and_its_lists_run_the_same_queries_whatever_the_data(
    client, agency, django_assert_num_queries, size, url
):
    fill(agency, size)
    computed()
    client.force_login(agency["am"].user)
    client.get(url)  # settings rows and the like created on first use

    with django_assert_num_queries(QUERIES[url]):
        response = client.get(url) if url.endswith("/") else fragment(client, url)
    assert response.status_code == 200
