"""Communication (DOMAIN.md): days inactive, its mean and maximum, SLA breaches."""

import pytest

from godview.models import AgencySettings
from tests.metrics_fixture import (
    D,
    build_agency,
    client,
    compute,
    date,
    round_half_up,
    row,
    small_org,
    touchpoint,
)

pytestmark = pytest.mark.django_db

SINCE_2025 = [(date(2025, 1, 1), None, "1000")]


@pytest.fixture
def agency():
    return build_agency()


def test_days_inactive_by_level(agency):
    result = compute()

    # a1: last outbound touch Mar 21 (the inbound email of Mar 28 and the call of Apr 2 do
    # not count): 10. a2: inbound call on D: 0. a4: no touch, service began Feb 1: 58.
    # b3: its only touch was in the earlier service period; current one began Mar 1: 30.
    # c1: report Mar 20: 11. c2: chat Mar 29: 2.
    expected_days = {"a1": 10, "a2": 0, "a4": 58, "b3": 30, "c1": 11, "c2": 2}
    for key, days in expected_days.items():
        assert row(result, "clients", key)["days_inactive"] == days, key
    # listed for the period but not active on D
    for key in ("a3", "b2", "b4"):
        assert row(result, "clients", key)["days_inactive"] is None, key

    pod_a = row(result, "pods", "pod-a")
    assert pod_a["avg_days_inactive"] == round_half_up((10 + 0 + 58) / 3, 2) == 22.67
    assert pod_a["max_days_inactive"] == 58
    assert pod_a["sla_breaches"] == 1  # a4 (a1 is exactly 10: not a breach)

    pod_b = row(result, "pods", "pod-b")
    assert (pod_b["avg_days_inactive"], pod_b["max_days_inactive"], pod_b["sla_breaches"]) == (
        30.0,
        30,
        1,
    )

    pod_c = row(result, "pods", "pod-c")
    assert pod_c["avg_days_inactive"] == (11 + 2) / 2 == 6.5
    assert pod_c["max_days_inactive"] == 11
    assert pod_c["sla_breaches"] == 1

    dept_am = row(result, "departments", "dept-am")
    assert dept_am["avg_days_inactive"] == (10 + 0 + 58 + 30) / 4 == 24.5
    assert dept_am["max_days_inactive"] == 58
    assert dept_am["sla_breaches"] == 2

    agency_row = result["agency"]
    assert agency_row["avg_days_inactive"] == (10 + 0 + 58 + 30 + 11 + 2) / 6 == 18.5
    assert agency_row["max_days_inactive"] == 58
    assert agency_row["sla_breaches"] == 3

    am_a1 = row(result, "staff", "am-a1")  # a1, a2
    assert am_a1["avg_days_inactive"] == (10 + 0) / 2 == 5.0
    assert am_a1["max_days_inactive"] == 10
    assert am_a1["sla_breaches"] == 0
    am_a2 = row(result, "staff", "am-a2")  # a4 (a3 is not active on D)
    assert (am_a2["avg_days_inactive"], am_a2["max_days_inactive"]) == (58.0, 58)


def test_an_inbound_email_does_not_count_while_an_inbound_call_does():
    org = small_org()
    emailed_us = client("emailed-us", pod=org.pod, am=org.am, engagements=SINCE_2025)
    touchpoint(emailed_us, date(2026, 3, 1), "email")
    touchpoint(emailed_us, date(2026, 3, 28), "email", "inbound")  # we have not answered
    called_us = client("called-us", pod=org.pod, am=org.am, engagements=SINCE_2025)
    touchpoint(called_us, date(2026, 3, 1), "email")
    touchpoint(called_us, date(2026, 3, 20), "call", "inbound")  # a call counts either way
    chatted = client("chatted", pod=org.pod, am=org.am, engagements=SINCE_2025)
    touchpoint(chatted, date(2026, 3, 25), "report")
    touchpoint(chatted, date(2026, 3, 30), "chat", "inbound")
    met = client("met", pod=org.pod, am=org.am, engagements=SINCE_2025)
    touchpoint(met, date(2026, 3, 29), "meeting", "inbound")  # a meeting counts either way

    result = compute()

    assert row(result, "clients", "emailed-us")["days_inactive"] == (D - date(2026, 3, 1)).days
    assert row(result, "clients", "emailed-us")["days_inactive"] == 30
    assert row(result, "clients", "called-us")["days_inactive"] == 11  # Mar 31 - Mar 20
    assert row(result, "clients", "chatted")["days_inactive"] == 6  # Mar 31 - Mar 25
    assert row(result, "clients", "met")["days_inactive"] == 2  # Mar 31 - Mar 29
    agency_row = result["agency"]
    assert agency_row["avg_days_inactive"] == (30 + 11 + 6 + 2) / 4 == 12.25
    assert agency_row["max_days_inactive"] == 30
    assert agency_row["sla_breaches"] == 2  # 30 and 11 > 10


