"""People (DOMAIN.md): training completion and scores (latest result per module, through
the person), clients per account manager, over capacity."""

import pytest

from godview.models import AgencySettings, Role
from tests.metrics_fixture import (
    build_agency,
    client,
    compute,
    date,
    module,
    pct,
    round_half_up,
    row,
    small_org,
    staff,
    training_result,
)

pytestmark = pytest.mark.django_db

SINCE_2025 = [(date(2025, 1, 1), None, "1000")]


@pytest.fixture
def agency():
    return build_agency()


def training(entry):
    return (entry["training_completion_rate"], entry["avg_training_score"])


def test_training_counts_through_the_person(agency):
    result = compute()

    # Required: m-all (pass 70) for everyone; m-am (pass 80) for dept-am staff.
    # Latest result on or before D per (person, module):
    #   am-a1    m-all 90 pass, m-am 85 pass                     2 of 2
    #   am-a2    m-all 60 then 75 pass, m-am none                1 of 2
    #   designer m-all 70 pass (= pass score), m-am only after D 1 of 2
    #   am-b     m-all 95 then 65 fail, m-am 80 pass (= pass)    1 of 2
    #   director nothing                                         0 of 2
    #   am-c     m-all 100 pass (m-am 50: not required for him)  1 of 1
    #   sales    m-all none (m-optional 40: not required)        0 of 1
    # am-gone is inactive: left out.
    assert training(row(result, "staff", "am-a1")) == (100.0, (90 + 85) / 2)
    assert training(row(result, "staff", "am-a2")) == (50.0, 75.0)
    assert training(row(result, "staff", "designer")) == (50.0, 70.0)
    assert training(row(result, "staff", "am-b")) == (pct(1, 2), (65 + 80) / 2)
    assert training(row(result, "staff", "director")) == (0.0, None)  # no result at all
    assert training(row(result, "staff", "am-c")) == (100.0, (100 + 50) / 2)
    assert training(row(result, "staff", "sales")) == (0.0, 40.0)

    # pods: the people of the pod (the pod-b client work of the designer does not matter)
    assert training(row(result, "pods", "pod-a")) == (pct(2 + 1 + 1, 6), (90 + 85 + 75 + 70) / 4)
    assert training(row(result, "pods", "pod-a")) == (66.7, 80.0)
    assert training(row(result, "pods", "pod-b")) == (pct(1, 2), (65 + 80) / 2)
    assert training(row(result, "pods", "pod-c")) == (pct(1, 1), (100 + 50) / 2)
    # departments: the people of the department, with or without a pod
    dept_am = row(result, "departments", "dept-am")  # am-a1, am-a2, designer, am-b, director
    assert dept_am["training_completion_rate"] == pct(2 + 1 + 1 + 1 + 0, 10) == 50.0
    assert dept_am["avg_training_score"] == (90 + 85 + 75 + 70 + 65 + 80) / 6 == 77.5
    dept_growth = row(result, "departments", "dept-growth")  # am-c, sales
    assert dept_growth["training_completion_rate"] == pct(1 + 0, 2) == 50.0
    assert dept_growth["avg_training_score"] == round_half_up((100 + 50 + 40) / 3, 2) == 63.33
    # agency: 12 required pairs, 6 passed; the mean of all 9 latest scores
    assert result["agency"]["training_completion_rate"] == pct(6, 12) == 50.0
    assert result["agency"]["avg_training_score"] == round_half_up(655 / 9, 2) == 72.78


def test_the_latest_result_per_module_counts():
    org = small_org()  # am and director, both in the department
    designer = staff("designer", Role.DESIGNER, pod=org.pod)
    basics = module("basics", pass_score=80)  # required, for everyone
    # passed, then retaken and failed: failed
    training_result(org.am, basics, date(2026, 1, 10), 90)
    training_result(org.am, basics, date(2026, 2, 10), 60)
    # failed, then retaken and passed: passed
    training_result(org.director, basics, date(2026, 1, 10), 50)
    training_result(org.director, basics, date(2026, 2, 10), 85)
    # passed; the retake after D has not happened yet
    training_result(designer, basics, date(2026, 1, 10), 85)
    training_result(designer, basics, date(2026, 4, 5), 40)

    result = compute()

    assert training(row(result, "staff", "am")) == (0.0, 60.0)
    assert training(row(result, "staff", "director")) == (100.0, 85.0)
    assert training(row(result, "staff", "designer")) == (100.0, 85.0)
    assert result["agency"]["training_completion_rate"] == pct(2, 3) == 66.7
    assert result["agency"]["avg_training_score"] == round_half_up((60 + 85 + 85) / 3, 2)
    assert result["agency"]["avg_training_score"] == 76.67


