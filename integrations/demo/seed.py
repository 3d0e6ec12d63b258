"""Putting the demo agency together, in one transaction."""

import dataclasses
import datetime
import time

import pghistory
from django.db import connection, transaction

from clients.models import ClientGoal, Touchpoint
from godview.models import AgencySettings
from workflows.models import DeadlineChange, Postponement, Tactic, Task, WeeklyGoal

from . import vocabulary
from .activity import tactics_for, touchpoints_for
from .base import Writer
from .clients import (
    ClientPlan,
    CompanyNames,
    assign_teams,
    build_clients,
    build_deals,
    plan_histories,
)
from .goals import client_goals_for, weekly_goals_for
from .people import Agency, build_people, build_training
from .tasks import TASKS_PER_CLIENT, tasks_for

HISTORY_DAYS = 730
CLIENTS_PER_BATCH = 40  # clients whose work is built and written together


@dataclasses.dataclass
class SeedReport:
    counts: dict[str, int]  # model name -> rows written
    seconds: float
    history_start: datetime.date
    today: datetime.date


def seed_demo_agency(*, clients: int, seed: int, today: datetime.date) -> SeedReport:
    """Write a complete demo agency whose history ends on `today`, with `clients` active
    clients on that day. The same clients, seed and today always give the same rows (apart
    from primary keys, timestamps the database sets, and the unusable passwords). Expects a
    database without clients or demo staff; writes everything or nothing."""
    if clients < 1:
        raise ValueError("A demo agency needs at least one client.")
    started = time.monotonic()
    writer = Writer()
    history_start = today - datetime.timedelta(days=HISTORY_DAYS)
    with transaction.atomic(), pghistory.context(command="seed_demo"):
        _check_foreign_keys_per_statement()
        settings = AgencySettings.load()
        settings.agency_name = vocabulary.AGENCY_NAME
        settings.save(update_fields=["agency_name", "updated_at"])
        agency = build_people(
            writer=writer,
            seed=seed,
            clients=clients,
            today=today,
            history_start=history_start,
            zone=settings.zone,
        )
        build_training(writer=writer, agency=agency)
        names = CompanyNames()
        plans = plan_histories(agency=agency, clients=clients, names=names)
        assign_teams(agency=agency, plans=plans)
        build_clients(writer=writer, plans=plans)
        build_deals(writer=writer, agency=agency, plans=plans, names=names)
        _build_client_work(writer=writer, agency=agency, plans=plans, clients=clients)
    refresh_planner_statistics()
    return SeedReport(
        counts=dict(sorted(writer.counts.items())),
        seconds=time.monotonic() - started,
        history_start=history_start,
        today=today,
    )


def refresh_planner_statistics() -> None:
    """ANALYZE after a bulk load: with the statistics of empty tables PostgreSQL picks
    nested loops that make the metrics queries 30x slower until autovacuum catches up."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _check_foreign_keys_per_statement() -> None:
    """Check the (deferred) foreign keys at the end of each statement, not at commit.

    Every history trigger (pgtrigger/pghistory) enters and leaves a PL/pgSQL exception block
    per row, and each aborted subtransaction rescans the transaction's whole queue of deferred
    foreign-key checks: with the checks deferred, inserting n rows costs O(n^2), minutes for
    half a million tasks. Immediate checks keep that queue empty. The setting lasts until
    the end of the outermost transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _build_client_work(*, writer: Writer, agency: Agency, plans: list[ClientPlan], clients):
    """Goals, weekly goals, touchpoints, tactics and tasks, a batch of clients at a time so
    that half a million tasks never sit in memory at once."""
    days_served = sum(
        (end - start).days + 1
        for plan in plans
        for start, end, _ in plan.spans_within(agency.history_start, agency.today)
    )
    tasks_per_active_day = TASKS_PER_CLIENT * clients / days_served
    for first in range(0, len(plans), CLIENTS_PER_BATCH):
        batch = plans[first : first + CLIENTS_PER_BATCH]
        goals, weekly_goals, touchpoints, tactics = [], [], [], []
        tasks, postponements, deadline_changes = [], [], []
        for plan in batch:
            client_goals = client_goals_for(plan, agency)
            goals += client_goals
            weekly_goals += weekly_goals_for(plan, agency, client_goals)
            touchpoints += touchpoints_for(plan, agency)
            tactics += tactics_for(plan, agency)
            work = tasks_for(plan, agency, tasks_per_active_day)
            tasks += work.tasks
            postponements += work.postponements
            deadline_changes += work.deadline_changes
        writer.insert(ClientGoal, goals)
        writer.insert(WeeklyGoal, weekly_goals)
        writer.insert(Touchpoint, touchpoints)
        writer.insert(Tactic, tactics)
        writer.insert(Task, tasks)
        writer.insert(Postponement, postponements)
        writer.insert(DeadlineChange, deadline_changes)
