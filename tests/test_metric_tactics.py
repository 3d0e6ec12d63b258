"""Tactics and tests (DOMAIN.md): tactics ended in the period, win rate, win/loss ratio, CRO
tests and their confidence buckets."""

import pytest

from godview.models import Role
from tests.metrics_fixture import (
    build_agency,
    client,
    compute,
    cro_test,
    date,
    pct,
    round_half_up,
    row,
    small_org,
    staff,
    tactic,
)

pytestmark = pytest.mark.django_db

SINCE_2025 = [(date(2025, 1, 1), None, "1000")]
BUCKETS = (">=99", "95-99", "90-95", "<90")


def bucket(wins=0, losses=0, inconclusive=0):
    """A confidence bucket as DOMAIN.md defines it; win rate null when nothing decided."""
    decided = wins + losses
    return {
        "wins": wins,
        "losses": losses,
        "inconclusive": inconclusive,
        "win_rate": pct(wins, decided) if decided else None,
    }


def buckets(**given):
    names = {"ge99": ">=99", "b95": "95-99", "b90": "90-95", "lt90": "<90"}
    return {name: given.get(short, bucket()) for short, name in names.items()}


def tactic_figures(entry):
    return (entry["tactic_wins"], entry["tactic_losses"], entry["tactic_inconclusive"])


def cro_figures(entry):
    return (entry["cro_wins"], entry["cro_losses"], entry["cro_inconclusive"])


@pytest.fixture
def agency():
    return build_agency()


def test_tactics_count_through_the_client_and_the_owner(agency):
    result = compute()

    # pod-a: x1 (CRO win, 99) and x4 (inconclusive); x5 is running
    pod_a = row(result, "pods", "pod-a")
    assert tactic_figures(pod_a) == (1, 0, 1)
    assert pod_a["tactic_win_rate"] == pct(1, 1 + 0) == 100.0
    assert pod_a["win_loss_ratio"] is None  # no losses
    assert cro_figures(pod_a) == (1, 0, 0)
    assert pod_a["cro_win_rate"] == 100.0
    assert pod_a["cro_by_confidence"] == buckets(ge99=bucket(wins=1))

    # pod-b: x2 (CRO loss, 92), owned by the pod-a designer
    pod_b = row(result, "pods", "pod-b")
    assert tactic_figures(pod_b) == (0, 1, 0)
    assert pod_b["tactic_win_rate"] == 0.0
    assert pod_b["win_loss_ratio"] == 0 / 1 == 0.0
    assert pod_b["cro_win_rate"] == 0.0
    assert pod_b["cro_by_confidence"] == buckets(b90=bucket(losses=1))

    # pod-c: x3 (win); x6 ended after D, so on D it has not ended
    pod_c = row(result, "pods", "pod-c")
    assert tactic_figures(pod_c) == (1, 0, 0)
    assert cro_figures(pod_c) == (0, 0, 0)
    assert pod_c["cro_win_rate"] is None
    assert pod_c["cro_by_confidence"] == buckets()

    assert tactic_figures(row(result, "departments", "dept-am")) == (1, 1, 1)
    agency_row = result["agency"]
    assert tactic_figures(agency_row) == (2, 1, 1)
    assert agency_row["tactic_win_rate"] == pct(2, 2 + 1) == 66.7
    assert agency_row["win_loss_ratio"] == 2 / 1 == 2.0
    assert cro_figures(agency_row) == (1, 1, 0)
    assert agency_row["cro_win_rate"] == pct(1, 2) == 50.0
    assert agency_row["cro_by_confidence"] == buckets(ge99=bucket(wins=1), b90=bucket(losses=1))

    designer = row(result, "staff", "designer")  # owns x1 and x2
    assert tactic_figures(designer) == (1, 1, 0)
    assert designer["cro_win_rate"] == 50.0
    assert designer["win_loss_ratio"] == 1.0
    am_a1 = row(result, "staff", "am-a1")  # x4 inconclusive, x5 running
    assert tactic_figures(am_a1) == (0, 0, 1)
    assert am_a1["tactic_win_rate"] is None
    assert am_a1["win_loss_ratio"] is None
    am_c = row(result, "staff", "am-c")  # x3; x6 is after D
    assert tactic_figures(am_c) == (1, 0, 0)

    assert tactic_figures(row(result, "clients", "c1")) == (1, 0, 0)
    assert row(result, "clients", "b3")["cro_by_confidence"] == buckets(b90=bucket(losses=1))


