"""Goals (DOMAIN.md): weekly goals set and met, completion rate, client weeks without goals,
client goal pace (on track, at risk, off track)."""

from decimal import Decimal

import pytest

from godview.models import AgencySettings, Role
from tests.metrics_fixture import (
    START,
    D,
    build_agency,
    client,
    client_goal,
    compute,
    date,
    pct,
    row,
    small_org,
    staff,
    weekly_goal,
)

pytestmark = pytest.mark.django_db

SINCE_2025 = [(date(2025, 1, 1), None, "1000")]
# The weeks that start in the period and have ended on D: Mondays Jan 5 .. Mar 23.
ENDED_WEEKS = 12


@pytest.fixture
def agency():
    return build_agency()


def goal_figures(entry):
    return (entry["weekly_goals_set"], entry["weekly_goals_met"])


def pace(entry):
    return (entry["goals_on_track"], entry["goals_at_risk"], entry["goals_off_track"])


def test_weekly_goals_count_through_the_client_and_the_staff_member(agency):
    result = compute()

    # a1 (am-a1): Mar 16 met, Mar 23 missed. a2: week of Mar 30 has not ended.
    assert goal_figures(row(result, "pods", "pod-a")) == (2, 1)
    assert row(result, "pods", "pod-a")["weekly_goal_completion_rate"] == pct(1, 2) == 50.0
    # b3's goal of Mar 9 was logged by the designer (pod-a) and met: it counts for pod-b
    assert goal_figures(row(result, "pods", "pod-b")) == (1, 1)
    assert row(result, "pods", "pod-b")["weekly_goal_completion_rate"] == 100.0
    # c1: week of Dec 29 starts before the period; week of Jan 5 never closed: set, not met
    assert goal_figures(row(result, "pods", "pod-c")) == (1, 0)
    assert row(result, "pods", "pod-c")["weekly_goal_completion_rate"] == 0.0
    dept_am = row(result, "departments", "dept-am")
    assert goal_figures(dept_am) == (2 + 1, 1 + 1)
    assert dept_am["weekly_goal_completion_rate"] == pct(2, 3) == 66.7
    assert goal_figures(result["agency"]) == (4, 2)
    assert result["agency"]["weekly_goal_completion_rate"] == pct(2, 4) == 50.0

    # staff: their own weekly goals
    assert goal_figures(row(result, "staff", "am-a1")) == (2, 1)
    assert goal_figures(row(result, "staff", "designer")) == (1, 1)
    assert row(result, "staff", "designer")["weekly_goal_completion_rate"] == 100.0
    assert goal_figures(row(result, "staff", "am-b")) == (0, 0)  # b3's goal is the designer's
    assert row(result, "staff", "am-b")["weekly_goal_completion_rate"] is None
    assert goal_figures(row(result, "staff", "am-c")) == (1, 0)

    # clients
    assert goal_figures(row(result, "clients", "a1")) == (2, 1)
    assert goal_figures(row(result, "clients", "a2")) == (0, 0)
    assert row(result, "clients", "a2")["weekly_goal_completion_rate"] is None


def test_client_weeks_without_goals_by_level(agency):
    result = compute()

    # Per client, the ended weeks of the period on whose Monday it was active, less the weeks
    # with a goal:
    #   a1: 12 - 2 (Mar 16, Mar 23) = 10          a2: 12 (its goal is in the open week)
    #   a3: until Feb 15: Jan 5 .. Feb 9 = 6       a4: from Feb 1: Feb 2 .. Mar 23 = 8
    #   b2: ended Jan 1, not active on Jan 5: 0
    #   b3: Jan 5, 12, 19 (ended Jan 20) + Mar 2, 9, 16, 23 = 7, less Mar 9 = 6
    #   b4: Jan 10 .. Mar 10: Jan 12 .. Mar 9 = 9
    #   c1: from Jan 2: 12, less Jan 5 (an open goal is still a goal logged) = 11
    #   c2: from Feb 15: Feb 16 .. Mar 23 = 6
    expected = {"a1": 10, "a2": 12, "a3": 6, "a4": 8, "b2": 0, "b3": 6, "b4": 9, "c1": 11}
    expected["c2"] = 6
    for key, weeks in expected.items():
        assert row(result, "clients", key)["client_weeks_without_goals"] == weeks, key

    assert row(result, "pods", "pod-a")["client_weeks_without_goals"] == 10 + 12 + 6 + 8
    assert row(result, "pods", "pod-b")["client_weeks_without_goals"] == 0 + 6 + 9
    assert row(result, "pods", "pod-c")["client_weeks_without_goals"] == 11 + 6
    assert row(result, "departments", "dept-am")["client_weeks_without_goals"] == 36 + 15
    assert row(result, "departments", "dept-growth")["client_weeks_without_goals"] == 17
    assert result["agency"]["client_weeks_without_goals"] == 36 + 15 + 17
    # account managers: the clients they manage
    assert row(result, "staff", "am-a1")["client_weeks_without_goals"] == 10 + 12
    assert row(result, "staff", "am-a2")["client_weeks_without_goals"] == 6 + 8
    assert row(result, "staff", "am-b")["client_weeks_without_goals"] == 15
    assert row(result, "staff", "am-c")["client_weeks_without_goals"] == 17


