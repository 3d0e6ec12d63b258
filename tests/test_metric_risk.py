"""Early warning (DOMAIN.md): each risk signal firing and not firing, each with a minimal
client; the score is the sum of the firing signals' weights, capped at 100.

A "quiet" client fires nothing: served since 2025 at a constant fee (no onboarding, no fee
decrease), a call on D (0 days inactive), met weekly goals in the last two ended weeks
(Mar 16 and Mar 23), no tasks, goals or tactics."""

import pytest

from godview.models import AgencySettings
from tests.metrics_fixture import (
    D,
    client,
    client_goal,
    compute,
    date,
    postpone,
    row,
    small_org,
    tactic,
    task,
    touchpoint,
    weekly_goal,
)

pytestmark = pytest.mark.django_db

SINCE_2025 = [(date(2025, 1, 1), None, "1000")]
LAST_TWO_ENDED_WEEKS = (date(2026, 3, 16), date(2026, 3, 23))
SIGNAL_ORDER = [
    "sla_breach",
    "missed_deadlines",
    "weekly_goals_slipping",
    "goal_off_track",
    "fee_decrease",
    "tactic_losing_streak",
    "onboarding",
]


@pytest.fixture
def org():
    return small_org()


def quiet(org, key, *, engagements=SINCE_2025, last_touch=D, goals=("met", "met")):
    made = client(key, pod=org.pod, am=org.am, engagements=engagements)
    if last_touch:
        touchpoint(made, last_touch, "call")
    for week, status in zip(LAST_TWO_ENDED_WEEKS, goals, strict=True):
        if status:
            weekly_goal(made, org.am, week, status)
    return made


def risk(result, key):
    entry = row(result, "clients", key)
    return entry["risk_score"], entry["risk_signals"], entry["risk_reasons"]


def assert_fires(result, key, signal, weight, *figures):
    score, signals, reasons = risk(result, key)
    assert signals == [signal], key
    assert score == weight, key
    assert len(reasons) == 1, key
    for figure in figures:
        assert figure in reasons[0], (key, figure, reasons[0])


def assert_quiet(result, key):
    assert risk(result, key) == (0, [], []), key


def test_a_quiet_client_has_no_risk(org):
    quiet(org, "quiet")
    result = compute()
    assert_quiet(result, "quiet")
    assert isinstance(row(result, "clients", "quiet")["risk_score"], int)


def test_sla_breach(org):
    quiet(org, "eleven-days", last_touch=date(2026, 3, 20))
    quiet(org, "ten-days", last_touch=date(2026, 3, 21))

    result = compute()

    # D - Mar 20 = 11 > 10: weight 25, "11 days ...; standard is 10"
    assert_fires(result, "eleven-days", "sla_breach", 25, "11", "10")
    assert_quiet(result, "ten-days")  # exactly 10 is not a breach


def test_missed_deadlines(org):
    # D - 13 = Mar 18 .. D: Mar 18 open (missed) and Mar 25 done Mar 27 (missed): 2
    two = quiet(org, "two-missed")
    task(two, "two-1", date(2026, 3, 18))
    task(two, "two-2", date(2026, 3, 25), completed=date(2026, 3, 27))
    # only one missed in the window: Mar 17 is outside it, D is not missed yet, Mar 22 on time
    one = quiet(org, "one-missed")
    task(one, "one-1", date(2026, 3, 17))
    task(one, "one-2", date(2026, 3, 20))
    task(one, "one-3", D)
    task(one, "one-4", date(2026, 3, 22), completed=date(2026, 3, 22))
    # a postponement approved after D has not moved the Mar 20 task on D: 2 missed
    late = quiet(org, "postponed-after-d")
    task(late, "late-1", date(2026, 3, 19))
    moved = task(late, "late-2", date(2026, 3, 20))
    postpone(moved, to=date(2026, 4, 20), approved_on=date(2026, 4, 2), approver=org.director)
    # the same postponement approved before D takes it out of the window: 1 missed
    early = quiet(org, "postponed-before-d")
    task(early, "early-1", date(2026, 3, 19))
    moved = task(early, "early-2", date(2026, 3, 20))
    postpone(moved, to=date(2026, 4, 20), approved_on=date(2026, 3, 15), approver=org.director)

    result = compute()

    assert_fires(result, "two-missed", "missed_deadlines", 20, "2")
    assert_quiet(result, "one-missed")
    assert_fires(result, "postponed-after-d", "missed_deadlines", 20, "2")
    assert_quiet(result, "postponed-before-d")


