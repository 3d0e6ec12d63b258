"""Postponements through the pages: asking from a task (inline in its list row through htmx,
or on a page of its own with a redirect back), and the directors' queue where requests are
approved or declined; field errors write nothing, other pods' tasks answer 404, and the
committed due date (and so the metrics) moves only on approval."""

import datetime
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from godview.models import AgencySettings, Role
from godview.services import METRICS_REFRESH_PENDING_KEY
from metrics.compute import compute_metrics
from tests import factories
from tests.metrics_fixture import postpone
from workflows.models import Postponement, Task

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 3, 9)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    for module in (
        "clients.views",
        "workflows.views.lists",
        "workflows.views.postponements",
        "metrics.views.pages",
    ):
        monkeypatch.setattr(f"{module}.agency_today", lambda: TODAY)


@pytest.fixture
def agency():
    alpha, bravo = factories.pod(name="Alpha"), factories.pod(name="Bravo")
    am = factories.staff(pod=alpha, name="Alma Alpha")
    bravo_am = factories.staff(pod=bravo, name="Bruno Bravo")
    acme = factories.client(pod=alpha, account_manager=am, name="Acme", key="acme")
    bolt = factories.client(pod=bravo, account_manager=bravo_am, name="Bolt", key="bolt")
    for client in (acme, bolt):
        factories.engagement(client, D(2025, 1, 1))
    return {
        "am": am,
        "bravo_am": bravo_am,
        "acme": acme,
        "bolt": bolt,
        "task": factories.task(
            acme, key="launch", name="Launch page", due_on=D(2026, 3, 10), assignee=am
        ),
        "bolt_task": factories.task(bolt, key="bolt-task", due_on=D(2026, 3, 10)),
        "director": factories.staff(role=Role.DIRECTOR, name="Dana Director"),
        "director2": factories.staff(role=Role.DIRECTOR, name="Dirk Director"),
        "leader": factories.staff(role=Role.LEADERSHIP, name="Lee Leader"),
    }


def fragment(client, url, data=None, **headers):
    headers = {"HX-Request": "true", **headers}
    if data is None:
        return client.get(url, headers=headers)
    return client.post(url, data, headers=headers)


def ask(task, by, *, to=None, reason="Client on holiday", **fields):
    return Postponement.objects.create(
        task=task,
        from_due_on=task.committed_due_on,
        to_due_on=to or D(2026, 3, 20),
        reason=reason,
        requested_by=by,
        **fields,
    )


def field_error(text: str, form: str, field: str) -> str:
    """The error list rendered above the field (empty when the field has none)."""
    found = re.search(rf'<ul class="errorlist" id="{form}-{field}_error">(.*?)</ul>', text, re.S)
    return found.group(1) if found else ""


def misses(as_of):
    """The agency's missed tasks as the metrics count them."""
    return compute_metrics(as_of=as_of, start=D(2026, 3, 1))["agency"]["tasks_missed"]


# --- Asking from a task: the page (no JavaScript) ------------------------------------------


def test_the_page_shows_the_task_its_dates_and_the_form(client, agency):
    ask(
        agency["task"],
        agency["am"],
        status="declined",
        approved_by=agency["director"],
        approved_on=D(2026, 3, 2),
        decision_note="Contractual date",
    )
    client.force_login(agency["am"].user)

    text = client.get("/tasks/launch/postpone/?next=/clients/acme/tasks/").text

    assert "<html" in text and "Launch page" in text and "Acme" in text
    assert "10 Mar 2026" in text  # the committed and current due date
    assert 'name="to_due_on"' in text and 'name="reason"' in text
    assert "Declined" in text and "Contractual date" in text  # earlier requests stay visible
    assert 'action="/tasks/launch/postpone/?next=%2Fclients%2Facme%2Ftasks%2F"' in text