def test_goal_pace_by_level(agency):
    result = compute()

    # g-a1: progress 80 / 100 = 0.8, expected 1 (due on D): 0.8 >= 1 - 0.25, at risk
    # g-b3: progress 0 < 0.75: off track
    # g-c1: progress 10 / 10 = 1 >= expected 89 / 180: on track
    assert pace(row(result, "pods", "pod-a")) == (0, 1, 0)
    assert pace(row(result, "pods", "pod-b")) == (0, 0, 1)
    assert pace(row(result, "pods", "pod-c")) == (1, 0, 0)
    assert pace(row(result, "departments", "dept-am")) == (0, 1, 1)
    assert pace(result["agency"]) == (1, 1, 1)
    assert pace(row(result, "staff", "am-a1")) == (0, 1, 0)
    assert pace(row(result, "staff", "am-b")) == (0, 0, 1)
    assert pace(row(result, "clients", "a1")) == (0, 1, 0)
    assert pace(row(result, "clients", "c1")) == (1, 0, 0)


def test_a_week_that_has_not_ended_is_left_out():
    org = small_org()
    acme = client("acme", pod=org.pod, am=org.am, engagements=SINCE_2025)
    weekly_goal(acme, org.am, date(2026, 3, 16), "met")
    weekly_goal(acme, org.am, date(2026, 3, 23), "met")
    weekly_goal(acme, org.am, date(2026, 3, 30), "met")

    # On Sunday Mar 29 the week of Mar 23 has not ended (its Sunday is not before D).
    # Ended weeks Jan 5 .. Mar 16: 11, one with a goal.
    sunday = row(compute(as_of=date(2026, 3, 29), start=START), "clients", "acme")
    assert goal_figures(sunday) == (1, 1)
    assert sunday["client_weeks_without_goals"] == 11 - 1

    # On Monday Mar 30 it has; the week of Mar 30 starts on D and has not.
    monday = row(compute(as_of=date(2026, 3, 30), start=START), "clients", "acme")
    assert goal_figures(monday) == (2, 2)
    assert monday["client_weeks_without_goals"] == 12 - 2

    tuesday = row(compute(as_of=D, start=START), "clients", "acme")
    assert goal_figures(tuesday) == (2, 2)
    assert tuesday["client_weeks_without_goals"] == ENDED_WEEKS - 2


def test_open_after_its_week_counts_as_not_met():
    org = small_org()
    designer = staff("designer", Role.DESIGNER, pod=org.pod)
    acme = client("acme", pod=org.pod, am=org.am, engagements=SINCE_2025)
    weekly_goal(acme, org.am, date(2026, 3, 2), "met")
    weekly_goal(acme, org.am, date(2026, 3, 2), "missed")
    weekly_goal(acme, designer, date(2026, 3, 2), "open")
    weekly_goal(acme, org.am, date(2025, 12, 29), "met")  # its week starts before Jan 1

    result = compute()

    assert goal_figures(row(result, "clients", "acme")) == (3, 1)
    assert row(result, "clients", "acme")["weekly_goal_completion_rate"] == pct(1, 3) == 33.3
    assert goal_figures(row(result, "staff", "am")) == (2, 1)
    assert goal_figures(row(result, "staff", "designer")) == (1, 0)
    assert row(result, "staff", "designer")["weekly_goal_completion_rate"] == 0.0
    # one week of the 12 had goals
    assert row(result, "clients", "acme")["client_weeks_without_goals"] == 12 - 1


