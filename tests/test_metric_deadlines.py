"""Deadlines (DOMAIN.md): tasks due and missed, miss rate, undated tasks, postponements,
unapproved deadline changes, possible recreations. Committed dates are taken as of D."""

import pytest

from godview.models import AgencySettings, Role
from tests.metrics_fixture import (
    D,
    build_agency,
    client,
    compute,
    date,
    deadline_change,
    pct,
    postpone,
    row,
    small_org,
    staff,
    task,
    utc,
)

pytestmark = pytest.mark.django_db

SINCE_2025 = [(date(2025, 1, 1), None, "1000")]


@pytest.fixture
def agency():
    return build_agency()


@pytest.fixture
def org():
    return small_org()


@pytest.fixture
def acme(org):
    return client("acme", pod=org.pod, am=org.am, engagements=SINCE_2025)


def deadline_figures(entry):
    return {
        key: entry[key]
        for key in (
            "tasks_due",
            "tasks_missed",
            "deadline_miss_rate",
            "tasks_undated",
            "postponements",
            "postponed_days",
            "unapproved_deadline_changes",
            "possible_recreations",
        )
    }


def test_deadlines_count_through_the_client_and_the_assignee(agency):
    result = compute()
    zero = {"postponements": 0, "postponed_days": 0, "unapproved_deadline_changes": 0}
    zero["possible_recreations"] = 0

    # pod-a clients' tasks: t1 on time, t2 late (missed), t3 due on D and open (not missed);
    # t7 undated, created Feb 5. t4 (a pod-a person's task for pod-b's b3) is not here.
    assert deadline_figures(row(result, "pods", "pod-a")) == {
        "tasks_due": 3,
        "tasks_missed": 1,
        "deadline_miss_rate": pct(1, 3),
        "tasks_undated": 1,
        **zero,
    }
    # pod-b: t4 open since Mar 5 (missed), t8 postponed Mar 10 -> Mar 24 (approved Mar 8) and
    # done Mar 24 (on time): one postponement of Mar 24 - Mar 10 = 14 days
    assert deadline_figures(row(result, "pods", "pod-b")) == {
        "tasks_due": 2,
        "tasks_missed": 1,
        "deadline_miss_rate": pct(1, 2),
        "tasks_undated": 0,
        **zero,
        "postponements": 1,
        "postponed_days": 14,
    }
    # pod-c: t5 on time; t6 is due after D
    pod_c = row(result, "pods", "pod-c")
    assert (pod_c["tasks_due"], pod_c["tasks_missed"], pod_c["deadline_miss_rate"]) == (1, 0, 0.0)

    dept_am = row(result, "departments", "dept-am")
    assert (dept_am["tasks_due"], dept_am["tasks_missed"]) == (3 + 2, 1 + 1)
    assert dept_am["deadline_miss_rate"] == pct(2, 5) == 40.0
    assert (dept_am["postponements"], dept_am["postponed_days"]) == (1, 14)
    agency_row = result["agency"]
    assert (agency_row["tasks_due"], agency_row["tasks_missed"]) == (6, 2)
    assert agency_row["deadline_miss_rate"] == pct(2, 6) == 33.3
    assert agency_row["tasks_undated"] == 1

    # staff: the tasks assigned to them, whatever the client's pod
    designer = row(result, "staff", "designer")  # t2 (a1) and t4 (b3), both missed
    assert (designer["tasks_due"], designer["tasks_missed"]) == (2, 2)
    assert designer["deadline_miss_rate"] == 100.0
    am_a1 = row(result, "staff", "am-a1")  # t1, t3
    assert (am_a1["tasks_due"], am_a1["tasks_missed"], am_a1["deadline_miss_rate"]) == (2, 0, 0.0)
    am_a2 = row(result, "staff", "am-a2")  # only the undated t7
    assert (am_a2["tasks_due"], am_a2["deadline_miss_rate"], am_a2["tasks_undated"]) == (0, None, 1)
    am_b = row(result, "staff", "am-b")  # t8 and its postponement
    assert (am_b["tasks_due"], am_b["postponements"], am_b["postponed_days"]) == (1, 1, 14)
    assert row(result, "staff", "director")["deadline_miss_rate"] is None

    # clients
    a1 = row(result, "clients", "a1")  # t1, t2
    assert (a1["tasks_due"], a1["tasks_missed"], a1["deadline_miss_rate"]) == (2, 1, 50.0)
    b3 = row(result, "clients", "b3")  # t4, t8
    assert (b3["tasks_due"], b3["tasks_missed"], b3["postponements"]) == (2, 1, 1)
    assert row(result, "clients", "a3")["deadline_miss_rate"] is None  # no task