def test_asking_records_a_request_and_goes_back(client, agency):
    client.force_login(agency["am"].user)

    response = client.post(
        "/tasks/launch/postpone/?next=/clients/acme/tasks/",
        {"to_due_on": "2026-03-20", "reason": "Client on holiday"},
    )

    assert response.status_code == 302 and response.url == "/clients/acme/tasks/"
    postponement = Postponement.objects.get()
    assert (postponement.status, postponement.requested_by) == ("requested", agency["am"])
    assert (postponement.from_due_on, postponement.to_due_on) == (D(2026, 3, 10), D(2026, 3, 20))
    agency["task"].refresh_from_db()
    assert agency["task"].committed_due_on == D(2026, 3, 10)  # nothing moves until approved
    page = client.get(response.url).text
    assert "Asked to postpone “Launch page” to 20 Mar 2026" in page


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", ""]
)
def test_next_stays_on_this_site(client, agency, next_url):
    client.force_login(agency["am"].user)

    response = client.post(
        f"/tasks/launch/postpone/?next={next_url}",
        {"to_due_on": "2026-03-20", "reason": "Client on holiday"},
    )

    assert response.url == "/clients/acme/tasks/"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"reason": "Busy"}, "to_due_on", "This field is required."),
        ({"to_due_on": "soon", "reason": "Busy"}, "to_due_on", "Enter a valid date."),
        ({"to_due_on": "2026-03-10", "reason": "Busy"}, "to_due_on", "after the committed due"),
        ({"to_due_on": "2026-03-20", "reason": "   "}, "reason", "This field is required."),
    ],
)
def test_a_bad_request_names_the_field_and_writes_nothing(client, agency, data, field, message):
    client.force_login(agency["am"].user)

    page = client.post("/tasks/launch/postpone/", data)
    inline = fragment(client, "/tasks/launch/postpone/?row=client&as_of=2026-03-09", data)

    for response in (page, inline):
        assert response.status_code == 200
        assert message in field_error(response.text, "postpone-launch", field)
        assert 'aria-invalid="true"' in response.text
    assert "<html" in page.text and "<html" not in inline.text
    assert not Postponement.objects.exists()


def test_a_date_in_the_past_is_refused(client, agency):
    overdue = factories.task(agency["acme"], key="overdue", due_on=D(2026, 3, 1))
    client.force_login(agency["am"].user)

    response = client.post(
        f"/tasks/{overdue.key}/postpone/", {"to_due_on": "2026-03-05", "reason": "Late"}
    )

    assert "The new date is in the past." in field_error(
        response.text, "postpone-overdue", "to_due_on"
    )
    assert not Postponement.objects.exists()


def test_a_task_done_or_already_waiting_shows_why_not_and_writes_nothing(client, agency):
    done = factories.task(
        agency["acme"], key="done", due_on=D(2026, 3, 10), completed_on=D(2026, 3, 8)
    )
    ask(agency["task"], agency["am"])
    client.force_login(agency["am"].user)

    assert "completed on 8 Mar 2026" in client.get("/tasks/done/postpone/").text
    assert "waits for a director" in client.get("/tasks/launch/postpone/").text
    for key, message in [("done", "already done"), ("launch", "already waiting")]:
        response = client.post(
            f"/tasks/{key}/postpone/", {"to_due_on": "2026-03-25", "reason": "B"}
        )
        assert response.status_code == 200
        assert '<div class="error" role="alert">' in response.text and message in response.text
    assert Postponement.objects.count() == 1
    assert done.postponements.count() == 0


def test_leadership_is_approved_at_once_and_the_deadline_moves(client, agency):
    client.force_login(agency["leader"].user)

    response = client.post(
        "/tasks/launch/postpone/", {"to_due_on": "2026-03-20", "reason": "Board moved it"}
    )

    postponement = Postponement.objects.get()
    assert postponement.status == "approved"
    assert (postponement.approved_by, postponement.approved_on) == (agency["leader"], TODAY)
    agency["task"].refresh_from_db()
    assert agency["task"].committed_due_on == D(2026, 3, 20)
    assert "approved automatically" in client.get(response.url).text


def test_leadership_waits_like_everyone_when_the_setting_is_off(client, agency):
    settings = AgencySettings.load()
    settings.leadership_postponements_auto_approved = False
    settings.save()
    client.force_login(agency["leader"].user)

    client.post("/tasks/launch/postpone/", {"to_due_on": "2026-03-20", "reason": "Board"})

    assert Postponement.objects.get().status == "requested"


