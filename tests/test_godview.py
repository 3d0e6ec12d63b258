"""The god-view page: KPI tiles, clients at risk and pods, read from stored results only."""

import datetime
import json

import pytest

from godview.models import Role
from metrics.registry import METRICS
from metrics.services import refresh_current
from tests import factories

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 31)


def pod_with_clients(name, count, *, quiet=0):
    """A pod whose first `quiet` clients have not heard from us for 30 days."""
    pod = factories.pod(name=name)
    am = factories.staff(pod=pod, name=f"{name} manager")
    for n in range(count):
        client = factories.client(pod=pod, account_manager=am, name=f"{name} client {n:02d}")
        factories.engagement(client, datetime.date(2025, 1, 1), monthly_fee="1000")
        last_contact = TODAY - datetime.timedelta(days=30 if n < quiet else 2)
        factories.touchpoint(client, last_contact, channel="call")
    return pod, am


@pytest.fixture
def agency(monkeypatch):
    alpha = pod_with_clients("Alpha", 3, quiet=1)
    bravo = pod_with_clients("Bravo", 2, quiet=1)
    monkeypatch.setattr("metrics.views.pages.agency_today", lambda: TODAY)
    refresh_current(today=TODAY)
    return {"alpha": alpha, "bravo": bravo}


def test_leadership_sees_tiles_clients_at_risk_and_every_pod(client, agency):
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    response = client.get("/")

    assert response.status_code == 200
    text = response.text
    assert "Active clients" in text and ">5<" in text  # five active clients
    assert "5,000.00" in text  # MRR
    assert "Alpha client 00" in text and "Bravo client 00" in text
    assert "30 days since last contact; standard is 10" in text
    assert "Alpha" in text and "Bravo" in text
    assert "Figures computed" in text


def test_an_account_manager_sees_agency_tiles_but_only_their_pod_in_detail(client, agency):
    _, am = agency["alpha"]
    client.force_login(am.user)

    response = client.get("/")

    assert ">5<" in response.text  # agency-wide tile
    assert "Alpha client 00" in response.text
    assert "Bravo client 00" not in response.text
    assert "Bravo manager" not in response.text


def test_the_period_filter_switches_runs(client, agency):
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    response = client.get("/?period=week")

    assert "This week: 30 Mar 2026 – 31 Mar 2026" in response.text
    assert 'href="?period=week" aria-current="page"' in response.text


def test_a_panel_alone_comes_back_for_htmx(client, agency):
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    response = client.get("/?panel=at-risk&sort=name", headers={"HX-Request": "true"})

    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<section id="at-risk"')
    assert response.text.index("Alpha client 00") < response.text.index("Bravo client 00")


def test_without_stored_figures_the_page_says_so(client):
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    response = client.get("/")

    assert "No figures have been computed yet" in response.text


def test_old_figures_are_flagged_not_hidden(client, agency, monkeypatch):
    monkeypatch.setattr(
        "metrics.views.pages.agency_today", lambda: TODAY + datetime.timedelta(days=1)
    )
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    response = client.get("/")

    assert "These figures are as of 31 Mar 2026, not today" in response.text


