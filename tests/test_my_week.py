"""My week, the account managers' workspace: one screen of their clients' week (goals to set
and to close out, quarterly goals, days inactive, tasks), each change a small POST answered
with its fragment for htmx and a redirect without JavaScript; scoped to the pod (404
otherwise), refused after the edit window, never overwriting someone else's change, in a
fixed number of queries."""

import datetime
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pghistory.models import Events

from clients.models import Touchpoint
from godview.models import AgencySettings, Role
from tests import factories
from workflows.models import WeeklyGoal

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 3, 18)  # a Wednesday
MONDAY = D(2026, 3, 16)
LAST_MONDAY = D(2026, 3, 9)
HTMX = {"HX-Request": "true"}
PASSWORD = "a-long-test-password"


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("workflows.views.week.agency_today", lambda: TODAY)


@pytest.fixture
def agency():
    alpha, bravo = (
        factories.pod(name="Alpha", key="alpha"),
        factories.pod(name="Bravo", key="bravo"),
    )
    ann = factories.staff(pod=alpha, name="Ann Archer", password=PASSWORD)
    bob = factories.staff(pod=alpha, name="Bob Baker", password=PASSWORD)
    bruno = factories.staff(pod=bravo, name="Bruno Bravo")
    clients = {}
    for key, name, manager in (
        ("acme", "Acme", ann),
        ("apex", "Apex", ann),
        ("birch", "Birch", bob),
        ("zeta", "Zeta", bruno),
    ):
        clients[key] = factories.client(
            pod=alpha if manager != bruno else bravo, account_manager=manager, name=name, key=key
        )
        factories.engagement(clients[key], D(2025, 1, 1))
        factories.touchpoint(clients[key], D(2026, 3, 6), channel="call")  # 12 days ago
    return {
        "ann": ann,
        "bob": bob,
        "bruno": bruno,
        "alpha": alpha,
        "bravo": bravo,
        "designer": factories.staff(role=Role.DESIGNER, pod=alpha, name="Dee Designer"),
        "director": factories.staff(
            role=Role.DIRECTOR, pod=bravo, name="Dana Director", password=PASSWORD
        ),
        "leader": factories.staff(role=Role.LEADERSHIP, name="Lee Leader", password=PASSWORD),
        **clients,
    }


@pytest.fixture
def ann(client, agency):
    client.force_login(agency["ann"].user)
    return client


def week_url(**query) -> str:
    return "/my-week/" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def form(**fields) -> dict:
    return {"week": MONDAY.isoformat(), **fields}


def triggered(response) -> bool:
    """Whether the response tells the page the week changed (its summary reloads)."""
    return "week-changed" in json.loads(response.headers.get("HX-Trigger", "{}"))


def error_of(html: str, dom_id: str) -> str:
    """The text of the field error with that id (the one the field's aria-describedby
    names), or '' when there is none."""
    match = re.search(rf'<p class="field-error" id="{re.escape(dom_id)}">(.*?)</p>', html)
    return match.group(1) if match else ""


# --- The page ----------------------------------------------------------------------------------


def test_an_account_manager_sees_their_clients_first_then_the_rest_of_the_pod(ann, agency):
    factories.weekly_goal(agency["acme"], agency["ann"], MONDAY, description="Launch spring ads")
    factories.weekly_goal(agency["acme"], agency["ann"], LAST_MONDAY, description="Fix tracking")
    factories.client_goal(agency["acme"], title="Lower CPA", current=14)
    factories.task(agency["acme"], name="Send report", due_on=D(2026, 3, 19))
    factories.task(agency["acme"], name="Old audit", due_on=D(2026, 3, 2))

    response = ann.get("/my-week/")

    assert response.status_code == 200
    html = response.text
    mine, rest = html.split('id="week-mine"')[1].split("The rest of Alpha")
    assert "Acme" in mine and "Apex" in mine and "Birch" not in mine
    assert "Birch" in rest and "Bob Baker's client" in rest
    assert "Zeta" not in html  # another pod
    assert "Launch spring ads" in html and "Fix tracking" in html
    assert "Lower CPA" in html and "Send report" in html and "Old audit" in html
    assert re.search(r'data-days-inactive="12"', html)
    assert 'aria-current="page">My week</a>' in html
    # Last week's open goal offers one click each way; this week's can be closed too.
    assert html.count('value="missed"') == 2