def test_asking_requests_a_metrics_refresh(client, agency):
    cache.delete(METRICS_REFRESH_PENDING_KEY)
    client.force_login(agency["leader"].user)

    client.post("/tasks/launch/postpone/", {"to_due_on": "2026-03-20", "reason": "Board"})

    assert cache.get(METRICS_REFRESH_PENDING_KEY)


# --- Asking from a task: inline in the task list (htmx) ------------------------------------


def test_the_task_list_offers_postpone_only_where_it_can_be_asked(client, agency):
    acme = agency["acme"]
    factories.task(acme, key="done", name="Done task", completed_on=D(2026, 3, 5))
    factories.task(
        acme,
        key="undated",
        name="Undated task",
        due_on=None,
        first_due_on=None,
        committed_due_on=None,
    )
    waiting = factories.task(acme, key="waiting", name="Waiting task")
    ask(waiting, agency["am"])
    client.force_login(agency["am"].user)

    text = fragment(client, "/clients/acme/tasks/").text

    rows = dict(re.findall(r'<tbody id="task-([\w-]+)">(.*?)</tbody>', text, re.S))
    assert 'hx-get="/tasks/launch/postpone/?row=client&amp;as_of=2026-03-09' in rows["launch"]
    assert 'href="/tasks/launch/postpone/?next=' in rows["launch"]  # without JavaScript
    assert "Postpone…" not in rows["done"] and "Postpone…" not in rows["undated"]
    assert "Postpone…" not in rows["waiting"] and "Postponement requested" in rows["waiting"]


def test_inline_the_row_opens_the_form_and_asking_updates_the_row(client, agency):
    client.force_login(agency["am"].user)
    url = "/tasks/launch/postpone/?row=client&as_of=2026-03-09&next=/clients/acme/tasks/"

    opened = fragment(client, url)
    asked = fragment(client, url, {"to_due_on": "2026-03-20", "reason": "Client away"})
    closed = fragment(client, url + "&cancel=1")

    assert opened.text.startswith('<tbody id="task-launch">') and "<html" not in opened.text
    assert 'hx-post="/tasks/launch/postpone/?row=client' in opened.text
    assert 'hx-target="#task-launch"' in opened.text
    assert "Postponement requested" in asked.text and "Postpone…" not in asked.text
    assert 'role="status"' in asked.text and "10 Mar → 20 Mar 2026" in asked.text
    assert 'class="row-panel"' not in closed.text and "Postponement requested" in closed.text
    assert Postponement.objects.get().status == "requested"


def test_inline_on_a_person_list_the_row_is_the_persons(client, agency):
    client.force_login(agency["am"].user)

    text = fragment(client, "/tasks/launch/postpone/?row=person&as_of=2026-03-31").text

    assert '<a href="/clients/acme/">Acme</a>' in text  # the client column of a person's list


def test_without_a_row_htmx_gets_the_form_alone(client, agency):
    client.force_login(agency["am"].user)

    text = fragment(client, "/tasks/launch/postpone/").text

    assert text.startswith('<div class="inline-panel" id="postpone-launch">')
    assert 'hx-target="#postpone-launch"' in text


# --- Scope --------------------------------------------------------------------------------


def test_another_pods_task_answers_404_and_nothing_is_written(client, agency):
    client.force_login(agency["am"].user)
    data = {"to_due_on": "2026-03-20", "reason": "Nope"}

    assert client.get("/tasks/bolt-task/postpone/").status_code == 404
    assert client.post("/tasks/bolt-task/postpone/", data).status_code == 404
    assert fragment(client, "/tasks/bolt-task/postpone/?row=client", data).status_code == 404
    assert not Postponement.objects.exists()


def test_a_deleted_task_answers_404(client, agency):
    Task.objects.filter(pk=agency["task"].pk).update(deleted_at=datetime.datetime.now(datetime.UTC))
    client.force_login(agency["am"].user)

    assert client.get("/tasks/launch/postpone/").status_code == 404


def test_anonymous_users_are_sent_to_login(client, agency):
    for url in ("/tasks/launch/postpone/", "/postponements/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/?next=")