def test_the_godview_and_its_panels_run_the_same_queries_at_two_sizes(client, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from metrics.services import backfill_weeks

    monkeypatch.setattr("metrics.views.pages.agency_today", lambda: TODAY)
    leader = factories.staff(role=Role.LEADERSHIP).user
    urls = ["/", "/?panel=charts", "/?panel=at-risk&sort=days", "/?panel=pods", "/?panel=tiles"]
    counts = []
    for n, size in enumerate((2, 20)):
        pod_with_clients(f"Pod{n}a", size, quiet=size // 2)
        pod_with_clients(f"Pod{n}b", size, quiet=1)
        refresh_current(today=TODAY)
        backfill_weeks(since=datetime.date(2026, 3, 16), until=TODAY)
        client.force_login(leader)
        sizes = []
        for url in urls:
            headers = {"HX-Request": "true"} if "panel" in url else {}
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url, headers=headers).status_code == 200
            sizes.append(len(queries))
        counts.append(sizes)

    assert counts[0] == counts[1], dict(zip(urls, zip(*counts, strict=True), strict=True))
    assert counts[0][0] <= 13, counts  # the whole page, charts excepted


def test_the_glossary_defines_every_metric(client):
    client.force_login(factories.staff(role=Role.ACCOUNT_MANAGER).user)

    response = client.get("/glossary/")

    for metric in METRICS:
        assert f'id="{metric.key}"' in response.text


def test_charts_load_after_the_page_with_their_figures_and_tables(client, agency):
    from metrics.services import backfill, backfill_weeks

    backfill(since=datetime.date(2025, 12, 1), until=TODAY, every_days=14)
    backfill_weeks(since=datetime.date(2026, 3, 2), until=TODAY)
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    page = client.get("/")
    panel = client.get("/?panel=charts", headers={"HX-Request": "true"})
    without_js = client.get("/?panel=charts")

    # The page itself only asks for the charts (they are the costly panel).
    assert 'hx-get="?period=quarter&amp;panel=charts" hx-trigger="load"' in page.text
    assert 'type="application/json"' not in page.text
    assert panel.text.lstrip().startswith('<section id="charts"') and "<html" not in panel.text
    for chart_id in ("chart-retention", "chart-mrr", "chart-misses", "chart-inactive"):
        assert f'<script id="{chart_id}" type="application/json">' in panel.text
        assert f'<script id="{chart_id}" type="application/json">' in without_js.text
    assert "2025 Q4" in panel.text and "2026 Q1" in panel.text
    assert "<html" in without_js.text and "Clients at risk" in without_js.text
    assert "plotly-basic.min.js" in page.text
    for response in (page, panel, without_js):
        assert "<script>" not in response.text  # no inline scripts


def test_the_miss_rate_chart_has_a_bar_per_week_from_weekly_runs(client, agency):
    from metrics.models import MetricRun
    from metrics.services import backfill_weeks

    alpha, _ = agency["alpha"]
    acme = alpha.clients.order_by("name").first()
    # Week of 16 March: two tasks due, one done late. Week of 23 March: one due, on time.
    factories.task(acme, due_on=datetime.date(2026, 3, 17), completed_on=datetime.date(2026, 3, 20))
    factories.task(acme, due_on=datetime.date(2026, 3, 18), completed_on=datetime.date(2026, 3, 18))
    factories.task(acme, due_on=datetime.date(2026, 3, 24), completed_on=datetime.date(2026, 3, 24))

    assert backfill_weeks(since=datetime.date(2026, 3, 18), until=TODAY) == 3
    backfill_weeks(since=datetime.date(2026, 3, 30), until=TODAY)  # the running week again
    weeks = MetricRun.objects.filter(kind="weekly").order_by("start")
    assert [(w.start, w.as_of) for w in weeks] == [
        (datetime.date(2026, 3, 16), datetime.date(2026, 3, 22)),
        (datetime.date(2026, 3, 23), datetime.date(2026, 3, 29)),
        (datetime.date(2026, 3, 30), TODAY),  # one run per week, to today while it runs
    ]
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    panel = client.get("/?panel=charts", headers={"HX-Request": "true"})
    bravo_panel = client.get(
        f"/?panel=charts&pod={agency['bravo'][0].key}", headers={"HX-Request": "true"}
    )

    figure = json.loads(_json_script(panel.text, "chart-misses"))
    assert figure["data"][0]["x"][:2] == ["2026-03-16", "2026-03-23"]
    assert figure["data"][0]["y"][:2] == [50.0, 0.0]
    assert "<td>2026-03-16</td><td>2</td><td>1</td><td>50.0</td>" in panel.text
    # Filtered to Bravo, the chart draws Bravo's weeks: no tasks due there.
    bravo = json.loads(_json_script(bravo_panel.text, "chart-misses"))
    assert bravo["data"][0]["y"][:2] == [None, None]  # nothing due in Bravo: no rate


def _json_script(html: str, element_id: str) -> str:
    start = html.index(f'<script id="{element_id}" type="application/json">')
    start = html.index(">", start) + 1
    return html[start : html.index("</script>", start)]


def test_the_at_risk_table_pages_through_htmx_and_without_javascript(client, monkeypatch):
    pod_with_clients("Alpha", 20, quiet=20)
    monkeypatch.setattr("metrics.views.pages.agency_today", lambda: TODAY)
    refresh_current(today=TODAY)
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    first = client.get("/?sort=name")
    second = client.get("/?sort=name&page=2&panel=at-risk", headers={"HX-Request": "true"})
    past_the_end = client.get("/?sort=name&page=99")

    assert "20 clients with a risk signal; 1–15 shown" in first.text
    assert "Alpha client 14" in first.text and "Alpha client 15" not in first.text
    assert 'href="?period=quarter&amp;sort=name&amp;page=2#at-risk"' in first.text
    assert second.text.lstrip().startswith('<section id="at-risk"')
    assert "16–20 shown" in second.text and "Page 2 of 2" in second.text
    assert "Alpha client 15" in second.text and "Alpha client 14" not in second.text
    assert "Page 2 of 2" in past_the_end.text  # clamped to the last page


def test_chart_builders_return_valid_titled_plotly_figures_with_the_data():
    import plotly.graph_objects as go

    from metrics import charts

    figures = [
        charts.retention_by_quarter(quarters=["2026 Q1"], retention=[80.0], churn=[20.0]),
        charts.line_over_time(
            title="MRR",
            y_title="MRR",
            days=["2026-03-01"],
            values=[10.0],
            name="MRR",
            second=("Other", [3]),
        ),
        charts.risk_distribution(labels=["0", "1-24"], counts=[3, 1]),
        charts.by_week(
            title="Misses", y_title="%", weeks=["2026-03-02"], values=[12.5], name="Misses"
        ),
    ]
    for figure in figures:
        go.Figure(figure)  # raises on any attribute Plotly does not know
        assert figure["layout"]["title"]["text"]
        assert figure["layout"]["yaxis"]["title"]["text"]
    assert [trace["y"] for trace in figures[0]["data"]] == [[80.0], [20.0]]
    assert figures[2]["data"][0]["y"] == [3, 1]
    assert figures[3]["data"][0]["x"] == ["2026-03-02"] and figures[3]["data"][0]["y"] == [12.5]
    # One snapshot: the axis shows the days around it, not the hours of that day.
    single = charts.line_over_time(
        title="MRR", y_title="MRR", days=["2026-03-01"], values=[1.0], name="MRR"
    )
    assert single["layout"]["xaxis"]["range"] == ["2026-02-22", "2026-03-08"]


def test_a_page_that_is_not_there_is_a_styled_404(client, agency):
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    response = client.get("/pods/no-such-pod/")

    assert response.status_code == 404
    assert "Nothing here" in response.text and 'class="mainnav"' in response.text


def test_pod_page_shows_its_people_and_clients_and_404s_for_other_pods(client, agency):
    alpha, alpha_am = agency["alpha"]
    bravo, _ = agency["bravo"]
    client.force_login(alpha_am.user)

    own = client.get(f"/pods/{alpha.key}/")
    other = client.get(f"/pods/{bravo.key}/")

    assert own.status_code == 200
    assert "Alpha manager" in own.text and "Alpha client 02" in own.text
    assert "Bravo client" not in own.text
    assert other.status_code == 404


@pytest.mark.parametrize("clients_per_pod", [2, 12])
def test_pod_page_runs_a_fixed_number_of_queries(
    client, monkeypatch, django_assert_max_num_queries, clients_per_pod
):
    pod, am = pod_with_clients("Alpha", clients_per_pod, quiet=1)
    monkeypatch.setattr("metrics.views.pages.agency_today", lambda: TODAY)
    refresh_current(today=TODAY)
    client.force_login(am.user)

    with django_assert_max_num_queries(12):
        response = client.get(f"/pods/{pod.key}/")
    assert response.status_code == 200


def test_leaderboard_ranks_people_per_role_with_their_parts(client, agency):
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    response = client.get("/leaderboard/")

    assert response.status_code == 200
    assert "Account managers" in response.text
    assert "Alpha manager" in response.text and "Bravo manager" in response.text
    assert "Weekly goal completion" in response.text  # a KPI column with its target
    assert "target ≥ 80 · weight 30" in response.text


def test_the_leaderboard_pages_each_role_with_the_same_queries(client, agency):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    leader = factories.staff(role=Role.LEADERSHIP).user
    client.force_login(leader)
    with CaptureQueriesContext(connection) as small:
        client.get("/leaderboard/")
    alpha, _ = agency["alpha"]
    for n in range(23):
        factories.staff(pod=alpha, name=f"Extra manager {n:02d}")
    refresh_current(today=TODAY)
    client.force_login(leader)

    with CaptureQueriesContext(connection) as large:
        first = client.get("/leaderboard/")
    second = client.get("/leaderboard/?role=account_manager&page=2")

    assert len(small) == len(large)
    assert "Ranks 1–20 of 25" in first.text
    assert "Ranks 21–25 of 25" in second.text
    assert 'href="?period=quarter&amp;role=account_manager&amp;page=2#role-account_manager"' in (
        first.text
    )
    scores = '<td class="num"><strong>'  # one per person shown
    assert (first.text.count(scores), second.text.count(scores)) == (20, 5)


def test_an_account_manager_sees_only_their_pod_on_the_leaderboard(client, agency):
    _, alpha_am = agency["alpha"]
    client.force_login(alpha_am.user)

    response = client.get("/leaderboard/")

    assert "Alpha manager" in response.text
    assert "Bravo manager" not in response.text


def test_department_page_is_for_leadership_only(client, agency):
    alpha, alpha_am = agency["alpha"]
    department = factories.department(name="Account management")
    alpha.department = department
    alpha.save()
    refresh_current(today=TODAY)

    client.force_login(alpha_am.user)
    assert client.get(f"/departments/{department.key}/").status_code == 404

    client.force_login(factories.staff(role=Role.DIRECTOR).user)
    response = client.get(f"/departments/{department.key}/")
    assert response.status_code == 200
    assert "Alpha" in response.text and "Bravo" not in response.text


def test_the_pods_tables_page_their_pods_with_the_same_queries(client, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr("metrics.views.pages.agency_today", lambda: TODAY)
    department = factories.department(name="Account management")
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)
    urls = ["/", "/?panel=pods", f"/departments/{department.key}/"]
    counts = []
    for first, last in ((0, 2), (2, 13)):
        for n in range(first, last):
            pod, _ = pod_with_clients(f"Pod {n:02d}", 1)
            pod.department = department
            pod.save()
        refresh_current(today=TODAY)
        sizes = []
        for url in urls:
            headers = {"HX-Request": "true"} if "panel" in url else {}
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url, headers=headers).status_code == 200
            sizes.append(len(queries))
        counts.append(sizes)

    assert counts[0] == counts[1], counts
    page = client.get(f"/departments/{department.key}/")
    assert "Pod 09" in page.text and "Pod 10" not in page.text
    assert "1–10 of 13" in page.text
    second = client.get(f"/departments/{department.key}/?page=2", headers={"HX-Request": "true"})
    assert second.text.lstrip().startswith('<section class="card" id="pods">')
    assert "Pod 10" in second.text and "Pod 12" in second.text and "Pod 09" not in second.text
    godview = client.get("/?pods_page=2")
    assert "Pods 11–13 of 13" in godview.text and ">Pod 12</a>" in godview.text
    assert ">Pod 09</a>" not in godview.text  # (it is in the pod filter)
    assert 'hx-get="?period=quarter&amp;pods_page=1&amp;panel=pods"' in godview.text
    panel = client.get("/?pods_page=2&panel=pods", headers={"HX-Request": "true"})
    assert panel.text.lstrip().startswith('<section id="pods"') and ">Pod 10</a>" in panel.text


