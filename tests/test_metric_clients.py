"""Clients and revenue (DOMAIN.md): active clients, MRR, retention, churn, acquired, lost,
NRR, GRR, ARPA, average lifetime and CLV, by level."""

from decimal import Decimal

import pytest

from tests.metrics_fixture import (
    build_agency,
    client,
    compute,
    date,
    months,
    pct,
    round_half_up,
    row,
    small_org,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def agency():
    return build_agency()


def test_pods_count_their_clients_and_revenue(agency):
    result = compute()

    pod_a = row(result, "pods", "pod-a")
    # S = {a1, a2, a3}; E = {a1, a2, a4}; N = {a4} (a2's fee change is not a churn)
    assert pod_a["active_clients"] == 3
    assert pod_a["mrr"] == 1000 + 3000 + 500
    assert pod_a["retention_rate"] == pct(3 - 1, 3) == 66.7
    assert pod_a["churn_rate"] == round_half_up(100 - (3 - 1) / 3 * 100, 1) == 33.3
    assert pod_a["clients_acquired"] == 1
    assert pod_a["clients_lost"] == 1  # a3
    # start MRR a1 1000 + a2 2000 + a3 1500; end MRR of those a1 1000 + a2 3000 + a3 0
    assert pod_a["nrr"] == pct(1000 + 3000 + 0, 1000 + 2000 + 1500) == 88.9
    # GRR caps a2's end at its start: 1000 + min(3000, 2000) + 0
    assert pod_a["grr"] == pct(1000 + 2000 + 0, 4500) == 66.7
    assert pod_a["arpa"] == 4500 / 3
    # the only former client: a3, 2025-03-01..2026-02-15 = 352 days
    assert pod_a["avg_lifetime_months"] == round_half_up(months(352), 2) == 11.56

    pod_b = row(result, "pods", "pod-b")
    # b1 ended the day before the start: not in S. b2 ends on the start day: in S, not in E.
    # b3 left and came back: in S and E, not N (retained). b4 joined and left inside: nowhere.
    assert pod_b["active_clients"] == 1
    assert pod_b["mrr"] == 900
    assert pod_b["retention_rate"] == pct(1 - 0, 2) == 50.0
    assert pod_b["churn_rate"] == 50.0
    assert pod_b["clients_acquired"] == 0
    assert pod_b["clients_lost"] == 1  # b2
    # start MRR b2 1200 + b3 1000; end MRR b2 0 + b3 900 (the decrease is under the cap)
    assert pod_b["nrr"] == pct(0 + 900, 1200 + 1000) == 40.9
    assert pod_b["grr"] == pct(0 + 900, 2200) == 40.9
    assert pod_b["arpa"] == 900.0
    # former clients b1 122 days, b2 93 days (2025-10-01..2026-01-01), b4 60 days
    assert pod_b["avg_lifetime_months"] == round_half_up(months(122 + 93 + 60) / 3, 2) == 3.01

    pod_c = row(result, "pods", "pod-c")
    # no client active on the start day: S = 0, nothing to divide
    assert pod_c["retention_rate"] is None
    assert pod_c["churn_rate"] is None
    assert pod_c["nrr"] is None
    assert pod_c["grr"] is None
    assert pod_c["clients_acquired"] == 2
    assert pod_c["clients_lost"] == 0
    assert pod_c["active_clients"] == 2
    assert pod_c["mrr"] == 2500 + 1500
    assert pod_c["arpa"] == 4000 / 2
    assert pod_c["avg_lifetime_months"] is None  # no former client
    assert pod_c["clv"] is None


def test_departments_and_agency_add_up_their_pods(agency):
    result = compute()

    dept_am = row(result, "departments", "dept-am")  # pod-a + pod-b
    # S = 3 + 2 = 5; E = 3 + 1 = 4; N = 1 + 0 = 1
    assert dept_am["retention_rate"] == pct(4 - 1, 5) == 60.0
    assert dept_am["churn_rate"] == 40.0
    assert dept_am["clients_acquired"] == 1
    assert dept_am["clients_lost"] == 2
    assert dept_am["active_clients"] == 4
    assert dept_am["mrr"] == 4500 + 900
    assert dept_am["nrr"] == pct(4000 + 900, 4500 + 2200) == 73.1
    assert dept_am["grr"] == pct(3000 + 900, 6700) == 58.2
    assert dept_am["arpa"] == 5400 / 4
    # former clients a3 352, b1 122, b2 93, b4 60 days
    assert dept_am["avg_lifetime_months"] == round_half_up(months(352 + 122 + 93 + 60) / 4, 2)
    assert dept_am["avg_lifetime_months"] == 5.15

    dept_growth = row(result, "departments", "dept-growth")  # pod-c only
    assert dept_growth["retention_rate"] is None
    assert dept_growth["clients_acquired"] == 2
    assert dept_growth["mrr"] == 4000

    agency_row = result["agency"]
    # S = 5; E = 4 + 2 = 6; N = 1 + 2 = 3
    assert agency_row["active_clients"] == 6
    assert agency_row["mrr"] == 9400
    assert agency_row["retention_rate"] == pct(6 - 3, 5) == 60.0
    assert agency_row["churn_rate"] == 40.0
    assert agency_row["clients_acquired"] == 3
    assert agency_row["clients_lost"] == 2
    assert agency_row["nrr"] == pct(4900, 6700) == 73.1  # pod-c had no MRR at the start
    assert agency_row["grr"] == pct(3900, 6700) == 58.2
    assert agency_row["arpa"] == round_half_up(9400 / 6, 2) == 1566.67
    assert agency_row["avg_lifetime_months"] == 5.15


def test_account_managers_get_the_figures_of_the_clients_they_manage(agency):
    result = compute()

    am_a1 = row(result, "staff", "am-a1")  # a1, a2
    assert am_a1["active_clients"] == 2
    assert am_a1["mrr"] == 1000 + 3000
    assert am_a1["retention_rate"] == pct(2 - 0, 2) == 100.0
    assert am_a1["churn_rate"] == 0.0
    assert am_a1["nrr"] == pct(1000 + 3000, 1000 + 2000) == 133.3  # a fee increase
    assert am_a1["grr"] == pct(1000 + 2000, 3000) == 100.0
    assert am_a1["arpa"] == 2000.0
    assert am_a1["avg_lifetime_months"] is None
    assert am_a1["clv"] is None

    am_a2 = row(result, "staff", "am-a2")  # a3 (lost), a4 (new)
    # S = 1, E = 1, N = 1: (1 - 1) / 1 = 0, a real zero
    assert am_a2["retention_rate"] == 0.0
    assert am_a2["churn_rate"] == 100.0
    assert am_a2["clients_acquired"] == 1
    assert am_a2["clients_lost"] == 1
    assert am_a2["nrr"] == pct(0, 1500) == 0.0
    assert am_a2["grr"] == 0.0
    assert am_a2["avg_lifetime_months"] == 11.56

    am_c = row(result, "staff", "am-c")
    assert am_c["retention_rate"] is None  # S = 0
    assert am_c["clients_acquired"] == 2


def test_client_mrr_is_its_fee_on_d(agency):
    result = compute()
    assert row(result, "clients", "a1")["mrr"] == 1000
    assert row(result, "clients", "a2")["mrr"] == 3000  # the engagement covering D
    assert row(result, "clients", "b3")["mrr"] == 900
    # listed (active in the period) but not active on D: no engagement covers D, sum is 0
    assert row(result, "clients", "a3")["mrr"] == 0
    assert row(result, "clients", "b4")["mrr"] == 0


def test_a_period_with_no_starting_clients_has_null_retention():
    org = small_org()
    client("new", pod=org.pod, am=org.am, engagements=[(date(2026, 2, 1), None, "1000")])

    agency_row = compute()["agency"]

    # S = 0: (E - N) / S cannot be divided
    assert agency_row["retention_rate"] is None
    assert agency_row["churn_rate"] is None
    assert agency_row["nrr"] is None
    assert agency_row["grr"] is None
    assert agency_row["clients_acquired"] == 1
    assert agency_row["clients_lost"] == 0
    assert agency_row["active_clients"] == 1


def test_a_client_that_joins_and_leaves_inside_the_period_is_in_neither_e_nor_n():
    org = small_org()
    client("steady", pod=org.pod, am=org.am, engagements=[(date(2025, 1, 1), None, "1000")])
    client(
        "brief",
        pod=org.pod,
        am=org.am,
        engagements=[(date(2026, 1, 10), date(2026, 3, 10), "700")],
    )

    agency_row = compute()["agency"]

    # S = {steady}, E = {steady}, N = {}
    assert agency_row["retention_rate"] == pct(1 - 0, 1) == 100.0
    assert agency_row["clients_acquired"] == 0
    assert agency_row["clients_lost"] == 0  # it was not active on the start day
    assert agency_row["active_clients"] == 1


def test_a_client_that_churns_and_returns_is_retained():
    org = small_org()
    client(
        "returns",
        pod=org.pod,
        am=org.am,
        engagements=[
            (date(2025, 1, 1), date(2026, 1, 20), "1000"),
            (date(2026, 3, 1), None, "1000"),
        ],
    )

    agency_row = compute()["agency"]

    # active on both days with a gap between: S = 1, E = 1, N = 0
    assert agency_row["retention_rate"] == pct(1 - 0, 1) == 100.0
    assert agency_row["clients_acquired"] == 0
    assert agency_row["clients_lost"] == 0
    assert agency_row["nrr"] == pct(1000, 1000) == 100.0


def test_a_fee_change_is_not_a_churn():
    org = small_org()
    client(
        "upsold",
        pod=org.pod,
        am=org.am,
        engagements=[
            (date(2025, 1, 1), date(2026, 1, 31), "1000"),
            (date(2026, 2, 1), None, "1200"),
        ],
    )

    agency_row = compute()["agency"]

    assert agency_row["retention_rate"] == 100.0
    assert agency_row["clients_acquired"] == 0
    assert agency_row["clients_lost"] == 0
    assert agency_row["active_clients"] == 1
    assert agency_row["mrr"] == 1200
    assert agency_row["avg_lifetime_months"] is None  # not a former client


def test_engagement_ending_on_the_start_day_counts_as_active_at_start():
    org = small_org()
    # ended_on is the last day of service, inclusive: active on Jan 1
    client(
        "ends-jan-1",
        pod=org.pod,
        am=org.am,
        engagements=[(date(2025, 6, 1), date(2026, 1, 1), "1000")],
    )
    # starts on the start day: active at start, so not new
    client("starts-jan-1", pod=org.pod, am=org.am, engagements=[(date(2026, 1, 1), None, "500")])
    # ended the day before: not active at start
    client(
        "ends-dec-31",
        pod=org.pod,
        am=org.am,
        engagements=[(date(2025, 6, 1), date(2025, 12, 31), "800")],
    )

    agency_row = compute()["agency"]

    # S = {ends-jan-1, starts-jan-1}, E = {starts-jan-1}, N = {}
    assert agency_row["retention_rate"] == pct(1 - 0, 2) == 50.0
    assert agency_row["churn_rate"] == 50.0
    assert agency_row["clients_lost"] == 1
    assert agency_row["clients_acquired"] == 0
    assert agency_row["nrr"] == pct(0 + 500, 1000 + 500) == 33.3


def test_nrr_and_grr_with_a_fee_increase_and_a_decrease():
    org = small_org()
    up = [(date(2025, 1, 1), date(2026, 1, 31), "1000"), (date(2026, 2, 1), None, "1500")]
    down = [(date(2025, 1, 1), date(2026, 1, 31), "2000"), (date(2026, 2, 1), None, "1000")]
    client("up", pod=org.pod, am=org.am, engagements=up)
    client("down", pod=org.pod, am=org.am, engagements=down)
    client(
        "lost",
        pod=org.pod,
        am=org.am,
        engagements=[(date(2025, 1, 1), date(2026, 2, 28), "1000")],
    )
    client("new", pod=org.pod, am=org.am, engagements=[(date(2026, 2, 1), None, "5000")])

    agency_row = compute()["agency"]

    # start clients up, down, lost: start MRR 1000 + 2000 + 1000 = 4000
    # their end MRR 1500 + 1000 + 0 (the new client is not a start client)
    assert agency_row["nrr"] == pct(1500 + 1000 + 0, 4000) == 62.5
    # capped: min(1500, 1000) + min(1000, 2000) + 0
    assert agency_row["grr"] == pct(1000 + 1000 + 0, 4000) == 50.0
    # S = 3, E = {up, down, new} = 3, N = 1
    assert agency_row["retention_rate"] == pct(3 - 1, 3) == 66.7
    assert agency_row["churn_rate"] == 33.3
    assert agency_row["mrr"] == 1500 + 1000 + 5000


def test_avg_lifetime_months_and_clv():
    org = small_org()
    client("a", pod=org.pod, am=org.am, engagements=[(date(2025, 1, 1), None, "1000")])
    client("b", pod=org.pod, am=org.am, engagements=[(date(2025, 1, 1), None, "2000")])
    # former client with two service periods (91 + 122 days) and one coming back after D
    client(
        "f1",
        pod=org.pod,
        am=org.am,
        engagements=[
            (date(2024, 1, 1), date(2024, 3, 31), "500"),
            (date(2024, 6, 1), date(2024, 9, 30), "500"),
            (date(2026, 4, 15), None, "500"),
        ],
    )
    # former client: 2023-01-01..2025-01-30 = 761 days
    client("f2", pod=org.pod, am=org.am, engagements=[(date(2023, 1, 1), date(2025, 1, 30), "700")])
    # never active by D: not a former client
    client("future", pod=org.pod, am=org.am, engagements=[(date(2026, 4, 10), None, "900")])

    agency_row = compute()["agency"]

    # mean over f1 (91 + 122 = 213 days) and f2 (761 days): 974 / 2 = 487 days = 16 months
    lifetime = months((91 + 122 + 761) / 2)
    assert lifetime == 16
    assert agency_row["avg_lifetime_months"] == 16.0
    assert agency_row["arpa"] == (1000 + 2000) / 2 == 1500.0
    assert agency_row["clv"] == 1500 * 16 == 24000.0
    assert agency_row["active_clients"] == 2


def test_lifetime_counts_days_inclusively_and_arpa_needs_active_clients():
    org = small_org()
    # January 1 to 31 is 31 days
    client(
        "gone", pod=org.pod, am=org.am, engagements=[(date(2025, 1, 1), date(2025, 1, 31), "800")]
    )

    result = compute()
    agency_row = result["agency"]

    assert agency_row["avg_lifetime_months"] == round_half_up(months(31), 2) == 1.02
    assert agency_row["active_clients"] == 0
    assert agency_row["mrr"] == 0
    assert agency_row["arpa"] is None  # 0 active clients: nothing to divide by
    assert agency_row["clv"] is None
    # the pod has an account manager and no active client: 0 / 1 is a real 0
    assert row(result, "pods", "pod")["clients_per_am"] == 0


def test_money_rounds_half_away_from_zero():
    org = small_org()
    client("x", pod=org.pod, am=org.am, engagements=[(date(2025, 1, 1), None, "100.01")])
    client("y", pod=org.pod, am=org.am, engagements=[(date(2025, 1, 1), None, "100.00")])

    agency_row = compute()["agency"]

    assert agency_row["mrr"] == 200.01
    # 200.01 / 2 = 100.005 exactly (the fees are exact decimals): the half goes up
    assert agency_row["arpa"] == round_half_up(Decimal("200.01") / 2, 2) == 100.01
