"""Small factories for tests: each builds one object with sensible defaults."""

import datetime
import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model

from clients.models import Client, ClientGoal, Engagement, Touchpoint
from godview.models import Department, Pod, Role, Staff
from workflows.models import Task, WeeklyGoal

_counter = itertools.count(1)


def _next() -> int:
    return next(_counter)


def department(**fields) -> Department:
    n = _next()
    return Department.objects.create(**{"key": f"dept-{n}", "name": f"Department {n}", **fields})


def pod(**fields) -> Pod:
    n = _next()
    return Pod.objects.create(**{"key": f"pod-{n}", "name": f"Pod {n}", **fields})


def staff(role=Role.ACCOUNT_MANAGER, password=None, **fields) -> Staff:
    n = _next()
    email = fields.pop("email", f"person{n}@agency.test")
    user = get_user_model().objects.create_user(
        username=email, email=email, password=password, is_superuser=False
    )
    return Staff.objects.create(
        **{
            "key": f"staff-{n}",
            "name": f"Person {n}",
            "email": email,
            "role": role,
            "user": user,
            **fields,
        }
    )


def client(pod=None, account_manager=None, **fields) -> Client:
    n = _next()
    pod = pod or globals()["pod"]()
    account_manager = account_manager or staff(pod=pod)
    return Client.objects.create(
        **{
            "key": f"client-{n}",
            "name": f"Client {n}",
            "pod": pod,
            "account_manager": account_manager,
            **fields,
        }
    )


def engagement(client, started_on, ended_on=None, monthly_fee="1000") -> Engagement:
    return Engagement.objects.create(
        client=client, started_on=started_on, ended_on=ended_on, monthly_fee=Decimal(monthly_fee)
    )


def client_goal(client, **fields) -> ClientGoal:
    n = _next()
    defaults = {
        "key": f"goal-{n}",
        "title": f"Goal {n}",
        "baseline": 10,
        "target": 20,
        "starts_on": datetime.date(2026, 1, 1),
        "due_on": datetime.date(2026, 3, 31),
    }
    return ClientGoal.objects.create(client=client, **{**defaults, **fields})


def task(client, **fields) -> Task:
    n = _next()
    due = fields.pop("due_on", datetime.date(2026, 3, 15))
    defaults = {
        "key": f"task-{n}",
        "name": f"Task {n}",
        "created_on": datetime.date(2026, 3, 1),
        "first_due_on": due,
        "committed_due_on": due,
        "due_on": due,
    }
    return Task.objects.create(client=client, **{**defaults, **fields})


def weekly_goal(client, staff, week_start, **fields) -> WeeklyGoal:
    return WeeklyGoal.objects.create(
        client=client,
        staff=staff,
        week_start=week_start,
        **{"description": f"Goal {_next()}", **fields},
    )


def touchpoint(client, occurred_on, **fields) -> Touchpoint:
    return Touchpoint.objects.create(
        client=client, occurred_on=occurred_on, **{"channel": "email", **fields}
    )