ORDER = {"risk": ("risk_score", "days_inactive"), "days": ("days_inactive", "risk_score")}


@pytest.mark.parametrize("sort", ["risk", "days", "mrr"])
def test_the_at_risk_table_sorts_by_the_stored_figures(client, monkeypatch, sort):
    from clients.models import Client
    from metrics.models import MetricRow

    pod = factories.pod(name="Alpha")
    am = factories.staff(pod=pod, name="Alpha manager")
    for n, (days, fee) in enumerate([(12, "3000"), (40, "1000"), (25, "2000"), (3, "5000")]):
        acme = factories.client(pod=pod, account_manager=am, name=f"Client {n}")
        factories.engagement(acme, datetime.date(2025, 1, 1), monthly_fee=fee)
        factories.touchpoint(acme, TODAY - datetime.timedelta(days=days), channel="call")
    monkeypatch.setattr("metrics.views.pages.agency_today", lambda: TODAY)
    refresh_current(today=TODAY)
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)
    stored = MetricRow.objects.filter(
        run__kind="current", run__period="quarter", level="client", values__risk_score__gt=0
    )
    figures = {row.key: row.values for row in stored}
    first, then = ORDER.get(sort, ("mrr", "mrr"))
    names = dict(Client.objects.values_list("key", "name"))
    expected = [
        names[key]
        for key in sorted(figures, key=lambda k: (-figures[k][first], -figures[k][then], k))
    ]

    response = client.get(f"/?panel=at-risk&sort={sort}", headers={"HX-Request": "true"})

    assert len(expected) >= 3
    shown = sorted(expected, key=lambda name: response.text.index(f">{name}</a>"))
    assert shown == expected


