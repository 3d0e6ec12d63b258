"""The growth review: each active client of a pod with its goals' pace, its tactics' win/loss
this quarter and its last decisions; recording today's decision (keep course or pivot) in
place; the decisions as history on the client page. Scoped, in fixed queries."""

import datetime
import re

import pytest

from godview.models import Role
from metrics.services import refresh_current
from tests import factories
from workflows.models import GrowthReview, Tactic

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 3, 31)
PAGE = "/pods/alpha/growth-review/"
HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def today(monkeypatch):
    for module in ("metrics.views.reviews", "metrics.views.pages", "clients.views"):
        monkeypatch.setattr(f"{module}.agency_today", lambda: TODAY)


def active_client(pod, am, name):
    client = factories.client(pod=pod, account_manager=am, name=name, key=name.lower())
    factories.engagement(client, D(2025, 1, 1))
    return client


def tactic(client, name, outcome, ended_on=None):
    return Tactic.objects.create(
        key=f"{client.key}-{name}",
        client=client,
        name=name,
        started_on=D(2025, 11, 1),
        ended_on=ended_on,
        outcome=outcome,
    )


def review(client, on, decision, by, note=""):
    return GrowthReview.objects.create(
        client=client, reviewed_on=on, decision=decision, note=note, reviewed_by=by
    )


@pytest.fixture
def agency():
    alpha = factories.pod(name="Alpha", key="alpha")
    bravo = factories.pod(name="Bravo", key="bravo")
    alma = factories.staff(pod=alpha, name="Alma Alpha")
    bruno = factories.staff(pod=bravo, name="Bruno Bravo")
    director = factories.staff(role=Role.DIRECTOR, name="Dana Director")
    acme = active_client(alpha, alma, "Acme")
    birch = active_client(alpha, alma, "Birch")
    gone = factories.client(pod=alpha, account_manager=alma, name="Gone", key="gone")
    factories.engagement(gone, D(2025, 1, 1), D(2025, 12, 31))
    bolt = active_client(bravo, bruno, "Bolt")

    # Goals start on 1 Jan 2026 and are due on 31 Mar unless told (the factory's defaults).
    # Acme: on track (90% done, 49% of the time gone), off track (10% done at the due date),
    # no pace (no current value); a met goal and one not started yet have none to show.
    factories.client_goal(
        acme, title="Leads to 200", baseline=100, target=200, current=190, due_on=D(2026, 6, 30)
    )
    factories.client_goal(acme, title="Cut CPA to 40", baseline=60, target=40, current=58)
    factories.client_goal(acme, title="ROAS to 4", baseline=2, target=4, current=None)
    factories.client_goal(acme, title="Met already", current=20, status="met")
    factories.client_goal(
        acme, title="Starts in April", starts_on=D(2026, 4, 1), due_on=D(2026, 6, 30)
    )
    # Birch: 40% done with 59% of the time gone: at risk.
    factories.client_goal(
        birch,
        title="Revenue ($k) to 100",
        metric="Revenue",
        baseline=0,
        target=100,
        current=40,
        due_on=D(2026, 5, 31),
    )

    tactic(acme, "Broad match", "win", D(2026, 2, 10))
    tactic(acme, "New creatives", "win", D(2026, 3, 5))
    tactic(acme, "Landing page B", "loss", D(2026, 3, 20))
    tactic(acme, "Bid caps", "inconclusive", D(2026, 3, 1))
    tactic(acme, "Still running", "running")
    tactic(acme, "Last quarter's win", "win", D(2025, 12, 15))
    tactic(birch, "Birch loss", "loss", D(2026, 3, 2))

    # Acme's decisions, every two weeks; the last on 20 Mar (11 days ago: not due).
    for n, day in enumerate((9, 23), start=1):
        review(acme, D(2026, 1, day), "keep_course", director, note=f"January {n}")
    for n, day in enumerate((6, 20), start=1):
        review(acme, D(2026, 2, day), "keep_course", director, note=f"February {n}")
    review(acme, D(2026, 3, 6), "pivot", director, note="Moved budget to search")
    review(acme, D(2026, 3, 20), "keep_course", alma, note="Search is paying off")
    review(bolt, D(2026, 3, 25), "pivot", bruno, note="Bolt's own decision")

    refresh_current(today=TODAY)
    return {
        "alpha": alpha,
        "alma": alma,
        "bruno": bruno,
        "director": director,
        "leader": factories.staff(role=Role.LEADERSHIP, name="Lee Leader"),
        "acme": acme,
        "birch": birch,
        "bolt": bolt,
    }