def test_the_week_navigator_normalises_any_day_to_its_monday(ann, agency):
    factories.weekly_goal(agency["acme"], agency["ann"], D(2026, 3, 2), description="Early one")

    html = ann.get(week_url(week="2026-03-12")).text  # a Thursday

    assert "Mon 9 Mar – Sun 15 Mar 2026" in html
    assert "Early one" in html  # the week before, shown for closing out
    assert 'href="/my-week/?week=2026-03-02"' in html and 'href="/my-week/?week=2026-03-16"' in html
    assert 'value="2026-03-09"' in html  # the forms add to the week shown
    for nonsense in ("yesterday", "2026-02-30", "0001-01-01"):
        assert "Mon 16 Mar – Sun 22 Mar 2026" in ann.get(week_url(week=nonsense)).text


def test_a_designer_who_manages_no_client_sees_the_pod_open(client, agency):
    client.force_login(agency["designer"].user)

    html = client.get("/my-week/").text

    assert "Clients of Alpha" in html and "Your clients" not in html
    assert "Acme" in html and "Birch" in html and "Zeta" not in html


def test_directors_pick_a_pod_their_own_by_default(client, agency):
    client.force_login(agency["director"].user)

    own = client.get("/my-week/").text
    picked = client.get(week_url(pod="alpha")).text

    assert "Zeta" in own and "Acme" not in own
    assert "Acme" in picked and "Zeta" not in picked
    assert '<option value="alpha" selected>' in picked
    assert 'name="pod" value="alpha"' in picked  # the forms bring the director back here


def test_leadership_without_a_pod_starts_on_the_first_pod(client, agency):
    client.force_login(agency["leader"].user)

    assert "Acme" in client.get("/my-week/").text  # Alpha, first by name


def test_without_a_staff_record_or_a_pod_the_page_says_why(client, agency, superuser):
    client.force_login(superuser)
    assert "no active staff record" in client.get("/my-week/").text
    loner = factories.staff(name="Lone Ranger")
    client.force_login(loner.user)
    assert "not in a pod yet" in client.get("/my-week/").text


def test_the_summary_reloads_on_its_own(ann, agency):
    factories.weekly_goal(agency["acme"], agency["ann"], MONDAY)
    factories.weekly_goal(agency["apex"], agency["ann"], LAST_MONDAY)

    response = ann.get(week_url(week=MONDAY.isoformat(), panel="summary"), headers=HTMX)

    assert response.text.strip().startswith('<section id="week-summary"')
    assert "<h1>" not in response.text
    values = re.findall(r'<p class="tile-value">(\d+)', response.text)
    # Ann's own clients: goals set, to close out, past the SLA (12 > 10 days), overdue tasks
    assert values == ["1", "1", "2", "0"]


# --- Adding a goal -----------------------------------------------------------------------------


def test_adding_a_goal_answers_with_the_clients_week_ready_for_the_next(ann, agency):
    acme = agency["acme"]
    quarterly = factories.client_goal(acme, title="Lower CPA")

    response = ann.post(
        "/my-week/clients/acme/goals/",
        form(description="  Launch   spring ads ", client_goal=quarterly.pk),
        headers=HTMX,
    )

    goal = WeeklyGoal.objects.get()
    assert (goal.client, goal.staff, goal.week_start) == (acme, agency["ann"], MONDAY)
    assert goal.description == "Launch spring ads" and goal.client_goal == quarterly
    assert response.status_code == 200
    assert triggered(response)
    assert response.text.strip().startswith(
        f'<section class="week-block shown" id="goals-{acme.pk}-20260316"'
    )
    assert "Launch spring ads" in response.text and "↳ Lower CPA" in response.text
    assert re.search(
        r'id="add-goal-\d+" name="description"[^>]*value=""[^>]* autofocus', response.text
    )