def test_a_task_due_on_d_is_not_missed_yet(org, acme):
    task(acme, "due-d-open", D)
    task(acme, "due-d-done-after-d", D, completed=date(2026, 4, 2))  # open on D
    task(acme, "due-mar-30-open", date(2026, 3, 30))  # missed
    task(acme, "due-mar-30-done-after-d", date(2026, 3, 30), completed=date(2026, 4, 1))  # missed
    task(acme, "due-mar-30-done-on-time", date(2026, 3, 30), completed=date(2026, 3, 30))
    task(acme, "due-mar-30-done-late", date(2026, 3, 30), completed=D)  # missed
    task(acme, "due-after-d", date(2026, 4, 1))  # not due
    task(acme, "due-before-period", date(2025, 12, 31))  # missed, but not due in the period
    task(acme, "undated-in-period", None, created=date(2026, 1, 15))
    task(acme, "undated-before", None, created=date(2025, 12, 15))

    figures = deadline_figures(row(compute(), "clients", "acme"))

    assert figures["tasks_due"] == 6
    assert figures["tasks_missed"] == 3
    assert figures["deadline_miss_rate"] == pct(3, 6) == 50.0
    assert figures["tasks_undated"] == 1


def test_an_approved_postponement_moves_the_committed_date_and_one_approved_after_d_does_not(
    org, acme
):
    # approved Mar 8, Mar 10 -> Apr 15: not due any more; counts, 36 days
    moved = task(acme, "moved", date(2026, 3, 10))
    postpone(moved, to=date(2026, 4, 15), approved_on=date(2026, 3, 8), approver=org.director)
    # approved Apr 2 (after D), Mar 20 -> Apr 20: on D still due Mar 20, open, so missed;
    # the postponement is not in the period
    late = task(acme, "approved-after-d", date(2026, 3, 20))
    postpone(late, to=date(2026, 4, 20), approved_on=date(2026, 4, 2), approver=org.director)
    assert late.committed_due_on == date(2026, 4, 20)  # the database already moved it
    # approved Feb 9, Feb 10 -> Mar 3, done Mar 2: due, on time; counts, 21 days
    kept = task(acme, "moved-and-kept", date(2026, 2, 10), completed=date(2026, 3, 2))
    postpone(kept, to=date(2026, 3, 3), approved_on=date(2026, 2, 9), approver=org.director)
    # approved before the period, Jan 5 -> Jan 20, done Jan 21: due, missed; not counted
    slipped = task(acme, "moved-then-missed", date(2026, 1, 5), completed=date(2026, 1, 21))
    postpone(slipped, to=date(2026, 1, 20), approved_on=date(2025, 12, 20), approver=org.director)

    figures = deadline_figures(row(compute(), "clients", "acme"))

    assert figures["tasks_due"] == 3  # approved-after-d, moved-and-kept, moved-then-missed
    assert figures["tasks_missed"] == 2  # approved-after-d, moved-then-missed
    assert figures["deadline_miss_rate"] == pct(2, 3) == 66.7
    assert figures["postponements"] == 2  # approved Mar 8 and Feb 9
    assert (
        figures["postponed_days"]
        == (date(2026, 4, 15) - date(2026, 3, 10)).days
        + (date(2026, 3, 3) - date(2026, 2, 10)).days
    )
    assert figures["postponed_days"] == 36 + 21


def test_the_last_approved_postponement_sets_the_committed_date(org, acme):
    twice = task(acme, "twice", date(2026, 3, 5), completed=date(2026, 3, 20))
    # approved Mar 1: Mar 5 -> Mar 25; approved Mar 3 (later): Mar 5 -> Mar 15. The later
    # approval sets the date, Mar 15, so finishing on Mar 20 is late.
    postpone(twice, to=date(2026, 3, 25), approved_on=date(2026, 3, 1), approver=org.director)
    postpone(twice, to=date(2026, 3, 15), approved_on=date(2026, 3, 3), approver=org.director)

    figures = deadline_figures(row(compute(), "clients", "acme"))

    assert (figures["tasks_due"], figures["tasks_missed"]) == (1, 1)
    assert figures["postponements"] == 2
    assert figures["postponed_days"] == (25 - 5) + (15 - 5) == 30