def card(html: str, key: str) -> str:
    """One client's row (an <article>) of the review."""
    match = re.search(rf'<article[^>]*id="review-{key}".*?</article>', html, re.S)
    assert match, f"no row for {key}"
    return match.group(0)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def hx(client, url, data=None):
    if data is None:
        return client.get(url, headers=HX)
    return client.post(url, data, headers=HX)


# --- Access -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["leader", "director", "alma"])
def test_leadership_directors_and_the_pod_see_the_review_and_the_history(client, agency, who):
    client.force_login(agency[who].user)

    page = client.get(PAGE)
    history = client.get("/clients/acme/reviews/")

    assert page.status_code == 200 and "Acme" in page.text
    assert history.status_code == 200 and "Search is paying off" in history.text


def test_an_account_manager_gets_404_for_another_pod_and_writes_nothing(client, agency):
    client.force_login(agency["bruno"].user)
    before = GrowthReview.objects.count()

    assert client.get(PAGE).status_code == 404
    assert client.get("/clients/acme/reviews/").status_code == 404
    assert hx(client, "/clients/acme/reviews/").status_code == 404
    posted = client.post(PAGE, {"client": "acme", "decision": "keep_course", "note": ""})
    assert posted.status_code == 404
    assert GrowthReview.objects.count() == before
    assert client.get("/pods/bravo/growth-review/").status_code == 200


def test_a_client_of_another_pod_cannot_be_recorded_through_this_pods_review(client, agency):
    client.force_login(agency["leader"].user)
    before = GrowthReview.objects.count()

    response = client.post(PAGE, {"client": "bolt", "decision": "keep_course", "note": ""})

    assert response.status_code == 404
    assert GrowthReview.objects.count() == before


def test_anonymous_users_are_sent_to_login(client, agency):
    for response in (
        client.get(PAGE),
        client.post(PAGE, {"client": "acme", "decision": "keep_course"}),
        client.get("/clients/acme/reviews/"),
    ):
        assert response.status_code == 302
        assert response.url.startswith("/login/?next=")
    assert not GrowthReview.objects.filter(reviewed_on=TODAY).exists()


def test_a_login_without_a_staff_record_sees_the_review_but_cannot_record(client, superuser):
    pod = factories.pod(key="alpha")
    active_client(pod, factories.staff(pod=pod), "Acme")
    client.force_login(superuser)

    page = client.get(PAGE)
    posted = client.post(PAGE, {"client": "acme", "decision": "keep_course"})

    assert "Only a staff member can record a decision." in page.text
    assert "<form" not in card(page.text, "acme")
    assert posted.status_code == 403
    assert not GrowthReview.objects.exists()


# --- What the review shows ----------------------------------------------------------------


def test_each_active_client_with_its_goals_pace(client, agency):
    client.force_login(agency["alma"].user)

    html = client.get(PAGE).text
    acme, birch = text_of(card(html, "acme")), text_of(card(html, "birch"))

    assert "On track Leads to 200 now 190 · target 200 by 30 Jun 2026 · from 100" in acme
    assert "Off track Cut CPA to 40 now 58 · target 40 by 31 Mar 2026 · from 60" in acme
    assert "No pace ROAS to 4 now not measured · target 4" in acme
    assert "Met already" not in acme and "Starts in April" not in acme
    assert "At risk Revenue ($k) to 100 Revenue: now 40 · target 100 by 31 May 2026" in birch
    assert 'id="review-gone"' not in html and 'id="review-bolt"' not in html


def test_tactic_wins_and_losses_come_from_the_stored_quarter(client, agency):
    client.force_login(agency["alma"].user)

    html = client.get(PAGE).text
    acme, birch = text_of(card(html, "acme")), text_of(card(html, "birch"))

    # Ended this quarter: two wins, one loss, one inconclusive (running and last quarter's
    # win do not count); win rate 2 / 3.
    assert "2 won 1 lost 1 inconclusive" in acme and "Win rate 66.7%" in acme
    assert "0 won 1 lost" in birch and "Win rate 0.0%" in birch
    assert "inconclusive" not in birch
    assert "from the figures of 1 Jan – 31 Mar 2026" in text_of(html)


def test_a_client_with_no_tactic_ended_this_quarter_says_so(client, agency):
    Tactic.objects.filter(client=agency["birch"]).delete()
    refresh_current(today=TODAY)
    client.force_login(agency["alma"].user)

    birch = text_of(card(client.get(PAGE).text, "birch"))

    assert "No tactic ended this quarter." in birch and " won " not in birch


