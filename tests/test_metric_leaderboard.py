"""Leaderboard (DOMAIN.md): per KPI, attainment = fact / target (higher is better) or
target / fact (lower is better; 1.5 when the fact is 0), clamped to [0, 1.5]; score = 100 x
the weighted mean of the attainments over KPIs with a fact; ranks within a role, equal
scores sharing a rank (1, 2, 2, 4). No training module exists in these tests, so every
training_completion_rate fact is null and skipped."""

import pytest

from godview.models import AgencySettings, Role
from tests.metrics_fixture import (
    D,
    client,
    compute,
    cro_test,
    date,
    deal,
    round_half_up,
    row,
    small_org,
    staff,
    task,
    touchpoint,
    weekly_goal,
)

pytestmark = pytest.mark.django_db

SINCE_2025 = [(date(2025, 1, 1), None, "1000")]


def parts(entry):
    """The leaderboard parts keyed by KPI: {kpi: {fact, target, direction, attainment,
    weight}}."""
    by_kpi = {}
    for given in entry["leaderboard_parts"]:
        rest = dict(given)
        by_kpi[rest.pop("kpi")] = rest
    return by_kpi


def part(fact, target, direction, attainment, weight):
    return {
        "fact": fact,
        "target": target,
        "direction": direction,
        "attainment": attainment,
        "weight": weight,
    }


def test_account_manager_score_with_a_zero_fact_and_a_skipped_kpi():
    org = small_org()
    acme = client("acme", pod=org.pod, am=org.am, engagements=SINCE_2025)
    touchpoint(acme, date(2026, 3, 17), "email")  # D - Mar 17 = 14 days inactive
    # their own weekly goals: 3 met of 5 = 60%
    weeks = [
        (date(2026, 1, 5), "met"),
        (date(2026, 1, 12), "met"),
        (date(2026, 1, 19), "met"),
        (date(2026, 1, 26), "missed"),
        (date(2026, 2, 2), "missed"),
    ]
    for monday, status in weeks:
        weekly_goal(acme, org.am, monday, status)
    # their tasks: 2 due, both on time: miss rate 0
    task(acme, "t1", date(2026, 3, 10), assignee=org.am, completed=date(2026, 3, 10))
    task(acme, "t2", date(2026, 3, 20), assignee=org.am, completed=date(2026, 3, 19))

    am = row(compute(), "staff", "am")

    assert parts(am) == {
        # 60 / 80
        "weekly_goal_completion_rate": part(60.0, 80, "higher", 0.75, 30),
        # lower is better and the fact is 0: 1.5
        "deadline_miss_rate": part(0.0, 10, "lower", 1.5, 25),
        # 7 / 14
        "avg_days_inactive": part(14.0, 7, "lower", 0.5, 25),
        # no required module: no fact, skipped
        "training_completion_rate": part(None, 100, "higher", None, 20),
    }
    # 100 x (30 x 0.75 + 25 x 1.5 + 25 x 0.5) / (30 + 25 + 25) = 100 x 72.5 / 80 = 90.625
    expected = round_half_up(100 * (30 * 0.75 + 25 * 1.5 + 25 * 0.5) / (30 + 25 + 25), 2)
    assert am["leaderboard_score"] == expected == 90.63
    assert am["leaderboard_rank"] == 1


def test_designer_attainment_is_clamped_at_one_and_a_half():
    org = small_org()
    designer = staff("designer", Role.DESIGNER, pod=org.pod)
    acme = client("acme", pod=org.pod, am=org.am, engagements=SINCE_2025)
    # their CRO tests: 1 win, 1 loss: 50%; 50 / 30 = 1.67, clamped to 1.5
    cro_test(acme, "win", outcome="win", confidence=97, owner=designer)
    cro_test(acme, "loss", outcome="loss", confidence=97, owner=designer)
    # their tasks: 4 due, 1 missed: 25%; 10 / 25 = 0.4
    task(acme, "t1", date(2026, 3, 2), assignee=designer, completed=date(2026, 3, 2))
    task(acme, "t2", date(2026, 3, 3), assignee=designer, completed=date(2026, 3, 3))
    task(acme, "t3", date(2026, 3, 4), assignee=designer, completed=date(2026, 3, 4))
    task(acme, "t4", date(2026, 3, 5), assignee=designer)  # open: missed

    designer_row = row(compute(), "staff", "designer")

    assert parts(designer_row) == {
        "cro_win_rate": part(50.0, 30, "higher", 1.5, 40),
        "deadline_miss_rate": part(25.0, 10, "lower", 0.4, 40),
        "training_completion_rate": part(None, 100, "higher", None, 20),
    }
    # 100 x (40 x 1.5 + 40 x 0.4) / (40 + 40) = 100 x 76 / 80
    assert designer_row["leaderboard_score"] == 100 * (40 * 1.5 + 40 * 0.4) / 80 == 95.0
    assert designer_row["leaderboard_rank"] == 1