def test_person_page_shows_their_clients_and_404s_outside_the_pod(client, agency):
    _, alpha_am = agency["alpha"]
    _, bravo_am = agency["bravo"]
    client.force_login(alpha_am.user)

    own = client.get(f"/people/{alpha_am.key}/")
    other = client.get(f"/people/{bravo_am.key}/")

    assert own.status_code == 200
    assert "Alpha client 01" in own.text
    assert other.status_code == 404


def test_client_warning_panel_shows_risk_and_history_and_404s_outside_the_pod(client, agency):
    from clients.models import Client
    from metrics.services import backfill

    backfill(since=datetime.date(2026, 3, 1), until=TODAY, every_days=7)
    _, alpha_am = agency["alpha"]
    quiet = Client.objects.get(name="Alpha client 00")
    other = Client.objects.get(name="Bravo client 00")
    client.force_login(alpha_am.user)

    panel = client.get(f"/clients/{quiet.key}/warning/", headers={"HX-Request": "true"})

    assert panel.status_code == 200
    assert "<html" not in panel.text
    assert "30 days since last contact; standard is 10" in panel.text
    assert "sla_breach" in panel.text  # a signal that came, in the history table
    assert client.get(f"/clients/{other.key}/warning/").status_code == 404
    page = client.get(f"/clients/{quiet.key}/")
    assert f'hx-get="/clients/{quiet.key}/warning/"' in page.text