# --- The queue ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.DESIGNER, Role.SALES])
def test_only_directors_and_leadership_reach_the_queue(client, agency, role):
    postponement = ask(agency["task"], agency["am"])
    person = factories.staff(role=role, pod=agency["acme"].pod)
    client.force_login(person.user)

    assert client.get("/postponements/").status_code == 404
    decide = f"/postponements/{postponement.pk}/decide/"
    assert client.post(decide, {"decision": "approve"}).status_code == 404
    assert fragment(client, decide, {"decision": "approve"}).status_code == 404
    postponement.refresh_from_db()
    assert postponement.status == "requested"
    assert "Postponements" not in client.get("/clients/").text  # not in their navigation


def test_the_queue_lists_waiting_requests_oldest_first_with_what_to_decide_on(client, agency):
    task, am = agency["task"], agency["am"]
    postpone(task, to=D(2026, 3, 12), approved_on=D(2026, 3, 1), approver=agency["director"])
    older = factories.task(agency["bolt"], name="Bolt banner", due_on=D(2026, 3, 11))
    ask(
        older,
        agency["bravo_am"],
        to=D(2026, 3, 13),
        reason="Waiting for copy",
        requested_at=datetime.datetime(2026, 3, 2, 9, tzinfo=datetime.UTC),
    )
    ask(task, am, to=D(2026, 3, 19), reason="Client on holiday")
    client.force_login(agency["director"].user)

    text = client.get("/postponements/").text

    items = re.findall(r'<li class="queue-item" id="postponement-\d+">(.*?)</li>', text, re.S)
    assert len(items) == 2
    assert "Bolt banner" in items[0] and "Launch page" in items[1]  # oldest first
    newer = items[1]
    for expected in (
        "Acme",
        "Alpha",
        "Alma Alpha",
        "12 Mar 2026",
        "19 Mar 2026",
        "+7 days",
        "Client on holiday",
        "postponed 1× before",
    ):
        assert expected in newer, expected
    assert "first postponement" in items[0] and "Bravo" in items[0]
    assert newer.count('name="decision"') == 2  # Approve and Decline
    assert '<span class="tally" id="queue-waiting">2</span>' in text


def test_the_navigation_shows_the_queue_with_its_count_to_directors(client, agency):
    ask(agency["task"], agency["am"])
    client.force_login(agency["director"].user)

    text = client.get("/clients/").text

    link = re.search(r'<a href="/postponements/"[^>]*>(.*?)</a>', text, re.S).group(1)
    assert link.startswith('Postponements<span id="nav-postponements-count"')
    assert '>1<span class="visually-hidden"> waiting</span>' in link  # a number, not a colour


def test_approving_inline_moves_the_deadline_and_records_who_and_when(client, agency):
    postponement = ask(agency["task"], agency["am"])
    client.force_login(agency["director"].user)

    response = fragment(
        client, f"/postponements/{postponement.pk}/decide/", {"decision": "approve", "note": "OK"}
    )

    postponement.refresh_from_db()
    agency["task"].refresh_from_db()
    assert postponement.status == "approved"
    assert (postponement.approved_by, postponement.approved_on) == (agency["director"], TODAY)
    assert agency["task"].committed_due_on == D(2026, 3, 20)
    text = response.text
    assert text.lstrip().startswith(
        f'<li class="queue-item is-decided" id="postponement-{postponement.pk}">'
    )
    assert "Approved</span> by you · 9 Mar 2026" in text and "now <strong>20 Mar 2026" in text
    assert 'id="queue-waiting" hx-swap-oob="true">0</span>' in text  # the counts follow
    assert '<span id="nav-postponements-count" class="nav-count" hx-swap-oob="true"></span>' in text


def test_approving_without_javascript_goes_back_to_the_queue(client, agency):
    postponement = ask(agency["task"], agency["am"])
    client.force_login(agency["director"].user)

    response = client.post(f"/postponements/{postponement.pk}/decide/", {"decision": "approve"})

    assert response.status_code == 302 and response.url == "/postponements/"
    page = client.get(response.url).text
    assert "Approved: “Launch page” is now due 20 Mar 2026." in page
    assert "Nothing is waiting" in page