def test_weekly_goals_slipping(org):
    quiet(org, "missed-then-none", goals=("missed", None))
    quiet(org, "never-closed", goals=("open", "open"))
    quiet(org, "none-at-all", goals=(None, None))
    both = quiet(org, "met-and-missed-then-none", goals=("met", None))
    weekly_goal(both, org.am, LAST_TWO_ENDED_WEEKS[0], "missed")  # it had a missed goal
    quiet(org, "missed-then-met", goals=("missed", "met"))
    # the week of Mar 30 has not ended: its missed goal does not matter
    current = quiet(org, "met-met-open-week")
    weekly_goal(current, org.am, date(2026, 3, 30), "missed")
    # not active on Monday Mar 16 (started Mar 20): does not fire (onboarding does)
    quiet(
        org, "started-mar-20", engagements=[(date(2026, 3, 20), None, "1000")], goals=(None, None)
    )

    result = compute()

    for key in ("missed-then-none", "never-closed", "none-at-all", "met-and-missed-then-none"):
        assert_fires(result, key, "weekly_goals_slipping", 15)
    assert_quiet(result, "missed-then-met")
    assert_quiet(result, "met-met-open-week")
    assert risk(result, "started-mar-20")[1] == ["onboarding"]


def test_goal_off_track(org):
    common = {"baseline": 0, "target": 100, "starts_on": date(2026, 1, 1), "due_on": D}
    off = quiet(org, "off-track")
    client_goal(off, "off", current=10, **common)  # 0.1 < expected 1 - 0.25
    at_risk = quiet(org, "at-risk")
    client_goal(at_risk, "risk", current=80, **common)  # 0.8 >= 0.75: at risk, not off
    closed = quiet(org, "closed")
    client_goal(closed, "closed", current=10, status="missed", **common)  # not open

    result = compute()

    assert_fires(result, "off-track", "goal_off_track", 15)
    assert_quiet(result, "at-risk")
    assert_quiet(result, "closed")


def test_fee_decrease(org):
    # D - 90 = 2025-12-31
    quiet(
        org,
        "decrease",
        engagements=[(date(2025, 1, 1), date(2026, 2, 28), "900"), (date(2026, 3, 1), None, "600")],
    )
    quiet(
        org,
        "increase",
        engagements=[(date(2025, 1, 1), date(2026, 2, 28), "600"), (date(2026, 3, 1), None, "900")],
    )
    # lowered before D - 90: 600 on both days
    quiet(
        org,
        "old-decrease",
        engagements=[
            (date(2025, 1, 1), date(2025, 11, 30), "900"),
            (date(2025, 12, 1), None, "600"),
        ],
    )
    # not active on D - 90: does not fire (its new service period is onboarding)
    quiet(
        org,
        "away-on-d-90",
        engagements=[
            (date(2025, 1, 1), date(2025, 12, 1), "900"),
            (date(2026, 1, 15), None, "600"),
        ],
    )

    result = compute()

    assert_fires(result, "decrease", "fee_decrease", 10, "900", "600")
    assert_quiet(result, "increase")
    assert_quiet(result, "old-decrease")
    assert risk(result, "away-on-d-90")[1] == ["onboarding"]


def test_tactic_losing_streak(org):
    def tactics(made, *spec):
        for n, (outcome, ended_on, started_on) in enumerate(spec):
            tactic(
                made,
                f"{made.key}-{n}",
                outcome=outcome,
                ended_on=ended_on,
                started_on=started_on or date(2025, 11, 1),
            )

    streak = quiet(org, "three-losses")
    tactics(
        streak,
        ("win", date(2025, 12, 1), None),
        ("loss", date(2026, 1, 1), None),
        ("loss", date(2026, 2, 1), None),
        ("loss", date(2026, 3, 1), None),
        ("running", None, date(2026, 3, 10)),  # not ended: not counted
        ("win", date(2026, 4, 2), None),  # ends after D: not ended on D
    )
    broken = quiet(org, "win-last")
    tactics(
        broken,
        ("loss", date(2026, 1, 1), None),
        ("loss", date(2026, 2, 1), None),
        ("win", date(2026, 3, 1), None),
    )
    inconclusive = quiet(org, "inconclusive-breaks")
    tactics(
        inconclusive,
        ("loss", date(2025, 12, 1), None),
        ("loss", date(2026, 1, 1), None),
        ("inconclusive", date(2026, 2, 1), None),
        ("loss", date(2026, 3, 1), None),
    )
    quiet_two = quiet(org, "two-losses")
    tactics(quiet_two, ("loss", date(2026, 2, 1), None), ("loss", date(2026, 3, 1), None))
    # same end date: the later start is the more recent. Most recent three:
    # Mar 25 loss, Mar 22 loss, Mar 20 loss (started Feb 1); the Mar 20 win started Jan 1.
    tie = quiet(org, "tie-on-end-date")
    tactics(
        tie,
        ("win", date(2026, 3, 20), date(2026, 1, 1)),
        ("loss", date(2026, 3, 20), date(2026, 2, 1)),
        ("loss", date(2026, 3, 22), None),
        ("loss", date(2026, 3, 25), None),
    )

    result = compute()

    assert_fires(result, "three-losses", "tactic_losing_streak", 10, "3")
    assert_quiet(result, "win-last")
    assert_quiet(result, "inconclusive-breaks")
    assert_quiet(result, "two-losses")
    assert_fires(result, "tie-on-end-date", "tactic_losing_streak", 10)