def test_without_javascript_adding_a_goal_redirects_back_with_a_message(ann, agency):
    response = ann.post(
        "/my-week/clients/acme/goals/", form(description="Audit", pod="alpha"), follow=True
    )

    assert response.redirect_chain == [
        (f"/my-week/?week=2026-03-16&pod=alpha#client-{agency['acme'].pk}", 302)
    ]
    assert "Goal added for Acme." in response.text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"description": "   "}, "description", "This field is required."),
        ({"description": "x" * 501}, "description", "at most 500 characters"),
        ({"description": "Audit", "client_goal": "999999"}, "client_goal", "valid choice"),
    ],
)
def test_a_refused_goal_names_its_field_and_writes_nothing(ann, agency, fields, field, message):
    pk = agency["acme"].pk
    factories.client_goal(agency["acme"])  # so the form offers a quarterly goal

    response = ann.post("/my-week/clients/acme/goals/", form(**fields), headers=HTMX)

    assert response.status_code == 200  # htmx swaps it in
    assert "HX-Trigger" not in response.headers
    assert message in error_of(response.text, f"add-goal-{pk}-{field}-error")
    assert f'aria-describedby="add-goal-{pk}-{field}-error"' in response.text
    assert not WeeklyGoal.objects.exists()


def test_the_same_goal_twice_and_another_clients_quarterly_goal_are_refused(ann, agency):
    factories.weekly_goal(agency["acme"], agency["ann"], MONDAY, description="Audit")
    other = factories.client_goal(agency["apex"])
    pk = agency["acme"].pk

    twice = ann.post("/my-week/clients/acme/goals/", form(description="Audit"), headers=HTMX)
    linked = ann.post(
        "/my-week/clients/acme/goals/",
        form(description="New", client_goal=other.pk),
        headers=HTMX,
    )

    assert "already has that goal" in error_of(twice.text, f"add-goal-{pk}-description-error")
    assert "valid choice" in error_of(linked.text, f"add-goal-{pk}-client_goal-error")
    assert WeeklyGoal.objects.count() == 1


def test_without_javascript_a_refused_goal_shows_its_form_on_a_page(ann, agency):
    response = ann.post("/my-week/clients/acme/goals/", form(description=" "))

    assert response.status_code == 400
    assert "<h1>Add a goal</h1>" in response.text and "This field is required." in response.text
    assert not WeeklyGoal.objects.exists()


# --- Editing, linking, closing, removing -------------------------------------------------------


@pytest.fixture
def goal(agency):
    return factories.weekly_goal(
        agency["acme"], agency["ann"], MONDAY, description="Launch ads", updated_by=agency["ann"]
    )


def test_editing_a_goal_in_place_and_linking_it_to_a_quarterly_goal(ann, agency, goal):
    quarterly = factories.client_goal(agency["acme"], title="Lower CPA")
    factories.client_goal(agency["acme"], title="Old goal", status="met")  # not offered

    edit_form = ann.get(f"/my-week/goals/{goal.pk}/edit/?week=2026-03-16", headers=HTMX)
    saved = ann.post(
        f"/my-week/goals/{goal.pk}/edit/",
        form(description="Launch spring ads", client_goal=quarterly.pk, version=1),
        headers=HTMX,
    )

    assert 'value="Launch ads"' in edit_form.text and "Lower CPA" in edit_form.text
    assert "Old goal" not in edit_form.text
    goal.refresh_from_db()
    assert (goal.description, goal.client_goal, goal.version) == (
        "Launch spring ads",
        quarterly,
        2,
    )
    assert triggered(saved)
    assert saved.text.strip().startswith(f'<li class="goal-row" id="goal-{goal.pk}"')
    assert "↳ Lower CPA" in saved.text and 'name="version" value="2"' in saved.text


