"""The shape of compute_metrics' result (DATA_FORMAT.md, Export): the period, which rows are
listed, which keys each level carries (metrics/registry.py), nulls rather than zeros, types,
rounding, and a query count that does not grow with the agency."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from godview.models import AgencySettings, Role
from metrics import registry
from tests.metrics_fixture import (
    START,
    D,
    build_agency,
    client,
    compute,
    date,
    keys,
    pod,
    round_half_up,
    row,
    small_org,
    task,
)

pytestmark = pytest.mark.django_db

ROLES = {
    "am-a1": Role.ACCOUNT_MANAGER,
    "am-a2": Role.ACCOUNT_MANAGER,
    "am-b": Role.ACCOUNT_MANAGER,
    "am-c": Role.ACCOUNT_MANAGER,
    "designer": Role.DESIGNER,
    "director": Role.DIRECTOR,
    "sales": Role.SALES,
}
LEADERBOARD_KEYS = {"leaderboard_score", "leaderboard_rank", "leaderboard_parts"}
EMPTY_BUCKET = {"wins": 0, "losses": 0, "inconclusive": 0, "win_rate": None}


@pytest.fixture
def agency():
    return build_agency()


def test_the_result_names_its_period(agency):
    result = compute(as_of=D, start=START)

    levels = {"agency", "departments", "pods", "staff", "clients"}
    assert set(result) == {"as_of", "start", "end"} | levels
    assert (result["as_of"], result["start"], result["end"]) == (
        "2026-03-31",
        "2026-01-01",
        "2026-03-31",
    )


@pytest.mark.parametrize(
    ("as_of", "quarter_start"),
    [
        (date(2026, 3, 31), "2026-01-01"),
        (date(2026, 1, 1), "2026-01-01"),
        (date(2026, 5, 15), "2026-04-01"),
        (date(2026, 9, 30), "2026-07-01"),
        (date(2026, 12, 31), "2026-10-01"),
    ],
)
def test_the_default_period_is_the_calendar_quarter_containing_as_of(as_of, quarter_start):
    small_org()
    result = compute(as_of=as_of, start=None)
    assert (result["start"], result["end"], result["as_of"]) == (
        quarter_start,
        as_of.isoformat(),
        as_of.isoformat(),
    )


def test_the_default_period_gives_the_same_numbers_as_the_explicit_one(agency):
    assert compute(as_of=D, start=None) == compute(as_of=D, start=START)


def test_which_rows_are_listed(agency):
    # a client whose service starts after D: not active on any day of the period
    client("future", pod=agency.pod_a, am=agency.am_a1, engagements=[(date(2026, 4, 5), None, "1")])

    result = compute()

    assert keys(result, "departments") == {"dept-am", "dept-growth"}
    assert keys(result, "pods") == {"pod-a", "pod-b", "pod-c"}
    # every active staff member (am-gone is inactive)
    assert keys(result, "staff") == set(ROLES)
    # active on at least one day of [Jan 1, Mar 31]: not b1 (ended Dec 31) nor future;
    # b2 (ended Jan 1), a3 (ended Feb 15) and b4 (Jan 10 .. Mar 10) are
    assert keys(result, "clients") == {"a1", "a2", "a3", "a4", "b2", "b3", "b4", "c1", "c2"}


def expected_keys(level, role=None):
    return {metric.key for metric in registry.METRICS if metric.applies_to(level, role)}


def metric_keys(entry):
    return set(entry) & set(registry.BY_KEY)


def test_each_level_carries_exactly_the_metrics_that_apply(agency):
    result = compute()

    assert metric_keys(result["agency"]) == expected_keys(registry.AGENCY)
    for entry in result["departments"]:
        assert metric_keys(entry) == expected_keys(registry.DEPARTMENT), entry["key"]
    for entry in result["pods"]:
        assert metric_keys(entry) == expected_keys(registry.POD), entry["key"]
    kpi_roles = set(AgencySettings.load().leaderboard_kpis)
    for entry in result["staff"]:
        role, given = ROLES[entry["key"]], metric_keys(entry)
        expected = expected_keys(registry.STAFF, role)
        assert given - LEADERBOARD_KEYS == expected - LEADERBOARD_KEYS, entry["key"]
        if role in kpi_roles:
            assert given >= LEADERBOARD_KEYS, entry["key"]
        else:
            # A role with no KPIs (the director): the registry says the leaderboard applies
            # to every staff member, the brief lists only roles with KPIs. Either reading is
            # accepted: the keys left out, or present and empty.
            assert not entry.get("leaderboard_score"), entry["key"]
            assert not entry.get("leaderboard_rank"), entry["key"]
            assert not entry.get("leaderboard_parts"), entry["key"]
    for entry in result["clients"]:
        assert metric_keys(entry) == expected_keys(registry.CLIENT), entry["key"]

    # spot checks of the rules in words
    designer = row(result, "staff", "designer")
    assert "active_clients" not in designer  # client groups: account managers only
    assert "over_capacity" not in designer
    assert "tasks_due" in designer and "deals_won" in designer and "leaderboard_score" in designer
    am = row(result, "staff", "am-a1")
    assert "over_capacity" in am and "client_weeks_without_goals" in am
    assert "ams_over_capacity" not in am
    a1 = row(result, "clients", "a1")
    assert "retention_rate" not in a1 and "active_clients" not in a1
    assert "training_completion_rate" not in a1 and "deals_won" not in a1
    assert "days_inactive" in a1 and "mrr" in a1 and "risk_score" in a1
    assert "days_inactive" not in result["agency"] and "risk_score" not in result["agency"]


def test_clients_not_active_on_d_have_null_days_inactive_and_risk(agency):
    result = compute()
    for key in ("a3", "b2", "b4"):
        entry = row(result, "clients", key)
        assert entry["days_inactive"] is None, key
        assert entry["risk_score"] is None, key
        assert entry["risk_signals"] is None, key
        assert entry["risk_reasons"] is None, key


def test_an_empty_pod_has_nulls_where_nothing_divides_and_zeros_for_counts():
    small_org()
    pod("empty")

    entry = row(compute(), "pods", "empty")

    nulls = [
        "retention_rate",
        "churn_rate",
        "nrr",
        "grr",
        "arpa",
        "avg_lifetime_months",
        "clv",
        "avg_days_inactive",
        "max_days_inactive",
        "deadline_miss_rate",
        "weekly_goal_completion_rate",
        "tactic_win_rate",
        "win_loss_ratio",
        "cro_win_rate",
        "training_completion_rate",
        "avg_training_score",
        "clients_per_am",
        "deal_win_rate",
    ]
    for key in nulls:
        assert entry[key] is None, key
    zeros = [
        "active_clients",
        "clients_acquired",
        "clients_lost",
        "sla_breaches",
        "tasks_due",
        "tasks_missed",
        "tasks_undated",
        "postponements",
        "postponed_days",
        "unapproved_deadline_changes",
        "possible_recreations",
        "weekly_goals_set",
        "weekly_goals_met",
        "client_weeks_without_goals",
        "goals_on_track",
        "goals_at_risk",
        "goals_off_track",
        "tactic_wins",
        "tactic_losses",
        "tactic_inconclusive",
        "cro_wins",
        "cro_losses",
        "cro_inconclusive",
        "ams_over_capacity",
        "deals_won",
        "deals_lost",
    ]
    for key in zeros:
        assert entry[key] == 0 and type(entry[key]) is int, key
    # sums of nothing are 0, not null
    assert entry["mrr"] == 0
    assert entry["revenue_won"] == 0
    assert entry["cro_by_confidence"] == {
        ">=99": EMPTY_BUCKET,
        "95-99": EMPTY_BUCKET,
        "90-95": EMPTY_BUCKET,
        "<90": EMPTY_BUCKET,
    }


def test_values_are_json_ready_and_typed(agency):
    result = compute()

    assert json.loads(json.dumps(result)) == result
    rows = [result["agency"], *result["departments"], *result["pods"]]
    rows += [*result["staff"], *result["clients"]]
    for entry in rows:
        for key in metric_keys(entry):
            value, unit = entry[key], registry.BY_KEY[key].unit
            where = (entry.get("key", "agency"), key, value)
            if key == "leaderboard_rank":
                assert value is None or type(value) is int, where
            elif unit == registry.COUNT:
                assert type(value) is int, where
            elif unit in (registry.PERCENT, registry.MONEY):
                assert value is None or type(value) is float, where
            elif unit == registry.FLAG:
                assert type(value) is bool, where
            elif key == "risk_score":
                assert value is None or type(value) is int, where
            elif unit in (registry.CODES, registry.TEXTS):
                assert value is None or isinstance(value, list), where
            elif unit in (registry.DAYS, registry.NUMBER, registry.MONTHS, registry.SCORE):
                assert value is None or type(value) in (int, float), where
    assert type(result["agency"]["retention_rate"]) is float  # 60.0, not 60
    assert type(result["agency"]["mrr"]) is float


def test_percentages_round_half_away_from_zero():
    org = small_org()
    acme = client("acme", pod=org.pod, am=org.am, engagements=[(date(2025, 1, 1), None, "1")])
    for n in range(16):
        task(acme, f"t{n}", date(2026, 3, 1), completed=date(2026, 3, 1 if n else 2))

    entry = row(compute(), "clients", "acme")

    # 1 / 16 x 100 = 6.25 exactly: 6.3 (round-half-even would give 6.2)
    assert (entry["tasks_due"], entry["tasks_missed"]) == (16, 1)
    assert entry["deadline_miss_rate"] == round_half_up(1 / 16 * 100, 1) == 6.3


def test_the_query_count_does_not_grow_with_the_agency():
    AgencySettings.load()
    build_agency("x1-")
    compute()  # warm any per-process cache before counting

    with CaptureQueriesContext(connection) as small:
        compute()
    build_agency("x2-")
    build_agency("x3-")
    with CaptureQueriesContext(connection) as large:
        result = compute()

    assert len(result["clients"]) == 3 * 9
    assert len(result["staff"]) == 3 * 7
    assert len(large.captured_queries) == len(small.captured_queries), (
        len(small.captured_queries),
        len(large.captured_queries),
    )