def test_the_last_decision_its_date_and_the_history(client, agency):
    client.force_login(agency["alma"].user)

    html = client.get(PAGE).text
    acme, birch = card(html, "acme"), card(html, "birch")
    history = text_of(acme.split("<details")[1])

    assert "Last review 20 Mar 2026 Keep course" in text_of(acme)
    assert "Review due" not in acme
    assert "Never reviewed" in birch and "Review due" in birch
    # The last five of six decisions, newest first, with who took them; then a link to all.
    dates = re.findall(r'datetime="([\d-]+)"', acme.split("<details")[1])
    assert dates == ["2026-03-20", "2026-03-06", "2026-02-20", "2026-02-06", "2026-01-23"]
    assert "Decision history (6)" in history
    assert "Pivot 6 Mar 2026 by Dana Director Moved budget to search" in history
    assert "Keep course 20 Mar 2026 by Alma Alpha Search is paying off" in history
    assert "January 1" not in history
    assert 'href="/clients/acme/reviews/">All 6 decisions' in acme


@pytest.mark.parametrize(("last_review", "due"), [(D(2026, 3, 17), True), (D(2026, 3, 18), False)])
def test_a_review_is_due_two_weeks_after_the_last(client, agency, last_review, due):
    review(agency["birch"], last_review, "keep_course", agency["alma"])
    client.force_login(agency["alma"].user)

    birch = card(client.get(PAGE).text, "birch")

    assert f"Last review {last_review:%-d} Mar 2026 Keep course" in text_of(birch)
    assert ("Review due" in birch) is due


def test_the_summary_line(client, agency):
    client.force_login(agency["alma"].user)

    summary = text_of(client.get(PAGE).text.split('class="meeting-summary"')[1].split("</ul>")[0])

    assert "1 of 2 clients due for a review" in summary
    assert "1 with a goal off track" in summary
    assert "2 tactics won · 2 lost this quarter" in summary


# --- Recording a decision -----------------------------------------------------------------


def test_keep_course_is_recorded_and_shown_in_place(client, agency):
    client.force_login(agency["alma"].user)

    response = hx(client, PAGE, {"client": "birch", "decision": "keep_course", "note": ""})

    saved = GrowthReview.objects.get(client=agency["birch"])
    assert (saved.decision, saved.note, saved.reviewed_on) == ("keep_course", "", TODAY)
    assert saved.reviewed_by == agency["alma"] and saved.created_at is not None
    assert "<html" not in response.text
    row = card(response.text, "birch")
    assert response.text.strip() == row  # the row alone, swapped in place
    assert "Last review 31 Mar 2026 Keep course" in text_of(row)
    assert "✓ Keep course recorded for 31 Mar 2026 by Alma Alpha." in text_of(row)
    assert "Never reviewed" not in row and "Review due" not in row
    assert "Decision history (1)" in text_of(row)


def test_a_pivot_without_a_note_is_refused_and_nothing_is_written(client, agency):
    client.force_login(agency["alma"].user)
    before = GrowthReview.objects.count()

    htmx = hx(client, PAGE, {"client": "acme", "decision": "pivot", "note": "   "})
    plain = client.post(PAGE, {"client": "acme", "decision": "pivot", "note": ""})

    assert GrowthReview.objects.count() == before
    for response in (htmx, plain):
        assert response.status_code == 200
        row = card(response.text, "acme")
        assert 'id="review-acme-note-error" role="alert">Say what changes with the pivot.' in row
        assert 'aria-invalid="true"' in row
        assert re.search(r'value="pivot"[^>]*checked', row)  # the choice is kept
        assert "Last review 20 Mar 2026 Keep course" in text_of(row)
    assert "<html" in plain.text and 'id="review-birch"' in plain.text  # the whole page
    assert "Say what changes" not in card(plain.text, "birch")


def test_a_decision_must_be_chosen(client, agency):
    client.force_login(agency["alma"].user)

    response = hx(client, PAGE, {"client": "acme", "note": "Undecided"})

    assert "This field is required." in card(response.text, "acme")
    assert not GrowthReview.objects.filter(reviewed_on=TODAY).exists()