def test_the_pod_filter_narrows_tiles_risk_and_pods(client, agency):
    alpha, _ = agency["alpha"]
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    response = client.get(f"/?pod={alpha.key}")

    assert "Alpha client 00" in response.text
    assert "Bravo client 00" not in response.text
    assert ">3<" in response.text  # the pod's three active clients, not the agency's five
    assert f"&amp;pod={alpha.key}" in response.text  # the period links keep the filter


def test_an_unknown_or_invisible_filter_is_ignored(client, agency):
    _, alpha_am = agency["alpha"]
    bravo, _ = agency["bravo"]
    client.force_login(alpha_am.user)

    response = client.get(f"/?pod={bravo.key}&department=nope")

    assert response.status_code == 200
    assert "Bravo client" not in response.text


def test_tactics_page_shows_win_loss_by_kind_owner_and_confidence(client, agency):
    from workflows.models import Tactic

    alpha, alpha_am = agency["alpha"]
    acme = alpha.clients.first()
    for n, (outcome, confidence) in enumerate([("win", 99), ("loss", 95), ("win", None)]):
        Tactic.objects.create(
            key=f"t{n}",
            client=acme,
            owner=alpha_am,
            name=f"Test {n}",
            kind="cro_test" if confidence else "tactic",
            started_on=datetime.date(2026, 1, 5),
            ended_on=datetime.date(2026, 2, 1),
            outcome=outcome,
            confidence=confidence,
        )
    refresh_current(today=TODAY)
    client.force_login(factories.staff(role=Role.LEADERSHIP).user)

    response = client.get("/tactics/")

    assert response.status_code == 200
    text = response.text
    assert "Alpha manager" in text
    assert "66.7%" in text  # 2 wins / (2 wins + 1 loss)
    assert "&gt;=99%" in text and "95-99%" in text


def test_training_page_shows_latest_results_and_missing_required_modules(client, agency):
    from workflows.models import TrainingModule, TrainingResult

    alpha, alpha_am = agency["alpha"]
    factories.staff(role=Role.DESIGNER, pod=alpha, name="Alpha designer")
    module = TrainingModule.objects.create(key="ppc", name="PPC basics", pass_score=80)
    TrainingResult.objects.create(
        staff=alpha_am, module=module, completed_on=datetime.date(2026, 1, 10), score=70
    )
    TrainingResult.objects.create(
        staff=alpha_am, module=module, completed_on=datetime.date(2026, 2, 10), score=90
    )
    refresh_current(today=TODAY)
    client.force_login(alpha_am.user)

    response = client.get("/training/")

    assert response.status_code == 200
    assert "✓ 90" in response.text  # the retake counts, not the first try
    assert "✗ 70" not in response.text
    assert "required, not taken" in response.text  # the designer has not taken it
    assert "Bravo manager" not in response.text


def test_the_training_page_pages_people_with_the_same_queries(client, agency):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflows.models import TrainingModule

    TrainingModule.objects.create(key="onboarding", name="Onboarding", pass_score=70)
    leader = factories.staff(role=Role.LEADERSHIP, name="Zed Leader").user
    client.force_login(leader)
    with CaptureQueriesContext(connection) as small:
        client.get("/training/")
    alpha, _ = agency["alpha"]
    for n in range(30):
        factories.staff(pod=alpha, name=f"Extra person {n:02d}")

    with CaptureQueriesContext(connection) as large:
        first = client.get("/training/")
    second = client.get("/training/?period=quarter&page=2", headers={"HX-Request": "true"})

    assert len(small) == len(large)
    assert "1–25 of 33" in first.text and "Extra person 21" in first.text
    assert second.text.lstrip().startswith('<section class="card" id="people">')
    assert "26–33 of 33" in second.text and "Zed Leader" in second.text
    assert "Extra person 21" not in second.text