def test_unapproved_deadline_changes(org, acme):
    # edited in Asana Mar 10 -> Mar 17 with no postponement: counted, the commitment stays
    edited = task(acme, "edited", date(2026, 3, 10), assignee=org.am)
    edited.due_on = date(2026, 3, 17)
    edited.save(update_fields=["due_on"])
    deadline_change(edited, changed_at=utc(2026, 3, 5), to=date(2026, 3, 17))
    deadline_change(edited, changed_at=utc(2025, 12, 30), to=date(2026, 3, 10))  # before
    deadline_change(edited, changed_at=utc(2026, 4, 2), to=date(2026, 3, 24))  # after D
    # edited to the date an approved postponement sets: covered, not counted
    covered = task(acme, "covered", date(2026, 3, 10), assignee=org.am)
    postpone(covered, to=date(2026, 3, 20), approved_on=date(2026, 3, 6), approver=org.director)
    deadline_change(covered, changed_at=utc(2026, 3, 5), to=date(2026, 3, 20))
    # edited to another date than the postponement's: counted
    deadline_change(covered, changed_at=utc(2026, 3, 7), to=date(2026, 3, 21))

    result = compute()
    figures = deadline_figures(row(result, "clients", "acme"))

    assert figures["unapproved_deadline_changes"] == 2  # edited Mar 5, covered Mar 7
    # the edit did not move "edited": still due Mar 10 and open, so missed; "covered" is
    # due Mar 20 (postponed) and open, so missed too
    assert (figures["tasks_due"], figures["tasks_missed"]) == (2, 2)
    assert figures["postponements"] == 1
    assert row(result, "staff", "am")["unapproved_deadline_changes"] == 2
    assert row(result, "pods", "pod")["unapproved_deadline_changes"] == 2
    assert result["agency"]["unapproved_deadline_changes"] == 2


def test_a_deadline_change_whose_postponement_is_approved_after_d_is_unapproved_on_d(org, acme):
    edited = task(acme, "edited", date(2026, 3, 10))
    deadline_change(edited, changed_at=utc(2026, 3, 5), to=date(2026, 3, 20))
    # the postponement to the same date comes after D: on D nothing covers the edit
    postpone(edited, to=date(2026, 3, 20), approved_on=date(2026, 4, 2), approver=org.director)

    figures = deadline_figures(row(compute(), "clients", "acme"))

    assert figures["unapproved_deadline_changes"] == 1
    assert figures["postponements"] == 0


def test_deadline_changes_count_by_the_agency_local_date(org, acme):
    settings_row = AgencySettings.load()
    settings_row.time_zone = "America/New_York"  # UTC-4 in late March, UTC-5 in January
    settings_row.save()
    edited = task(acme, "edited", date(2026, 4, 10))
    # 2026-04-01 02:00 and 03:00 UTC are Mar 31, 22:00 and 23:00 in New York: in the period
    deadline_change(edited, changed_at=utc(2026, 4, 1, hour=2), to=date(2026, 4, 11))
    deadline_change(edited, changed_at=utc(2026, 4, 1, hour=3), to=date(2026, 4, 12))
    # 2026-01-01 03:00 UTC is Dec 31, 22:00 in New York: before the period
    deadline_change(edited, changed_at=utc(2026, 1, 1, hour=3), to=date(2026, 4, 13))

    figures = deadline_figures(row(compute(), "clients", "acme"))

    assert figures["unapproved_deadline_changes"] == 2


def test_possible_recreations(org, acme):
    designer = staff("designer", Role.DESIGNER, pod=org.pod)
    other = client("other", pod=org.pod, am=org.am, engagements=SINCE_2025)
    # T1: due Mar 10, still open: missed
    task(acme, "t1", date(2026, 3, 10), name="Send monthly report", created=date(2026, 3, 1))
    # T2: same name once case-folded, spaces collapsed and trimmed; created Mar 12 > Mar 10
    task(
        acme,
        "t2",
        date(2026, 4, 30),
        name="  send   MONTHLY report ",
        created=date(2026, 3, 12),
        assignee=designer,
    )
    # created on T1's due date, not after it: not a recreation
    task(acme, "t3", date(2026, 4, 30), name="Send monthly report", created=date(2026, 3, 10))
    # another client's task: not a recreation
    task(other, "t4", date(2026, 4, 30), name="Send monthly report", created=date(2026, 3, 12))
    # the original was done on time: not missed, so no recreation
    task(acme, "t5", date(2026, 3, 5), name="Audit", completed=date(2026, 3, 4))
    task(acme, "t6", date(2026, 4, 30), name="audit", created=date(2026, 3, 8))
    # missed in December; one recreation created in December (not in the period), one in
    # January (in the period)
    task(acme, "t7", date(2025, 12, 10), name="Fix tracking", created=date(2025, 11, 1))
    task(acme, "t8", date(2026, 4, 30), name="fix tracking", created=date(2025, 12, 20))
    task(
        acme,
        "t9",
        date(2026, 4, 30),
        name="Fix  Tracking",
        created=date(2026, 1, 10),
        assignee=org.am,
    )

    result = compute()

    assert row(result, "clients", "acme")["possible_recreations"] == 2  # t2, t9
    assert row(result, "clients", "other")["possible_recreations"] == 0
    assert row(result, "pods", "pod")["possible_recreations"] == 2
    assert result["agency"]["possible_recreations"] == 2
    # counted on T2, for its assignee
    assert row(result, "staff", "designer")["possible_recreations"] == 1  # t2
    assert row(result, "staff", "am")["possible_recreations"] == 1  # t9
