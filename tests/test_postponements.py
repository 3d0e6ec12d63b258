"""The postponement flow through workflows.services: request, approve (the committed date
moves and the metrics follow), decline (nothing moves), and who may decide."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from godview.models import AgencySettings, Role
from metrics.compute import compute_metrics
from tests import factories
from workflows.models import Postponement
from workflows.services import (
    PostponementError,
    approve_postponement,
    decline_postponement,
    request_postponement,
)

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 3, 9)


@pytest.fixture
def task():
    client = factories.client(name="Acme")
    factories.engagement(client, D(2025, 1, 1))
    return factories.task(client, due_on=D(2026, 3, 10), created_on=D(2026, 3, 1))


def misses(as_of):
    """The agency's missed tasks as the metrics count them."""
    return compute_metrics(as_of=as_of, start=D(2026, 3, 1))["agency"]["tasks_missed"]


def test_request_approve_moves_the_committed_date_and_the_metrics(task):
    am = task.client.account_manager
    director = factories.staff(role=Role.DIRECTOR, name="Dana")
    assert misses(D(2026, 3, 12)) == 1  # open after 10 March: missed

    postponement = request_postponement(
        task=task, to_due_on=D(2026, 3, 20), reason="Client on holiday", by=am, today=TODAY
    )
    task.refresh_from_db()
    assert postponement.status == "requested" and task.committed_due_on == D(2026, 3, 10)

    approve_postponement(postponement=postponement, approver=director, on=TODAY, note="Fine")

    task.refresh_from_db()
    postponement.refresh_from_db()
    assert task.committed_due_on == D(2026, 3, 20)
    assert (postponement.approved_by, postponement.approved_on) == (director, TODAY)
    assert postponement.decision_note == "Fine"
    assert misses(D(2026, 3, 12)) == 0  # no longer missed: the deadline moved


def test_a_declined_request_moves_nothing_and_stays_visible(task):
    am = task.client.account_manager
    director = factories.staff(role=Role.DIRECTOR)
    postponement = request_postponement(
        task=task, to_due_on=D(2026, 3, 20), reason="Busy", by=am, today=TODAY
    )

    with pytest.raises(ValidationError) as excinfo:
        decline_postponement(postponement=postponement, approver=director, on=TODAY, note=" ")
    assert "Say why" in excinfo.value.message_dict["note"][0]

    decline_postponement(
        postponement=postponement, approver=director, on=TODAY, note="Deadline is contractual"
    )

    task.refresh_from_db()
    postponement.refresh_from_db()
    assert task.committed_due_on == D(2026, 3, 10)
    assert postponement.status == "declined" and postponement.approved_by == director
    assert misses(D(2026, 3, 12)) == 1
    with pytest.raises(PostponementError, match="already declined"):
        approve_postponement(postponement=postponement, approver=director, on=TODAY)


@pytest.mark.parametrize(
    ("to_due_on", "reason", "field", "message"),
    [
        (D(2026, 3, 10), "Busy", "to_due_on", "after the committed due date (10 Mar 2026)"),
        (D(2026, 3, 5), "Busy", "to_due_on", "after the committed due date"),
        (D(2026, 3, 20), "  ", "reason", "Say why"),
    ],
)
def test_a_bad_request_names_the_field_and_writes_nothing(task, to_due_on, reason, field, message):
    with pytest.raises(ValidationError) as excinfo:
        request_postponement(
            task=task,
            to_due_on=to_due_on,
            reason=reason,
            by=task.client.account_manager,
            today=TODAY,
        )

    assert message in excinfo.value.message_dict[field][0]
    assert not Postponement.objects.exists()


def test_a_task_done_or_already_waiting_cannot_be_postponed(task):
    am = task.client.account_manager
    request_postponement(task=task, to_due_on=D(2026, 3, 20), reason="A", by=am, today=TODAY)

    with pytest.raises(ValidationError, match="already waiting for a decision"):
        request_postponement(task=task, to_due_on=D(2026, 3, 25), reason="B", by=am, today=TODAY)

    done = factories.task(task.client, due_on=D(2026, 3, 10), completed_on=D(2026, 3, 8))
    with pytest.raises(ValidationError, match="already done"):
        request_postponement(task=done, to_due_on=D(2026, 3, 25), reason="B", by=am, today=TODAY)
    assert Postponement.objects.count() == 1


def test_only_another_director_or_leader_decides(task):
    am = task.client.account_manager
    director = factories.staff(role=Role.DIRECTOR)
    colleague = factories.staff(role=Role.ACCOUNT_MANAGER)
    own = request_postponement(
        task=task, to_due_on=D(2026, 3, 20), reason="A", by=director, today=TODAY
    )

    with pytest.raises(PostponementError, match="another person"):
        approve_postponement(postponement=own, approver=director, on=TODAY)
    with pytest.raises(PostponementError, match="Only directors and leadership"):
        approve_postponement(postponement=own, approver=colleague, on=TODAY)
    with pytest.raises(PostponementError, match="Only directors and leadership"):
        decline_postponement(postponement=own, approver=am, on=TODAY, note="No")

    leader = factories.staff(role=Role.LEADERSHIP)
    approve_postponement(postponement=own, approver=leader, on=TODAY)
    task.refresh_from_db()
    assert task.committed_due_on == D(2026, 3, 20)


def test_leaderships_own_requests_are_approved_at_once_when_the_setting_says_so(task):
    leader = factories.staff(role=Role.LEADERSHIP)

    postponement = request_postponement(
        task=task, to_due_on=D(2026, 3, 20), reason="Reprioritised", by=leader, today=TODAY
    )

    task.refresh_from_db()
    assert postponement.status == "approved" and postponement.approved_by == leader
    assert task.committed_due_on == D(2026, 3, 20)


def test_with_the_setting_off_leadership_waits_like_everyone(task):
    settings = AgencySettings.load()
    settings.leadership_postponements_auto_approved = False
    settings.save()
    leader = factories.staff(role=Role.LEADERSHIP)

    postponement = request_postponement(
        task=task, to_due_on=D(2026, 3, 20), reason="Reprioritised", by=leader, today=TODAY
    )

    task.refresh_from_db()
    assert postponement.status == "requested" and task.committed_due_on == D(2026, 3, 10)