def test_a_pivot_with_a_note_is_saved_with_who_and_when_and_joins_the_history(client, agency):
    client.force_login(agency["director"].user)
    note = "Move the budget from display to search"

    response = client.post(PAGE, {"client": "acme", "decision": "pivot", "note": f" {note} "})

    assert response.status_code == 302
    assert response.url == "/pods/alpha/growth-review/#review-acme"
    saved = GrowthReview.objects.get(client=agency["acme"], reviewed_on=TODAY)
    assert (saved.decision, saved.note, saved.reviewed_by) == ("pivot", note, agency["director"])
    page = client.get(PAGE).text
    row = text_of(card(page, "acme"))
    assert "Last review 31 Mar 2026 Pivot" in row
    assert f"Pivot 31 Mar 2026 by Dana Director {note}" in row
    assert "Decision history (7)" in row
    assert "“Pivot” recorded." in page  # the message after the redirect
    history = text_of(hx(client, "/clients/acme/reviews/").text)
    assert history.index(note) < history.index("Search is paying off")
    assert "Pivot 31 Mar 2026 by Dana Director" in history


# --- The history on the client page -------------------------------------------------------


def test_the_client_page_loads_its_growth_reviews(client, agency):
    client.force_login(agency["alma"].user)

    page = client.get("/clients/acme/?reviews_page=2").text
    fragment = hx(client, "/clients/acme/reviews/")
    alone = client.get("/clients/acme/reviews/")

    assert 'hx-get="/clients/acme/reviews/?page=2" hx-trigger="load"' in page
    assert '<a href="/clients/acme/reviews/">' in page
    assert fragment.text.lstrip().startswith('<section id="client-reviews"')
    assert "<html" not in fragment.text
    assert "<html" in alone.text and "Search is paying off" in alone.text
    text = text_of(fragment.text)
    assert "7 decisions" not in text and "6 decisions" in text
    assert text.index("Search is paying off") < text.index("Moved budget to search")
    assert 'href="/pods/alpha/growth-review/#review-acme"' in fragment.text
    assert "No growth review decision recorded yet." in hx(client, "/clients/birch/reviews/").text


def test_the_client_history_is_paged(client, agency):
    for n in range(8):
        review(agency["acme"], D(2025, 6, 1 + n), "keep_course", agency["alma"], note=f"old {n}")
    client.force_login(agency["alma"].user)

    first = text_of(hx(client, "/clients/acme/reviews/").text)
    second = text_of(hx(client, "/clients/acme/reviews/?page=2").text)

    assert "1–10 of 14" in first and "Search is paying off" in first and "old 0" not in first
    assert "11–14 of 14" in second and "old 0" in second and "Search is paying off" not in second


# --- Query counts -------------------------------------------------------------------------


def sized_pod(size: int, n: int, director):
    pod = factories.pod(name=f"Sized {n}", key=f"sized-{n}")
    am = factories.staff(pod=pod)
    for i in range(size):
        client = active_client(pod, am, f"Sized{n}x{i:02d}")
        factories.client_goal(client, current=12)
        factories.client_goal(client, current=None)
        tactic(client, "won", "win", D(2026, 2, 1))
        for day in (2, 16):
            review(client, D(2026, 3, day), "keep_course", director, note="fine")
    return pod


def test_the_review_and_the_history_run_the_same_queries_at_two_sizes(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    director = factories.staff(role=Role.DIRECTOR)
    counts = []
    for n, size in enumerate((2, 20)):
        pod = sized_pod(size, n, director)
        refresh_current(today=TODAY)
        client.force_login(director.user)
        page = f"/pods/{pod.key}/growth-review/"
        first = pod.clients.order_by("name").first().key
        client.get(page)  # settings row created on first use
        sizes = []
        for url, data, headers in (
            (page, None, {}),
            (page, {"client": first, "decision": "keep_course", "note": ""}, HX),
            (page, {"client": first, "decision": "pivot", "note": ""}, HX),
            (f"/clients/{first}/reviews/", None, HX),
        ):
            with CaptureQueriesContext(connection) as queries:
                if data is None:
                    response = client.get(url, headers=headers)
                else:
                    response = client.post(url, data, headers=headers)
            assert response.status_code == 200
            sizes.append(len(queries))
        assert response.text.count("<li>") == 3  # the fragment: two reviews and the new one
        counts.append(sizes)

    assert counts[0] == counts[1], counts
    # The page: session, user, staff, pod, clients, goals, pace margin, run, figures, reviews
    # and the layout's; the history: session, user, staff, client, count, page.
    assert counts[0][0] <= 12, counts
    assert counts[0][3] == 6, counts