def test_declining_needs_a_note_and_writes_nothing_without_one(client, agency):
    postponement = ask(agency["task"], agency["am"])
    client.force_login(agency["director"].user)
    url = f"/postponements/{postponement.pk}/decide/"

    inline = fragment(client, url, {"decision": "decline", "note": "  "})
    page = client.post(url, {"decision": "decline", "note": ""})
    unknown = fragment(client, url, {"decision": "maybe"})

    form = f"decide-{postponement.pk}"
    assert "Say why it is declined." in field_error(inline.text, form, "note")
    assert page.status_code == 200 and "<html" in page.text
    assert "Say why it is declined." in field_error(page.text, form, "note")
    assert "Select a valid choice" in unknown.text
    postponement.refresh_from_db()
    assert (postponement.status, postponement.approved_by) == ("requested", None)


def test_a_declined_request_moves_nothing_and_shows_with_its_note(client, agency):
    postponement = ask(agency["task"], agency["am"])
    client.force_login(agency["director"].user)

    response = fragment(
        client,
        f"/postponements/{postponement.pk}/decide/",
        {"decision": "decline", "note": "The launch date is contractual"},
    )

    agency["task"].refresh_from_db()
    assert agency["task"].committed_due_on == D(2026, 3, 10)
    assert "Declined</span> by you" in response.text
    assert "stays <strong>10 Mar 2026" in response.text
    decided = client.get("/postponements/").text.split('id="postponement-decisions"')[1]
    assert "Declined" in decided and "The launch date is contractual" in decided
    assert "Dana Director" in decided
    client.force_login(agency["am"].user)  # the one who asked sees it declined on the task
    task_page = client.get("/tasks/launch/postpone/").text
    assert "Declined" in task_page and "The launch date is contractual" in task_page


def test_a_director_cannot_decide_their_own_request(client, agency):
    director = agency["director"]
    own = ask(agency["task"], director)
    client.force_login(director.user)

    text = client.get("/postponements/").text
    response = fragment(client, f"/postponements/{own.pk}/decide/", {"decision": "approve"})
    plain = client.post(f"/postponements/{own.pk}/decide/", {"decision": "approve"})

    item = re.search(rf'id="postponement-{own.pk}">(.*?)</li>', text, re.S).group(1)
    assert 'name="decision"' not in item and "Needs another director" in item
    assert "needs another person to decide" in response.text
    assert "needs another person to decide" in client.get(plain.url).text
    own.refresh_from_db()
    assert own.status == "requested"
    client.force_login(agency["director2"].user)
    fragment(client, f"/postponements/{own.pk}/decide/", {"decision": "approve"})
    own.refresh_from_db()
    assert (own.status, own.approved_by) == ("approved", agency["director2"])


def test_a_request_decided_meanwhile_says_so(client, agency):
    postponement = ask(agency["task"], agency["am"])
    client.force_login(agency["director2"].user)
    fragment(client, f"/postponements/{postponement.pk}/decide/", {"decision": "approve"})
    client.force_login(agency["director"].user)

    response = fragment(
        client, f"/postponements/{postponement.pk}/decide/", {"decision": "decline", "note": "No"}
    )

    assert "This postponement is already approved." in response.text
    assert "Approved</span> by Dirk Director" in response.text
    postponement.refresh_from_db()
    assert postponement.approved_by == agency["director2"]


def test_decisions_of_the_last_30_days_are_paged(client, agency):
    director = agency["director"]
    for n in range(12):
        task = factories.task(agency["acme"], name=f"Decided {n:02d}", due_on=D(2026, 3, 10))
        ask(
            task,
            agency["am"],
            status="approved",
            approved_by=director,
            approved_on=D(2026, 3, 9) - datetime.timedelta(days=n),
        )
    old = factories.task(agency["acme"], name="Long ago", due_on=D(2026, 1, 10))
    ask(old, agency["am"], status="declined", approved_by=director, approved_on=D(2026, 2, 1))
    client.force_login(director.user)

    first = client.get("/postponements/").text
    second = fragment(client, "/postponements/?page=2", **{"HX-Target": "postponement-decisions"})

    assert "Decided 00" in first and "Decided 10" not in first and "1–10 of 12" in first
    assert "Long ago" not in first  # decided more than 30 days ago
    assert second.text.lstrip().startswith('<section id="postponement-decisions"')
    assert "Decided 10" in second.text and "11–12 of 12" in second.text


