"""Sales (DOMAIN.md): deals closed in the period, won, lost, win rate, revenue won; counted
for the owner, and at pod and department level through the owner (not the deal's client)."""

import pytest

from godview.models import Role
from tests.metrics_fixture import (
    build_agency,
    compute,
    date,
    deal,
    pct,
    row,
    small_org,
    staff,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def agency():
    return build_agency()


def sales(entry):
    return (entry["deals_won"], entry["deals_lost"], entry["deal_win_rate"], entry["revenue_won"])


def test_deals_count_through_the_owner(agency):
    result = compute()

    # sales: d1 won 5000 (Feb 10), d2 lost (Mar 1), d3 won without amount (Mar 20);
    # d4 closes after D, d6 closed before the period, d7 is open
    assert sales(row(result, "staff", "sales")) == (2, 1, pct(2, 3), 5000 + 0)
    assert row(result, "staff", "sales")["deal_win_rate"] == 66.7
    # am-a1: d5 won 1200.50, although its client c1 belongs to pod-c
    assert sales(row(result, "staff", "am-a1")) == (1, 0, 100.0, 1200.50)
    assert sales(row(result, "staff", "am-b")) == (0, 0, None, 0)

    assert sales(row(result, "pods", "pod-a")) == (1, 0, 100.0, 1200.50)  # am-a1's pod
    assert sales(row(result, "pods", "pod-b")) == (0, 0, None, 0)
    # sales has no pod; d1's client a1 is pod-a's and d5's client c1 is pod-c's: neither counts
    assert sales(row(result, "pods", "pod-c")) == (0, 0, None, 0)
    assert sales(row(result, "departments", "dept-am")) == (1, 0, 100.0, 1200.50)
    assert sales(row(result, "departments", "dept-growth")) == (2, 1, 66.7, 5000.0)
    assert sales(result["agency"]) == (3, 1, pct(3, 4), 5000 + 1200.50)
    assert result["agency"]["deal_win_rate"] == 75.0
    assert result["agency"]["revenue_won"] == 6200.5


def test_only_deals_closed_in_the_period_and_by_d_count():
    org = small_org()
    seller = staff("seller", Role.SALES, department=org.department)
    deal("won-jan-1", owner=seller, status="won", closed_on=date(2026, 1, 1), amount="100.25")
    deal("won-on-d", owner=seller, status="won", closed_on=date(2026, 3, 31), amount="200.50")
    deal("won-after-d", owner=seller, status="won", closed_on=date(2026, 4, 1), amount="999")
    deal("lost-dec-31", owner=seller, status="lost", closed_on=date(2025, 12, 31))
    deal("lost-feb", owner=seller, status="lost", closed_on=date(2026, 2, 1))
    deal("lost-after-d", owner=seller, status="lost", closed_on=date(2026, 4, 2))
    deal("open", owner=seller, status="open", amount="5000")

    result = compute()

    # won: Jan 1 and D; lost: Feb 1
    assert sales(row(result, "staff", "seller")) == (2, 1, pct(2, 3), 100.25 + 200.50)
    assert row(result, "staff", "seller")["revenue_won"] == 300.75
    assert sales(row(result, "departments", "dept")) == (2, 1, 66.7, 300.75)
    assert sales(row(result, "staff", "am")) == (0, 0, None, 0)


def test_a_person_with_only_lost_deals_has_a_zero_win_rate():
    org = small_org()
    deal("lost", owner=org.am, status="lost", closed_on=date(2026, 2, 1), amount="700")

    entry = row(compute(), "staff", "am")

    assert sales(entry) == (0, 1, pct(0, 1), 0)
    assert entry["deal_win_rate"] == 0.0


def test_a_deal_the_crm_deleted_no_longer_counts(agency):
    from django.utils import timezone

    from workflows.models import Deal

    Deal.objects.filter(key="d1").update(deleted_at=timezone.now())  # won 5000, Feb 10

    result = compute()

    assert sales(row(result, "staff", "sales")) == (1, 1, 50.0, 0)
    assert result["agency"]["revenue_won"] == 1200.5