def test_onboarding(org):
    # D - 89 = 2026-01-01: fires; D - 90 = 2025-12-31: 90 days is not less than 90
    quiet(org, "began-jan-1", engagements=[(date(2026, 1, 1), None, "1000")])
    quiet(org, "began-dec-31", engagements=[(date(2025, 12, 31), None, "1000")])
    # a fee change inside the service period does not restart it
    quiet(
        org,
        "fee-change",
        engagements=[
            (date(2025, 6, 1), date(2026, 2, 28), "1000"),
            (date(2026, 3, 1), None, "1200"),
        ],
    )
    # a return starts a new service period
    quiet(
        org,
        "returned",
        engagements=[
            (date(2025, 1, 1), date(2025, 12, 31), "1000"),
            (date(2026, 3, 1), None, "1000"),
        ],
    )

    result = compute()

    score, signals, reasons = risk(result, "began-jan-1")
    assert (score, signals) == (5, ["onboarding"])
    assert "89" in reasons[0] or "2026-01-01" in reasons[0], reasons
    assert_quiet(result, "began-dec-31")
    assert_quiet(result, "fee-change")
    # returned Mar 1: onboarding; on D - 90 (Dec 31) it paid 1000, on D 1000: no decrease
    assert risk(result, "returned")[:2] == (5, ["onboarding"])


def everything(org, key):
    """A client on which every signal fires. Served until Dec 31 at 900 (so active on D - 90),
    back on Jan 2 at 600 (a new service period, D - Jan 2 = 88 days: onboarding), never
    contacted since (88 days inactive), no weekly goals, two missed tasks in the last 14
    days, an off-track goal, three lost tactics."""
    made = quiet(
        org,
        key,
        engagements=[
            (date(2025, 1, 1), date(2025, 12, 31), "900"),
            (date(2026, 1, 2), None, "600"),
        ],
        last_touch=None,
        goals=(None, None),
    )
    task(made, f"{key}-t1", date(2026, 3, 20))
    task(made, f"{key}-t2", date(2026, 3, 25))
    client_goal(
        made,
        f"{key}-goal",
        baseline=0,
        target=100,
        current=0,
        starts_on=date(2026, 1, 2),
        due_on=D,
    )
    for n, ended_on in enumerate((date(2026, 1, 10), date(2026, 2, 10), date(2026, 3, 10))):
        tactic(made, f"{key}-x{n}", outcome="loss", ended_on=ended_on, started_on=date(2026, 1, 5))
    return made


def test_every_signal_fires_in_domain_order_and_the_score_is_their_sum(org):
    everything(org, "everything")

    score, signals, reasons = risk(compute(), "everything")

    assert signals == SIGNAL_ORDER
    assert score == 25 + 20 + 15 + 15 + 10 + 10 + 5 == 100
    assert len(reasons) == 7
    assert "88" in reasons[0] and "10" in reasons[0]  # sla_breach: 88 days, standard 10
    assert "900" in reasons[4] and "600" in reasons[4]  # fee_decrease


def test_the_score_uses_the_weight_settings_and_is_capped_at_100(org):
    everything(org, "everything")
    quiet(
        org, "sla-and-onboarding", engagements=[(date(2026, 1, 1), None, "1000")], last_touch=None
    )
    settings_row = AgencySettings.load()
    settings_row.risk_weight_sla_breach = 60
    settings_row.risk_weight_missed_deadlines = 60
    settings_row.risk_weight_onboarding = 7
    settings_row.save()

    result = compute()

    # 60 + 60 + 15 + 15 + 10 + 10 + 7 = 177, capped
    assert risk(result, "everything")[0] == 100
    # no touch since Jan 1: 89 days > 10; began 89 days before D
    assert risk(result, "sla-and-onboarding")[:2] == (60 + 7, ["sla_breach", "onboarding"])


def test_a_client_not_active_on_d_has_no_risk(org):
    quiet(org, "left", engagements=[(date(2025, 1, 1), date(2026, 3, 1), "1000")])

    result = compute()

    assert risk(result, "left") == (None, None, None)
    assert row(result, "clients", "left")["days_inactive"] is None
