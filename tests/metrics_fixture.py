"""Hand-built data for the metric tests (tests/test_metric_*.py).

Everything here is written from DOMAIN.md, not from the metrics code, so that a misreading on
either side shows up. D = 2026-03-31 (a Tuesday), period 2026-01-01 .. 2026-03-31.

Weeks run Monday to Sunday. The weeks that start in the period and have ended on D start on the
Mondays Jan 5, 12, 19, 26, Feb 2, 9, 16, 23, Mar 2, 9, 16, 23 (12 weeks); the week of Mar 30
has started but not ended (its Sunday, Apr 5, is not before D). D - 90 = 2025-12-31,
D - 13 = 2026-03-18.

`build_agency()` makes the shared agency; the small builders make one object each with explicit
keys, so that a test can look a row up in the export by key.
"""

import datetime
import itertools
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

from django.contrib.auth import get_user_model

from clients.models import Client, ClientGoal, Engagement, Touchpoint
from godview.models import Department, Pod, Role, Staff
from workflows.models import (
    DeadlineChange,
    Deal,
    Postponement,
    PostponementStatus,
    Tactic,
    Task,
    TrainingModule,
    TrainingResult,
    WeeklyGoal,
)
from workflows.services import recompute_committed_due_dates

date = datetime.date
D = date(2026, 3, 31)
START = date(2026, 1, 1)
# DOMAIN.md: lifetime days / 30.4375 = months.
DAYS_PER_MONTH = Fraction("30.4375")

# When cro_test() ends a test unless told: inside the period.
CRO_ENDED_ON = date(2026, 3, 1)

_serial = itertools.count(1)


# --- reading the result ---------------------------------------------------------------------


def compute(as_of=D, start=START):
    """compute_metrics(as_of, start); imported here so the test modules collect before
    metrics.compute exists."""
    from metrics.compute import compute_metrics

    return compute_metrics(as_of=as_of, start=start)


def row(result, level, key):
    """The one row of `result[level]` with this key."""
    matches = [entry for entry in result[level] if entry.get("key") == key]
    assert len(matches) == 1, f"{level}: {len(matches)} rows with key {key!r}"
    return matches[0]


def keys(result, level):
    return {entry["key"] for entry in result[level]}


def round_half_up(value, digits):
    """DOMAIN.md rounding: halves away from zero. Exact for ints, Fractions, Decimals and
    floats (a float is read as its shortest repr, so 90.625 stays a half)."""
    exact = Fraction(str(value)) if isinstance(value, float) else Fraction(value)
    scaled = abs(exact) * 10**digits
    rounded = int(scaled + Fraction(1, 2))
    return float(Fraction(rounded if exact >= 0 else -rounded, 10**digits))


def pct(numerator, denominator):
    """numerator / denominator x 100, rounded to one decimal (a percentage)."""
    return round_half_up(Fraction(numerator, denominator) * 100, 1)


def months(days):
    """Exact months for a number of days (DOMAIN.md: days / 30.4375)."""
    return Fraction(days) / DAYS_PER_MONTH


# --- builders: one object each, explicit keys --------------------------------------------------


def department(key):
    return Department.objects.create(key=key, name=key)


def pod(key, department=None):
    return Pod.objects.create(key=key, name=key, department=department)


def staff(key, role=Role.ACCOUNT_MANAGER, *, pod=None, department=None, active=True):
    """A person; their department defaults to their pod's."""
    if department is None and pod is not None:
        department = pod.department
    email = f"{key}@agency.test"
    user = get_user_model().objects.create_user(username=email, email=email)
    return Staff.objects.create(
        key=key,
        user=user,
        name=key,
        email=email,
        role=role,
        pod=pod,
        department=department,
        active=active,
    )


def client(key, *, pod, am, engagements=()):
    """A client with engagements given as (started_on, ended_on or None, monthly_fee)."""
    created = Client.objects.create(key=key, name=key, pod=pod, account_manager=am)
    for started_on, ended_on, fee in engagements:
        Engagement.objects.create(
            client=created, started_on=started_on, ended_on=ended_on, monthly_fee=Decimal(fee)
        )
    return created


def touchpoint(client, occurred_on, channel="email", direction="outbound"):
    return Touchpoint.objects.create(
        client=client,
        occurred_on=occurred_on,
        channel=channel,
        direction=direction,
        summary=f"touch {next(_serial)}",
    )


def task(client, key, due=None, *, assignee=None, completed=None, created=None, name=None):
    """A task whose committed due date is its first due date (DOMAIN.md: deadlines are
    fixed); `due=None` makes an undated task. Created 2025-12-01 unless told."""
    return Task.objects.create(
        key=key,
        client=client,
        assignee=assignee,
        name=name or key,
        created_on=created or date(2025, 12, 1),
        first_due_on=due,
        committed_due_on=due,
        due_on=due,
        completed_on=completed,
    )