def test_confidence_buckets_at_their_edges():
    org = small_org()
    acme = client("acme", pod=org.pod, am=org.am, engagements=SINCE_2025)
    cro_test(acme, "c99", outcome="win", confidence=99)  # >=99
    cro_test(acme, "c100", outcome="win", confidence=100)  # >=99
    cro_test(acme, "c99.5", outcome="loss", confidence="99.5")  # >=99
    cro_test(acme, "c98.99", outcome="loss", confidence="98.99")  # 95-99
    cro_test(acme, "c95", outcome="loss", confidence=95)  # 95-99
    cro_test(acme, "c94.99", outcome="inconclusive", confidence="94.99")  # 90-95
    cro_test(acme, "c90", outcome="win", confidence=90)  # 90-95
    cro_test(acme, "c89.99", outcome="inconclusive", confidence="89.99")  # <90
    cro_test(acme, "c-none", outcome="win", confidence=None)  # cro_* only, no bucket
    # not counted: running, ended before the period, ended after D
    tactic(acme, "running", outcome="running", kind="cro_test", confidence=99)
    cro_test(acme, "old", outcome="win", confidence=99, ended_on=date(2025, 12, 31))
    cro_test(acme, "future", outcome="win", confidence=99, ended_on=date(2026, 4, 2))
    # a plain tactic: in tactic_* only
    tactic(acme, "plain", outcome="loss", ended_on=date(2026, 2, 1))

    entry = row(compute(), "clients", "acme")

    assert entry["cro_by_confidence"] == {
        ">=99": bucket(wins=2, losses=1),  # win rate 2 / 3 = 66.7
        "95-99": bucket(losses=2),  # 0 / 2 = 0.0
        "90-95": bucket(wins=1, inconclusive=1),  # 1 / 1 = 100.0
        "<90": bucket(inconclusive=1),  # nothing decided: null
    }
    assert entry["cro_by_confidence"][">=99"]["win_rate"] == 66.7
    assert entry["cro_by_confidence"]["<90"]["win_rate"] is None
    # wins 2 + 1 + the unbucketed one; losses 1 + 2; inconclusive 1 + 1
    assert cro_figures(entry) == (2 + 1 + 1, 1 + 2, 1 + 1)
    assert entry["cro_win_rate"] == pct(4, 4 + 3) == 57.1
    # tactics include the CRO tests and the plain loss
    assert tactic_figures(entry) == (4, 3 + 1, 2)
    assert entry["tactic_win_rate"] == pct(4, 4 + 4) == 50.0
    assert entry["win_loss_ratio"] == 4 / 4 == 1.0


def test_win_rate_and_win_loss_ratio():
    org = small_org()
    ended = date(2026, 2, 15)

    def make(key, wins, losses, inconclusive=0):
        made = client(key, pod=org.pod, am=org.am, engagements=SINCE_2025)
        outcomes = ["win"] * wins + ["loss"] * losses + ["inconclusive"] * inconclusive
        for n, outcome in enumerate(outcomes):
            tactic(made, f"{key}-{n}", outcome=outcome, ended_on=ended)

    make("three-two", wins=3, losses=2)
    make("two-three", wins=2, losses=3)
    make("no-wins", wins=0, losses=2)
    make("no-losses", wins=2, losses=0)
    make("undecided", wins=0, losses=0, inconclusive=2)

    result = compute()

    three_two = row(result, "clients", "three-two")
    assert three_two["tactic_win_rate"] == pct(3, 5) == 60.0
    assert three_two["win_loss_ratio"] == 3 / 2 == 1.5
    two_three = row(result, "clients", "two-three")
    assert two_three["tactic_win_rate"] == 40.0
    assert two_three["win_loss_ratio"] == round_half_up(2 / 3, 2) == 0.67
    no_wins = row(result, "clients", "no-wins")
    assert (no_wins["tactic_win_rate"], no_wins["win_loss_ratio"]) == (0.0, 0.0)
    no_losses = row(result, "clients", "no-losses")
    assert (no_losses["tactic_win_rate"], no_losses["win_loss_ratio"]) == (100.0, None)
    undecided = row(result, "clients", "undecided")
    assert tactic_figures(undecided) == (0, 0, 2)
    assert (undecided["tactic_win_rate"], undecided["win_loss_ratio"]) == (None, None)
    # the agency: wins 3 + 2 + 0 + 2 = 7, losses 2 + 3 + 2 = 7
    assert result["agency"]["tactic_win_rate"] == pct(7, 14) == 50.0
    assert result["agency"]["win_loss_ratio"] == 1.0


def test_tactics_count_for_their_owner_at_staff_level():
    org = small_org()
    designer = staff("designer", Role.DESIGNER, pod=org.pod)
    acme = client("acme", pod=org.pod, am=org.am, engagements=SINCE_2025)
    cro_test(acme, "t1", outcome="win", confidence=96, owner=designer)
    cro_test(acme, "t2", outcome="win", confidence=96, owner=designer)
    cro_test(acme, "t3", outcome="loss", confidence=80, owner=designer)
    tactic(acme, "t4", outcome="loss", ended_on=date(2026, 3, 1), owner=org.am)
    tactic(acme, "t5", outcome="win", ended_on=date(2026, 3, 1))  # no owner

    result = compute()

    designer_row = row(result, "staff", "designer")
    assert cro_figures(designer_row) == (2, 1, 0)
    assert designer_row["cro_win_rate"] == pct(2, 3) == 66.7
    assert designer_row["cro_by_confidence"] == buckets(b95=bucket(wins=2), lt90=bucket(losses=1))
    am = row(result, "staff", "am")
    assert tactic_figures(am) == (0, 1, 0)
    assert am["cro_win_rate"] is None
    assert am["cro_by_confidence"] == buckets()
    # the client and the agency see all five
    assert tactic_figures(row(result, "clients", "acme")) == (3, 2, 0)
    assert tactic_figures(result["agency"]) == (3, 2, 0)