def test_touchpoints_after_d_and_from_an_earlier_service_period_do_not_count():
    org = small_org()
    returned = client(
        "returned",
        pod=org.pod,
        am=org.am,
        engagements=[
            (date(2025, 1, 1), date(2025, 12, 15), "1000"),
            (date(2026, 3, 1), None, "1000"),
        ],
    )
    touchpoint(returned, date(2025, 12, 10), "meeting")  # earlier service period
    touchpoint(returned, date(2026, 2, 10), "call")  # in the gap, before the current period
    touchpoint(returned, date(2026, 4, 2), "call")  # after D
    recent = client("recent", pod=org.pod, am=org.am, engagements=SINCE_2025)
    touchpoint(recent, date(2026, 3, 25), "email")
    touchpoint(recent, date(2026, 4, 1), "email")  # after D

    result = compute()

    # the later of (no counting touch in the current period) and its start, Mar 1
    assert row(result, "clients", "returned")["days_inactive"] == (D - date(2026, 3, 1)).days
    assert row(result, "clients", "returned")["days_inactive"] == 30
    assert row(result, "clients", "recent")["days_inactive"] == 6  # Mar 31 - Mar 25


def test_a_fee_change_does_not_restart_the_service_period():
    org = small_org()
    upsold = client(
        "upsold",
        pod=org.pod,
        am=org.am,
        engagements=[
            (date(2025, 1, 1), date(2026, 1, 31), "1000"),
            (date(2026, 2, 1), None, "1500"),
        ],
    )
    touchpoint(upsold, date(2025, 12, 1), "email")
    client(
        "silent",
        pod=org.pod,
        am=org.am,
        engagements=[
            (date(2025, 1, 1), date(2026, 1, 31), "1000"),
            (date(2026, 2, 1), None, "1500"),
        ],
    )

    result = compute()

    # the service period began 2025-01-01; Dec 1 is in it: Mar 31 - Dec 1 = 30 + 31 + 28 + 31
    assert row(result, "clients", "upsold")["days_inactive"] == 30 + 31 + 28 + 31 == 120
    # no touch at all: D - 2025-01-01 (not D - 2026-02-01 = 58)
    assert row(result, "clients", "silent")["days_inactive"] == (D - date(2025, 1, 1)).days
    assert row(result, "clients", "silent")["days_inactive"] == 454


def test_sla_breach_is_strictly_more_than_sla_days():
    org = small_org()
    ten = client("ten", pod=org.pod, am=org.am, engagements=SINCE_2025)
    touchpoint(ten, date(2026, 3, 21), "email")  # 10 days
    eleven = client("eleven", pod=org.pod, am=org.am, engagements=SINCE_2025)
    touchpoint(eleven, date(2026, 3, 20), "email")  # 11 days
    six = client("six", pod=org.pod, am=org.am, engagements=SINCE_2025)
    touchpoint(six, date(2026, 3, 25), "email")  # 6 days

    assert compute()["agency"]["sla_breaches"] == 1  # only 11 > 10

    settings_row = AgencySettings.load()
    settings_row.sla_days = 5
    settings_row.save()
    assert compute()["agency"]["sla_breaches"] == 3  # 10, 11 and 6 > 5


def test_avg_days_inactive_rounds_halves_away_from_zero():
    org = small_org()
    for n in range(8):
        touched = client(f"c{n}", pod=org.pod, am=org.am, engagements=SINCE_2025)
        # seven clients heard from us on D, one the day before
        touchpoint(touched, D if n else date(2026, 3, 30), "call")

    agency_row = compute()["agency"]

    # (7 x 0 + 1) / 8 = 0.125 -> 0.13 (not 0.12)
    assert agency_row["avg_days_inactive"] == round_half_up(1 / 8, 2) == 0.13
    assert agency_row["max_days_inactive"] == 1