# --- The flow end to end -----------------------------------------------------------------


def test_asked_by_the_account_manager_approved_by_a_director_the_metrics_follow(client, agency):
    missed = misses(D(2026, 3, 12))  # Launch page (due 10 March, open on the 12th) is one
    client.force_login(agency["am"].user)
    fragment(
        client,
        "/tasks/launch/postpone/?row=client&as_of=2026-03-09",
        {"to_due_on": "2026-03-20", "reason": "Client on holiday"},
    )
    assert misses(D(2026, 3, 12)) == missed  # asked, not approved: nothing moved

    client.force_login(agency["director"].user)
    postponement = Postponement.objects.get()
    assert "Launch page" in client.get("/postponements/").text
    fragment(client, f"/postponements/{postponement.pk}/decide/", {"decision": "approve"})

    agency["task"].refresh_from_db()
    postponement.refresh_from_db()
    assert agency["task"].committed_due_on == D(2026, 3, 20)
    assert (postponement.approved_by, postponement.approved_on) == (agency["director"], TODAY)
    assert misses(D(2026, 3, 12)) == missed - 1  # the deadline moved: no longer missed
    assert (
        compute_metrics(as_of=D(2026, 3, 12), start=D(2026, 3, 1))["agency"]["postponed_days"] == 10
    )


def test_asked_then_declined_nothing_moves_in_the_metrics(client, agency):
    missed = misses(D(2026, 3, 12))
    client.force_login(agency["am"].user)
    client.post("/tasks/launch/postpone/", {"to_due_on": "2026-03-20", "reason": "Busy"})
    client.force_login(agency["director"].user)
    postponement = Postponement.objects.get()
    client.post(
        f"/postponements/{postponement.pk}/decide/", {"decision": "decline", "note": "No slack"}
    )

    agency["task"].refresh_from_db()
    assert agency["task"].committed_due_on == D(2026, 3, 10)
    assert misses(D(2026, 3, 12)) == missed


# --- Query counts -------------------------------------------------------------------------


def test_the_queue_runs_the_same_queries_at_two_sizes(client, agency):
    director = agency["director"]
    urls = {
        "/postponements/": {},
        "/postponements/?page=2": {"HX-Request": "true", "HX-Target": "postponement-decisions"},
    }
    counts = []
    for size in (3, 30):
        pod = factories.pod()
        for _ in range(size):
            client_ = factories.client(pod=pod)
            waiting = factories.task(client_, due_on=D(2026, 3, 10))
            postpone(waiting, to=D(2026, 3, 12), approved_on=D(2026, 3, 1), approver=director)
            ask(waiting, client_.account_manager)
            decided = factories.task(client_, due_on=D(2026, 3, 10))
            ask(
                decided,
                client_.account_manager,
                status="declined",
                approved_by=director,
                approved_on=D(2026, 3, 5),
                decision_note="No",
            )
        client.force_login(director.user)
        client.get("/postponements/")  # settings rows and the like created on first use
        sizes = []
        for url, headers in urls.items():
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url, headers=headers).status_code == 200
            sizes.append(len(queries))
        counts.append(sizes)

    assert counts[0] == counts[1], counts
    # session, user, staff, today's settings, waiting, decisions count and page, nav count
    assert counts[0][0] <= 9, counts


def test_a_decision_runs_the_same_queries_at_two_sizes(client, agency):
    director = agency["director"]
    counts = []
    for size in (3, 30):
        for _ in range(size):
            ask(factories.task(agency["acme"], due_on=D(2026, 3, 10)), agency["am"])
        target = ask(factories.task(agency["acme"], due_on=D(2026, 3, 10)), agency["am"])
        client.force_login(director.user)
        with CaptureQueriesContext(connection) as queries:
            fragment(client, f"/postponements/{target.pk}/decide/", {"decision": "approve"})
        counts.append(len(queries))

    assert counts[0] == counts[1], counts