def test_without_javascript_editing_is_a_page_and_a_redirect(ann, goal):
    page = ann.get(f"/my-week/goals/{goal.pk}/edit/?week=2026-03-16")
    response = ann.post(
        f"/my-week/goals/{goal.pk}/edit/", form(description="Launch ads now", version=1)
    )

    assert page.status_code == 200 and "<h1>Edit the goal</h1>" in page.text
    assert response.status_code == 302
    assert response["Location"] == f"/my-week/?week=2026-03-16#goal-{goal.pk}"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"description": " ", "version": 1}, "description", "This field is required."),
        ({"description": "Ok", "client_goal": "999999", "version": 1}, "client_goal", "valid"),
    ],
)
def test_a_refused_edit_names_its_field_and_writes_nothing(ann, goal, fields, field, message):
    response = ann.post(f"/my-week/goals/{goal.pk}/edit/", form(**fields), headers=HTMX)

    assert message in error_of(response.text, f"edit-goal-{goal.pk}-{field}-error")
    goal.refresh_from_db()
    assert (goal.description, goal.version) == ("Launch ads", 1)


def test_an_edit_without_its_version_is_refused(ann, goal):
    response = ann.post(f"/my-week/goals/{goal.pk}/edit/", form(description="X"), headers=HTMX)

    assert "missing the goal&#x27;s version" in response.text
    goal.refresh_from_db()
    assert goal.description == "Launch ads"


@pytest.mark.parametrize(("status", "badge"), [("met", "ok"), ("missed", "bad")])
def test_closing_a_goal_takes_one_click_and_keeps_the_note(ann, agency, status, badge):
    goal = factories.weekly_goal(agency["acme"], agency["ann"], LAST_MONDAY)

    response = ann.post(
        f"/my-week/goals/{goal.pk}/close/",
        form(status=status, note="Client was away", version=1),
        headers=HTMX,
    )

    goal.refresh_from_db()
    assert (goal.status, goal.note, goal.version) == (status, "Client was away", 2)
    assert f'<span class="badge {badge}">{status.title()}</span>' in response.text
    assert '<p class="note">Client was away</p>' in response.text
    assert 'value="open"' in response.text  # and it can be reopened
    assert triggered(response)


def test_reopening_a_goal(ann, agency):
    goal = factories.weekly_goal(agency["acme"], agency["ann"], LAST_MONDAY, status="met")

    ann.post(f"/my-week/goals/{goal.pk}/close/", form(status="open", version=1), headers=HTMX)

    goal.refresh_from_db()
    assert goal.status == "open"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "done", "version": 1}, "valid choice"),
        ({"status": "met", "note": "x" * 1001, "version": 1}, "at most 1000 characters"),
        ({"status": "met"}, "This field is required."),
    ],
)
def test_a_refused_close_writes_nothing(ann, goal, fields, message):
    response = ann.post(f"/my-week/goals/{goal.pk}/close/", form(**fields), headers=HTMX)

    assert message in response.text
    goal.refresh_from_db()
    assert (goal.status, goal.version) == ("open", 1)


def test_a_week_that_has_not_started_cannot_be_closed(ann, agency):
    goal = factories.weekly_goal(agency["acme"], agency["ann"], MONDAY + datetime.timedelta(7))

    response = ann.post(
        f"/my-week/goals/{goal.pk}/close/", form(status="met", version=1), headers=HTMX
    )
    page = ann.get(week_url(week="2026-03-23")).text

    assert "This week has not started yet." in response.text
    goal.refresh_from_db()
    assert goal.status == "open"
    assert 'value="met"' not in page  # not offered either


def test_removing_a_goal_swaps_its_row_for_nothing(ann, goal):
    response = ann.post(f"/my-week/goals/{goal.pk}/delete/", form(version=1), headers=HTMX)

    assert response.status_code == 200 and response.text == ""
    assert triggered(response)
    assert not WeeklyGoal.objects.exists()


def test_a_removal_without_a_version_is_refused(ann, goal):
    response = ann.post(f"/my-week/goals/{goal.pk}/delete/", form(), headers=HTMX)

    assert "This field is required." in response.text
    assert WeeklyGoal.objects.count() == 1