def test_client_weeks_without_goals_need_the_client_active_on_monday():
    org = small_org()
    # Wednesday Jan 7 .. Sunday Mar 22: active on the Mondays Jan 12 .. Mar 16 (10 weeks)
    acme = client(
        "acme", pod=org.pod, am=org.am, engagements=[(date(2026, 1, 7), date(2026, 3, 22), "1")]
    )
    weekly_goal(acme, org.am, date(2026, 2, 2), "missed")  # a missed goal is still a goal

    result = compute()

    assert row(result, "clients", "acme")["client_weeks_without_goals"] == 10 - 1
    assert result["agency"]["client_weeks_without_goals"] == 9
    assert row(result, "staff", "am")["client_weeks_without_goals"] == 9


@pytest.fixture
def paced():
    """Goals of one client, with D = Mar 31. Most start Mar 1 and are due Apr 30: expected
    = (Mar 31 - Mar 1) / (Apr 30 - Mar 1) = 30 / 60 = 0.5."""
    org = small_org()
    acme = client("acme", pod=org.pod, am=org.am, engagements=SINCE_2025)
    march = {"starts_on": date(2026, 3, 1), "due_on": date(2026, 4, 30)}
    # progress (current - baseline) / (target - baseline)
    client_goal(acme, "on-edge", baseline=0, target=100, current=50, **march)  # 0.5: on
    client_goal(acme, "risk-edge", baseline=0, target=100, current=25, **march)  # 0.25: risk
    client_goal(acme, "off", baseline=0, target=100, current=24, **march)  # 0.24: off
    # lower is better: (75 - 100) / (50 - 100) = 0.5: on
    client_goal(acme, "cpa-down", baseline=100, target=50, current=75, **march)
    # (95 - 100) / (50 - 100) = 0.1: off
    client_goal(acme, "cpa-stuck", baseline=100, target=50, current=95, **march)
    client_goal(acme, "overshoot", baseline=0, target=100, current=150, **march)  # 1.5: on
    # due Mar 15: expected (89 / 73) clamped to 1; 0.8 >= 1 - 0.25: at risk
    client_goal(
        acme,
        "overdue",
        baseline=0,
        target=100,
        current=80,
        starts_on=date(2026, 1, 1),
        due_on=date(2026, 3, 15),
    )
    # no pace, not counted
    client_goal(acme, "no-current", baseline=0, target=100, current=None, **march)
    client_goal(acme, "flat", baseline=100, target=100, current=100, **march)
    client_goal(
        acme,
        "zero-length",
        baseline=0,
        target=100,
        current=0,
        starts_on=date(2026, 3, 1),
        due_on=date(2026, 3, 1),
    )
    # not open, or not started by D: not counted
    client_goal(acme, "met", baseline=0, target=100, current=0, status="met", **march)
    client_goal(acme, "missed", baseline=0, target=100, current=0, status="missed", **march)
    client_goal(
        acme,
        "later",
        baseline=0,
        target=100,
        current=0,
        starts_on=date(2026, 4, 1),
        due_on=date(2026, 6, 30),
    )
    return org


def test_goal_pace_edges(paced):
    result = compute()

    # on: on-edge, cpa-down, overshoot; at risk: risk-edge, overdue; off: off, cpa-stuck
    assert pace(row(result, "clients", "acme")) == (3, 2, 2)
    assert pace(row(result, "staff", "am")) == (3, 2, 2)
    assert pace(row(result, "pods", "pod")) == (3, 2, 2)
    assert pace(result["agency"]) == (3, 2, 2)


def test_goal_pace_uses_the_at_risk_margin_setting(paced):
    settings_row = AgencySettings.load()
    settings_row.pace_at_risk_margin = Decimal("0.10")
    settings_row.save()

    # risk-edge: 0.25 < 0.5 - 0.10; overdue: 0.8 < 1 - 0.10: both off track now
    assert pace(row(compute(), "clients", "acme")) == (3, 0, 4)