@pytest.fixture
def sellers():
    """Five sales people; deal win rates 100%, 20%, 20%, 0% and none."""
    org = small_org()
    people = {key: staff(key, Role.SALES, department=org.department) for key in "abcde"}
    outcomes = {"a": (3, 0), "b": (1, 4), "c": (2, 8), "d": (0, 1), "e": (0, 0)}
    for key, (won, lost) in outcomes.items():
        for n in range(won):
            deal(f"{key}-won-{n}", owner=people[key], status="won", closed_on=date(2026, 2, 1))
        for n in range(lost):
            deal(f"{key}-lost-{n}", owner=people[key], status="lost", closed_on=date(2026, 2, 1))
    return org


def test_ranks_are_shared_by_equal_scores(sellers):
    result = compute()
    scores = {key: row(result, "staff", key)["leaderboard_score"] for key in "abcde"}
    ranks = {key: row(result, "staff", key)["leaderboard_rank"] for key in "abcde"}

    # only deal_win_rate has a fact: score = 100 x attainment
    assert scores == {
        "a": 150.0,  # 100 / 30 = 3.33, clamped to 1.5
        "b": round_half_up(100 * 20 / 30, 2),  # 1 / 5 = 20%: 66.67
        "c": round_half_up(100 * 20 / 30, 2),  # 2 / 10 = 20%
        "d": 0.0,  # 0 / 30
        "e": None,  # no deal closed: no fact at all
    }
    assert scores["b"] == 66.67
    assert ranks == {"a": 1, "b": 2, "c": 2, "d": 4, "e": None}
    assert parts(row(result, "staff", "e"))["deal_win_rate"] == part(None, 30, "higher", None, 60)
    assert parts(row(result, "staff", "d"))["deal_win_rate"] == part(0.0, 30, "higher", 0.0, 60)


def test_ranks_are_per_role_and_roles_without_kpis_have_no_score(sellers):
    result = compute()

    # the account manager is ranked among account managers only: no fact at all (no client,
    # no weekly goal, no task, no module), so no score and no rank
    assert row(result, "staff", "am")["leaderboard_score"] is None
    assert row(result, "staff", "am")["leaderboard_rank"] is None
    # directors have no KPIs by default
    director = row(result, "staff", "director")
    assert director.get("leaderboard_score") is None
    assert director.get("leaderboard_rank") is None
    assert not director.get("leaderboard_parts")
    assert row(result, "staff", "a")["leaderboard_rank"] == 1


def test_leaderboard_kpis_come_from_the_settings(sellers):
    settings_row = AgencySettings.load()
    settings_row.leaderboard_kpis = {
        "sales": {"deal_win_rate": {"target": 40, "direction": "higher", "weight": 1}}
    }
    settings_row.save()

    result = compute()

    b = row(result, "staff", "b")
    assert parts(b) == {"deal_win_rate": part(20.0, 40, "higher", 0.5, 1)}
    assert b["leaderboard_score"] == 100 * 20 / 40 == 50.0
    assert row(result, "staff", "a")["leaderboard_score"] == 150.0  # 100 / 40 = 2.5 -> 1.5
    assert row(result, "staff", "d")["leaderboard_rank"] == 4


def test_the_leaderboard_covers_the_period_only(sellers):
    # from Feb 2 on, none of the Feb 1 deals is in the period
    result = compute(as_of=D, start=date(2026, 2, 2))
    assert row(result, "staff", "a")["leaderboard_score"] is None
    assert row(result, "staff", "a")["leaderboard_rank"] is None