def test_cancel_shows_the_goal_again(ann, goal):
    response = ann.get(f"/my-week/goals/{goal.pk}/?week=2026-03-16", headers=HTMX)

    assert response.text.strip().startswith(f'<li class="goal-row" id="goal-{goal.pk}"')
    assert ann.get(f"/my-week/goals/{goal.pk}/?week=2026-03-16").status_code == 302


# --- Two editors -------------------------------------------------------------------------------


def test_two_people_closing_the_same_goal_the_second_is_told_to_reload(client, agency, goal):
    # Ann and Bob both opened the page at version 1; Ann closes it first.
    client.force_login(agency["ann"].user)
    client.post(f"/my-week/goals/{goal.pk}/close/", form(status="met", version=1), headers=HTMX)
    client.force_login(agency["bob"].user)

    response = client.post(
        f"/my-week/goals/{goal.pk}/close/",
        form(status="missed", note="Not done", version=1),
        headers=HTMX,
    )

    goal.refresh_from_db()
    assert (goal.status, goal.note, goal.version) == ("met", "", 2)  # Ann's close stands
    assert re.search(r"changed by Ann Archer at \d\d \w+ 2026 \d\d:\d\d; reload", response.text)
    assert "Reload this goal" in response.text
    assert 'name="version" value="1"' in response.text  # still the version Bob saw
    assert "HX-Trigger" not in response.headers


def test_two_people_editing_the_same_goal_the_second_keeps_their_text(client, agency, goal):
    client.force_login(agency["ann"].user)
    client.post(
        f"/my-week/goals/{goal.pk}/edit/", form(description="Ann's words", version=1), headers=HTMX
    )
    client.force_login(agency["bob"].user)

    response = client.post(
        f"/my-week/goals/{goal.pk}/edit/", form(description="Bob's words", version=1), headers=HTMX
    )
    removal = client.post(f"/my-week/goals/{goal.pk}/delete/", form(version=1), headers=HTMX)

    goal.refresh_from_db()
    assert goal.description == "Ann's words"
    assert "changed by Ann Archer" in response.text and "reload" in response.text
    assert 'value="Bob&#x27;s words"' in response.text  # nothing typed is lost
    assert "changed by Ann Archer" in removal.text
    assert WeeklyGoal.objects.filter(pk=goal.pk).exists()


# --- The edit window ---------------------------------------------------------------------------


@pytest.fixture
def closed_goal(agency):
    """A goal of the week of 2 Mar: it ended on the 8th, the 7-day window on the 15th."""
    return factories.weekly_goal(agency["acme"], agency["ann"], D(2026, 3, 2))


def test_after_the_window_an_account_manager_is_refused_and_told_why(ann, closed_goal):
    response = ann.post(
        f"/my-week/goals/{closed_goal.pk}/close/",
        form(status="met", version=1),
        headers=HTMX,
    )
    edit = ann.post(
        f"/my-week/goals/{closed_goal.pk}/edit/", form(description="X", version=1), headers=HTMX
    )
    page = ann.get(week_url(week="2026-03-02")).text

    assert "is closed; only a director can change its goals now" in response.text
    assert "is closed; only a director" in edit.text
    closed_goal.refresh_from_db()
    assert (closed_goal.status, closed_goal.version) == ("open", 1)
    # The page offers no change it would refuse, and says why.
    assert "are closed.</strong>" in page and "until 7 days after it ends" in page
    assert 'value="met"' not in page and "/edit/" not in page and "Add a goal" not in page


def test_a_director_may_still_change_a_closed_week(client, agency, closed_goal):
    client.force_login(agency["director"].user)

    response = client.post(
        f"/my-week/goals/{closed_goal.pk}/close/",
        form(status="missed", note="Late", version=1, pod="alpha"),
        headers=HTMX,
    )
    page = client.get(week_url(week="2026-03-02", pod="alpha")).text

    closed_goal.refresh_from_db()
    assert closed_goal.status == "missed" and closed_goal.updated_by == agency["director"]
    assert "Missed" in response.text
    assert "are closed.</strong>" not in page and 'value="met"' not in page  # (closed already)