def test_training_results_before_the_period_still_count():
    # Training is a state on D, not an activity of the period.
    org = small_org()
    basics = module("basics", pass_score=70)
    training_result(org.am, basics, date(2024, 5, 1), 75)

    result = compute()

    assert training(row(result, "staff", "am")) == (100.0, 75.0)
    assert row(result, "staff", "director")["training_completion_rate"] == 0.0
    assert result["agency"]["training_completion_rate"] == pct(1, 2) == 50.0


def test_clients_per_am_and_over_capacity_at_the_default_span():
    org = small_org()
    am2 = staff("am2", pod=org.pod)
    am3 = staff("am3", pod=org.pod)
    for n in range(13):
        client(f"one-{n}", pod=org.pod, am=org.am, engagements=SINCE_2025)
    for n in range(12):
        client(f"two-{n}", pod=org.pod, am=am2, engagements=SINCE_2025)
    for n in range(12):
        client(f"three-{n}", pod=org.pod, am=am3, engagements=SINCE_2025)
    # a former client does not count
    client(
        "three-gone", pod=org.pod, am=am3, engagements=[(date(2025, 1, 1), date(2026, 3, 1), "1")]
    )

    result = compute()

    # more than max_clients_per_am (12) is over capacity; exactly 12 is not
    assert row(result, "staff", "am")["clients_per_am"] == 13
    assert row(result, "staff", "am")["over_capacity"] is True
    assert row(result, "staff", "am2")["clients_per_am"] == 12
    assert row(result, "staff", "am2")["over_capacity"] is False
    assert row(result, "staff", "am3")["clients_per_am"] == 12
    assert row(result, "staff", "am3")["over_capacity"] is False
    pod = row(result, "pods", "pod")
    assert pod["clients_per_am"] == round_half_up((13 + 12 + 12) / 3, 2) == 12.33
    assert pod["ams_over_capacity"] == 1
    assert row(result, "departments", "dept")["ams_over_capacity"] == 1
    assert result["agency"]["ams_over_capacity"] == 1
    assert result["agency"]["clients_per_am"] == 12.33


def test_clients_per_am_and_over_capacity_by_level(agency):
    settings_row = AgencySettings.load()
    settings_row.max_clients_per_am = 1
    settings_row.save()

    result = compute()

    # active clients on D: am-a1 a1, a2; am-a2 a4; am-b b3; am-c c1, c2
    per_am = {"am-a1": 2, "am-a2": 1, "am-b": 1, "am-c": 2}
    for key, clients in per_am.items():
        am = row(result, "staff", key)
        assert am["clients_per_am"] == clients, key
        assert am["over_capacity"] is (clients > 1), key
    # active clients / active account managers (am-gone is inactive)
    assert row(result, "pods", "pod-a")["clients_per_am"] == 3 / 2 == 1.5
    assert row(result, "pods", "pod-b")["clients_per_am"] == 1 / 1 == 1.0
    assert row(result, "pods", "pod-c")["clients_per_am"] == 2 / 1 == 2.0
    assert row(result, "departments", "dept-am")["clients_per_am"] == round_half_up(4 / 3, 2)
    assert row(result, "departments", "dept-growth")["clients_per_am"] == 2.0
    assert result["agency"]["clients_per_am"] == 6 / 4 == 1.5

    assert row(result, "pods", "pod-a")["ams_over_capacity"] == 1  # am-a1
    assert row(result, "pods", "pod-b")["ams_over_capacity"] == 0
    assert row(result, "pods", "pod-c")["ams_over_capacity"] == 1  # am-c
    assert row(result, "departments", "dept-am")["ams_over_capacity"] == 1
    assert row(result, "departments", "dept-growth")["ams_over_capacity"] == 1
    assert result["agency"]["ams_over_capacity"] == 2


def test_at_the_default_span_nobody_in_the_agency_is_over_capacity(agency):
    result = compute()
    assert result["agency"]["ams_over_capacity"] == 0
    assert row(result, "staff", "am-a1")["over_capacity"] is False