def postpone(task, *, to, approved_on, approver, from_due_on=None):
    """An approved postponement, then the committed due date recomputed from all of the
    task's approved postponements (the way the product moves it)."""
    postponement = Postponement.objects.create(
        task=task,
        from_due_on=from_due_on or task.first_due_on,
        to_due_on=to,
        reason="Client asked",
        status=PostponementStatus.APPROVED,
        approved_by=approver,
        approved_on=approved_on,
    )
    recompute_committed_due_dates([task.id])
    task.refresh_from_db()
    return postponement


def deadline_change(task, *, changed_at, to, from_due_on=None):
    """An edit of the due date in Asana (changed_at is an aware datetime)."""
    return DeadlineChange.objects.create(
        task=task,
        changed_at=changed_at,
        from_due_on=from_due_on or task.first_due_on,
        to_due_on=to,
        source="asana",
        external_id=f"change-{next(_serial)}",
    )


def utc(year, month, day, hour=12):
    return datetime.datetime(year, month, day, hour, tzinfo=datetime.UTC)


def weekly_goal(client, staff, week_start, status="met"):
    assert week_start.isoweekday() == 1, "weeks start on Monday"
    return WeeklyGoal.objects.create(
        client=client,
        staff=staff,
        week_start=week_start,
        description=f"weekly goal {next(_serial)}",
        status=status,
    )


def client_goal(client, key, *, baseline, target, current, starts_on, due_on, status="open"):
    return ClientGoal.objects.create(
        key=key,
        client=client,
        title=key,
        baseline=Decimal(str(baseline)),
        target=Decimal(str(target)),
        current=None if current is None else Decimal(str(current)),
        starts_on=starts_on,
        due_on=due_on,
        status=status,
    )


def tactic(
    client,
    key,
    *,
    outcome,
    ended_on=None,
    started_on=None,
    owner=None,
    kind="tactic",
    confidence=None,
):
    """A tactic (or CRO test, kind="cro_test"); started 2025-11-01 unless told."""
    return Tactic.objects.create(
        key=key,
        client=client,
        owner=owner,
        name=key,
        kind=kind,
        started_on=started_on or date(2025, 11, 1),
        ended_on=ended_on,
        outcome=outcome,
        confidence=None if confidence is None else Decimal(str(confidence)),
    )


def cro_test(client, key, *, outcome, confidence, ended_on=CRO_ENDED_ON, owner=None):
    return tactic(
        client,
        key,
        outcome=outcome,
        ended_on=ended_on,
        owner=owner,
        kind="cro_test",
        confidence=confidence,
    )


def module(key, *, pass_score, department=None, required=True):
    return TrainingModule.objects.create(
        key=key, name=key, department=department, required=required, pass_score=pass_score
    )


def training_result(staff, module, completed_on, score):
    return TrainingResult.objects.create(
        staff=staff, module=module, completed_on=completed_on, score=score
    )


def deal(key, *, owner, status, closed_on=None, amount=None, client=None):
    return Deal.objects.create(
        key=key,
        name=key,
        owner=owner,
        client=client,
        created_on=date(2025, 11, 1),
        closed_on=closed_on,
        status=status,
        amount=None if amount is None else Decimal(amount),
    )


def small_org(prefix=""):
    """One department, one pod, one account manager and a director to approve things."""
    dept = department(f"{prefix}dept")
    the_pod = pod(f"{prefix}pod", dept)
    return SimpleNamespace(
        department=dept,
        pod=the_pod,
        am=staff(f"{prefix}am", pod=the_pod),
        director=staff(f"{prefix}director", Role.DIRECTOR, department=dept),
    )


# --- the shared agency ---------------------------------------------------------------------