def test_the_window_is_the_setting(ann, closed_goal):
    settings = AgencySettings.load()
    settings.closed_week_edit_days = 14
    settings.save()

    ann.post(f"/my-week/goals/{closed_goal.pk}/close/", form(status="met", version=1), headers=HTMX)

    closed_goal.refresh_from_db()
    assert closed_goal.status == "met"


# --- Logging a touchpoint ----------------------------------------------------------------------


def test_logging_a_touchpoint_updates_days_inactive_in_place(ann, agency):
    acme = agency["acme"]

    response = ann.post(
        "/my-week/clients/acme/touchpoints/",
        form(channel="call", occurred_on="2026-03-18", direction="outbound", summary="Budget"),
        headers=HTMX,
    )

    touchpoint = Touchpoint.objects.get(client=acme, occurred_on=TODAY)
    assert (touchpoint.channel, touchpoint.staff, touchpoint.summary) == (
        "call",
        agency["ann"],
        "Budget",
    )
    assert touchpoint.source == "manual"
    assert response.text.strip().startswith(f'<section class="week-contact" id="contact-{acme.pk}"')
    assert 'data-days-inactive="0"' in response.text
    assert "Call logged for Wed 18 Mar." in response.text
    assert 'value="call" selected' in response.text and 'value="2026-03-18"' in response.text
    assert triggered(response)


def test_the_page_offers_a_call_today_by_default(ann, agency):
    html = ann.get("/my-week/").text

    pk = agency["acme"].pk
    assert re.search(rf'id="touchpoint-{pk}-channel".*?<option value="call" selected>', html)
    assert f'id="touchpoint-{pk}-date" name="occurred_on" value="2026-03-18"' in html


def test_without_javascript_logging_a_touchpoint_redirects_back(ann, agency):
    response = ann.post(
        "/my-week/clients/acme/touchpoints/",
        form(channel="meeting", occurred_on="2026-03-17", direction="outbound"),
        follow=True,
    )

    assert response.redirect_chain[0][0].endswith(f"#client-{agency['acme'].pk}")
    assert "Meeting with Acme logged." in response.text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"channel": "call", "occurred_on": "2026-03-19"}, "occurred_on", "in the future"),
        ({"channel": "call", "occurred_on": "2025-03-01"}, "occurred_on", "more than a year"),
        ({"channel": "call", "occurred_on": ""}, "occurred_on", "This field is required."),
        ({"channel": "pigeon", "occurred_on": "2026-03-18"}, "channel", "valid choice"),
        (
            {"channel": "call", "occurred_on": "2026-03-18", "summary": "x" * 501},
            "summary",
            "at most 500 characters",
        ),
    ],
)
def test_a_refused_touchpoint_names_its_field_and_writes_nothing(
    ann, agency, fields, field, message
):
    before = Touchpoint.objects.count()
    pk = agency["acme"].pk

    response = ann.post(
        "/my-week/clients/acme/touchpoints/", form(direction="outbound", **fields), headers=HTMX
    )

    assert message in error_of(response.text, f"touchpoint-{pk}-{field}-error")
    assert 'data-days-inactive="12"' in response.text
    assert Touchpoint.objects.count() == before


# --- Scope -------------------------------------------------------------------------------------


def test_every_write_to_another_pods_client_answers_404(ann, agency):
    zeta = agency["zeta"]
    goal = factories.weekly_goal(zeta, agency["bruno"], MONDAY)
    requests = [
        ("post", "/my-week/clients/zeta/goals/", form(description="Sneaky")),
        (
            "post",
            "/my-week/clients/zeta/touchpoints/",
            form(channel="call", occurred_on="2026-03-18", direction="outbound"),
        ),
        ("get", f"/my-week/goals/{goal.pk}/", {}),
        ("get", f"/my-week/goals/{goal.pk}/edit/", {}),
        ("post", f"/my-week/goals/{goal.pk}/edit/", form(description="Sneaky", version=1)),
        ("post", f"/my-week/goals/{goal.pk}/close/", form(status="met", version=1)),
        ("post", f"/my-week/goals/{goal.pk}/delete/", form(version=1)),
    ]
    touchpoints = Touchpoint.objects.count()

    for method, url, data in requests:
        for headers in ({}, HTMX):
            assert getattr(ann, method)(url, data, headers=headers).status_code == 404, url

    goal.refresh_from_db()
    assert (goal.description, goal.status, goal.version) == (goal.description, "open", 1)
    assert WeeklyGoal.objects.count() == 1 and Touchpoint.objects.count() == touchpoints


def test_a_login_without_a_staff_record_may_look_but_not_write(client, agency, superuser):
    client.force_login(superuser)

    response = client.post("/my-week/clients/acme/goals/", form(description="Audit"))

    assert response.status_code == 403
    assert not WeeklyGoal.objects.exists()


def test_the_actions_take_only_posts(ann, goal):
    assert ann.get("/my-week/clients/acme/goals/").status_code == 405
    assert ann.get(f"/my-week/goals/{goal.pk}/close/").status_code == 405
    assert ann.post("/my-week/", {}).status_code == 405


# --- Audit history -----------------------------------------------------------------------------


def test_every_goal_change_is_in_the_audit_history_with_who_made_it(ann, agency):
    ann.post("/my-week/clients/acme/goals/", form(description="Audit"), headers=HTMX)
    goal = WeeklyGoal.objects.get()
    ann.post(f"/my-week/goals/{goal.pk}/close/", form(status="met", version=1), headers=HTMX)
    ann.post(f"/my-week/goals/{goal.pk}/delete/", form(version=2), headers=HTMX)

    events = Events.objects.references(goal).order_by("pgh_created_at", "pgh_id")
    assert [event.pgh_label for event in events] == ["insert", "update", "delete"]
    assert {event.pgh_context["user"] for event in events} == {agency["ann"].user.pk}
    assert events[1].pgh_diff["status"] == ["open", "met"]


# --- Logging in --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "lands_on"),
    [("ann", "/my-week/"), ("designer", "/my-week/"), ("director", "/"), ("leader", "/")],
)
def test_after_logging_in_each_role_lands_where_its_work_is(client, agency, who, lands_on):
    person = agency[who]
    person.user.set_password(PASSWORD)
    person.user.save()

    response = client.post("/login/", {"username": person.user.username, "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == lands_on


def test_logging_in_still_goes_where_next_says(client, agency):
    response = client.post(
        "/login/?next=/clients/",
        {"username": agency["ann"].user.username, "password": PASSWORD, "next": "/clients/"},
    )

    assert response["Location"] == "/clients/"


# --- Queries -----------------------------------------------------------------------------------


def pod_of(size: int, n: int):
    """A pod with an account manager, `size` clients each with goals in both weeks, a
    quarterly goal, tasks due and overdue and a touchpoint, and a pod-mate's client."""
    pod = factories.pod(name=f"Pod {n}", key=f"pod-size-{n}")
    manager = factories.staff(pod=pod)
    mate = factories.staff(pod=pod)
    for i in range(size):
        client = factories.client(pod=pod, account_manager=manager if i else mate)
        factories.engagement(client, D(2025, 1, 1))
        quarterly = factories.client_goal(client, current=12)
        factories.weekly_goal(client, manager, MONDAY, client_goal=quarterly)
        factories.weekly_goal(client, manager, LAST_MONDAY, updated_by=manager)
        factories.task(client, due_on=D(2026, 3, 19), assignee=manager)
        factories.task(client, due_on=D(2026, 3, 10))
        factories.touchpoint(client, D(2026, 3, 10))
    return manager


def test_the_page_runs_the_same_queries_at_two_sizes(client, agency):
    counts = []
    for n, size in enumerate((2, 12)):
        manager = pod_of(size, n)
        client.force_login(manager.user)
        sizes = []
        for url, headers in (("/my-week/", {}), ("/my-week/?panel=summary", HTMX)):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, headers=headers)
            assert response.status_code == 200
            sizes.append(len(queries))
        assert response.text.count('class="tile"') + response.text.count('class="tile ') == 4
        counts.append(sizes)

    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 12, counts  # session, user, staff, settings, 3 for the clients
    # and their goals, 2 for days inactive, 1 for the tasks