def build_agency(prefix=""):
    """The shared hand-built agency. Every figure the tests expect from it is worked out in
    the tests; the layout:

    dept-am (Account management): pod-a, pod-b.   dept-growth (Growth): pod-c.
    Staff (active): am-a1, am-a2, designer (pod-a); am-b (pod-b); am-c (pod-c);
    director (dept-am, no pod); sales (dept-growth, no pod). am-gone (pod-b) is inactive.

    Clients (engagements; fee):
      a1 am-a1: 2025-01-01.. 1000
      a2 am-a1: 2025-06-01..2026-01-31 2000, 2026-02-01.. 3000   (fee increase, not a churn)
      a3 am-a2: 2025-03-01..2026-02-15 1500                      (lost in the period)
      a4 am-a2: 2026-02-01.. 500                                 (new in the period)
      b1 am-b:  2025-09-01..2025-12-31 800                       (gone before the period)
      b2 am-b:  2025-10-01..2026-01-01 1200                      (ends on the start day)
      b3 am-b:  2025-01-01..2026-01-20 1000, 2026-03-01.. 900    (churned and returned)
      b4 am-b:  2026-01-10..2026-03-10 700                       (joined and left inside)
      c1 am-c:  2026-01-02.. 2500                                (new)
      c2 am-c:  2026-02-15.. 1500                                (new)
    """
    p = prefix
    dept_am = department(f"{p}dept-am")
    dept_growth = department(f"{p}dept-growth")
    pod_a = pod(f"{p}pod-a", dept_am)
    pod_b = pod(f"{p}pod-b", dept_am)
    pod_c = pod(f"{p}pod-c", dept_growth)

    am_a1 = staff(f"{p}am-a1", pod=pod_a)
    am_a2 = staff(f"{p}am-a2", pod=pod_a)
    designer = staff(f"{p}designer", Role.DESIGNER, pod=pod_a)
    am_b = staff(f"{p}am-b", pod=pod_b)
    am_gone = staff(f"{p}am-gone", pod=pod_b, active=False)
    am_c = staff(f"{p}am-c", pod=pod_c)
    director = staff(f"{p}director", Role.DIRECTOR, department=dept_am)
    sales = staff(f"{p}sales", Role.SALES, department=dept_growth)

    a1 = client(f"{p}a1", pod=pod_a, am=am_a1, engagements=[(date(2025, 1, 1), None, "1000")])
    a2 = client(
        f"{p}a2",
        pod=pod_a,
        am=am_a1,
        engagements=[
            (date(2025, 6, 1), date(2026, 1, 31), "2000"),
            (date(2026, 2, 1), None, "3000"),
        ],
    )
    a3 = client(
        f"{p}a3",
        pod=pod_a,
        am=am_a2,
        engagements=[(date(2025, 3, 1), date(2026, 2, 15), "1500")],
    )
    a4 = client(f"{p}a4", pod=pod_a, am=am_a2, engagements=[(date(2026, 2, 1), None, "500")])
    b1 = client(
        f"{p}b1", pod=pod_b, am=am_b, engagements=[(date(2025, 9, 1), date(2025, 12, 31), "800")]
    )
    b2 = client(
        f"{p}b2", pod=pod_b, am=am_b, engagements=[(date(2025, 10, 1), date(2026, 1, 1), "1200")]
    )
    b3 = client(
        f"{p}b3",
        pod=pod_b,
        am=am_b,
        engagements=[
            (date(2025, 1, 1), date(2026, 1, 20), "1000"),
            (date(2026, 3, 1), None, "900"),
        ],
    )
    b4 = client(
        f"{p}b4", pod=pod_b, am=am_b, engagements=[(date(2026, 1, 10), date(2026, 3, 10), "700")]
    )
    c1 = client(f"{p}c1", pod=pod_c, am=am_c, engagements=[(date(2026, 1, 2), None, "2500")])
    c2 = client(f"{p}c2", pod=pod_c, am=am_c, engagements=[(date(2026, 2, 15), None, "1500")])

    # Communication. days_inactive on D: a1 10, a2 0, a4 58, b3 30, c1 11, c2 2.
    touchpoint(a1, date(2026, 3, 21), "email")  # outbound: D - Mar 21 = 10 days
    touchpoint(a1, date(2026, 3, 28), "email", "inbound")  # inbound email: does not count
    touchpoint(a1, date(2026, 4, 2), "call")  # after D: ignored
    touchpoint(a2, date(2026, 3, 31), "call", "inbound")  # inbound call on D: counts, 0 days
    # a4: no touchpoint; service began Feb 1: D - Feb 1 = 58 days
    touchpoint(b3, date(2025, 12, 15), "meeting")  # earlier service period: D - Mar 1 = 30
    touchpoint(c1, date(2026, 3, 20), "report")  # D - Mar 20 = 11
    touchpoint(c2, date(2026, 3, 29), "chat")  # D - Mar 29 = 2

    # Deadlines.
    task(a1, f"{p}t1", date(2026, 3, 10), assignee=am_a1, completed=date(2026, 3, 9))
    task(a1, f"{p}t2", date(2026, 3, 20), assignee=designer, completed=date(2026, 3, 25))
    task(a2, f"{p}t3", date(2026, 3, 31), assignee=am_a1)  # due on D, open: not missed yet
    task(b3, f"{p}t4", date(2026, 3, 5), assignee=designer)  # pod-a person, pod-b client
    task(c1, f"{p}t5", date(2026, 2, 10), assignee=am_c, completed=date(2026, 2, 10))
    task(c1, f"{p}t6", date(2026, 4, 10), assignee=am_c)  # due after D
    task(a4, f"{p}t7", None, assignee=am_a2, created=date(2026, 2, 5))  # undated
    t8 = task(b3, f"{p}t8", date(2026, 3, 10), assignee=am_b, completed=date(2026, 3, 24))
    postpone(t8, to=date(2026, 3, 24), approved_on=date(2026, 3, 8), approver=director)

    # Weekly goals.
    weekly_goal(a1, am_a1, date(2026, 3, 16), "met")
    weekly_goal(a1, am_a1, date(2026, 3, 23), "missed")
    weekly_goal(b3, designer, date(2026, 3, 9), "met")
    weekly_goal(a2, am_a1, date(2026, 3, 30), "met")  # week not ended on D
    weekly_goal(c1, am_c, date(2025, 12, 29), "met")  # week starts before the period
    weekly_goal(c1, am_c, date(2026, 1, 5), "open")  # never closed: set, not met

    # Client goals (pace on D).
    common = {"baseline": 0, "starts_on": date(2026, 1, 1)}
    client_goal(a1, f"{p}g-a1", target=100, current=80, due_on=D, **common)  # at risk
    client_goal(b3, f"{p}g-b3", target=100, current=0, due_on=D, **common)  # off track
    client_goal(c1, f"{p}g-c1", target=10, current=10, due_on=date(2026, 6, 30), **common)

    # Tactics and CRO tests.
    cro_test(a1, f"{p}x1", outcome="win", confidence=99, ended_on=date(2026, 3, 1), owner=designer)
    cro_test(
        b3, f"{p}x2", outcome="loss", confidence=92, ended_on=date(2026, 3, 15), owner=designer
    )
    tactic(c1, f"{p}x3", outcome="win", ended_on=date(2026, 2, 20), owner=am_c)
    tactic(a2, f"{p}x4", outcome="inconclusive", ended_on=date(2026, 1, 15), owner=am_a1)
    tactic(a1, f"{p}x5", outcome="running", owner=am_a1)
    tactic(c1, f"{p}x6", outcome="loss", ended_on=date(2026, 4, 5), owner=am_c)  # after D

    # Training.
    m_all = module(f"{p}m-all", pass_score=70)
    m_am = module(f"{p}m-am", pass_score=80, department=dept_am)
    m_optional = module(f"{p}m-optional", pass_score=50, required=False)
    training_result(am_a1, m_all, date(2026, 1, 10), 90)
    training_result(am_a1, m_am, date(2026, 1, 10), 85)
    training_result(am_a2, m_all, date(2026, 1, 5), 60)
    training_result(am_a2, m_all, date(2026, 2, 5), 75)  # retaken and passed
    training_result(am_b, m_all, date(2026, 1, 5), 95)
    training_result(am_b, m_all, date(2026, 3, 1), 65)  # retaken and failed: latest counts
    training_result(am_b, m_am, date(2026, 1, 20), 80)  # exactly the pass score
    training_result(designer, m_all, date(2026, 2, 1), 70)  # exactly the pass score
    training_result(designer, m_am, date(2026, 4, 2), 90)  # after D: ignored
    training_result(am_c, m_all, date(2026, 2, 1), 100)
    training_result(am_c, m_am, date(2026, 2, 1), 50)  # another department's module
    training_result(sales, m_optional, date(2026, 2, 1), 40)
    training_result(am_gone, m_all, date(2026, 2, 1), 100)  # inactive staff: ignored

    # Deals.
    deal(f"{p}d1", owner=sales, status="won", closed_on=date(2026, 2, 10), amount="5000", client=a1)
    deal(f"{p}d2", owner=sales, status="lost", closed_on=date(2026, 3, 1))
    deal(f"{p}d3", owner=sales, status="won", closed_on=date(2026, 3, 20))  # no amount
    deal(f"{p}d4", owner=sales, status="won", closed_on=date(2026, 4, 3), amount="9000")
    deal(
        f"{p}d5",
        owner=am_a1,
        status="won",
        closed_on=date(2026, 1, 15),
        amount="1200.50",
        client=c1,
    )
    deal(f"{p}d6", owner=sales, status="lost", closed_on=date(2025, 12, 20))
    deal(f"{p}d7", owner=sales, status="open")

    # every object built above, by its variable name (agency.pod_a, agency.am_a1, ...)
    built = {name: value for name, value in locals().items() if name not in ("p", "common")}
    return SimpleNamespace(**built)
