"""Deadlines are fixed: the committed due date moves only through an approved postponement."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from godview.models import Role
from tests import factories
from workflows.models import Postponement, Task
from workflows.services import PostponementError, approve_postponement, committed_due_date

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def task():
    return factories.task(factories.client(), due_on=D(2026, 3, 10))


def request_postponement(task, to, by=None):
    return Postponement.objects.create(
        task=task,
        from_due_on=task.committed_due_on,
        to_due_on=to,
        reason="Client asked",
        requested_by=by,
    )


def test_saving_a_new_committed_date_is_rejected_by_the_database(task):
    task.committed_due_on = D(2026, 3, 20)
    with (
        pytest.raises(IntegrityError, match="only move through an approved postponement"),
        transaction.atomic(),
    ):
        task.save()
    task.refresh_from_db()
    assert task.committed_due_on == D(2026, 3, 10)


def test_bulk_updates_cannot_move_it_either(task):
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(id=task.id).update(committed_due_on=None)
    assert Task.objects.get(id=task.id).committed_due_on == D(2026, 3, 10)


def test_editing_the_source_due_date_does_not_move_the_commitment(task):
    Task.objects.filter(id=task.id).update(due_on=D(2026, 4, 1), name="Renamed")
    task.refresh_from_db()
    assert (task.due_on, task.committed_due_on) == (D(2026, 4, 1), D(2026, 3, 10))


def test_a_task_first_given_a_date_gets_it_as_its_commitment():
    undated = factories.task(factories.client(), due_on=None, first_due_on=None)
    Task.objects.filter(id=undated.id).update(
        first_due_on=D(2026, 5, 1), committed_due_on=D(2026, 5, 1), due_on=D(2026, 5, 1)
    )
    assert Task.objects.get(id=undated.id).committed_due_on == D(2026, 5, 1)


def test_approving_a_postponement_moves_the_committed_date(task):
    requester = factories.staff()
    director = factories.staff(role=Role.DIRECTOR)
    postponement = request_postponement(task, D(2026, 3, 17), by=requester)

    approve_postponement(postponement=postponement, approver=director, on=D(2026, 3, 8))

    task.refresh_from_db()
    postponement.refresh_from_db()
    assert task.committed_due_on == D(2026, 3, 17)
    assert task.first_due_on == D(2026, 3, 10)
    assert (postponement.status, postponement.approved_by, postponement.approved_on) == (
        "approved",
        director,
        D(2026, 3, 8),
    )
    assert postponement.days_added == 7


def test_a_request_that_is_not_approved_moves_nothing(task):
    request_postponement(task, D(2026, 3, 30))
    task.refresh_from_db()
    assert task.committed_due_on == D(2026, 3, 10)


def test_nobody_approves_their_own_postponement(task):
    director = factories.staff(role=Role.DIRECTOR)
    postponement = request_postponement(task, D(2026, 3, 17), by=director)

    with pytest.raises(PostponementError, match="another person"):
        approve_postponement(postponement=postponement, approver=director, on=D(2026, 3, 8))
    assert Task.objects.get(id=task.id).committed_due_on == D(2026, 3, 10)


def test_an_approved_postponement_cannot_be_approved_twice(task):
    director = factories.staff(role=Role.DIRECTOR)
    postponement = request_postponement(task, D(2026, 3, 17))
    approve_postponement(postponement=postponement, approver=director, on=D(2026, 3, 8))

    with pytest.raises(PostponementError, match="already approved"):
        approve_postponement(postponement=postponement, approver=director, on=D(2026, 3, 9))


def test_postponements_apply_in_order_of_approval_date_then_to_date():
    first = D(2026, 3, 10)

    def approved(on, to):
        return Postponement(approved_on=on, to_due_on=to)

    assert committed_due_date(first_due_on=first, approved=[]) == first
    assert committed_due_date(
        first_due_on=first,
        approved=[approved(D(2026, 3, 9), D(2026, 4, 1)), approved(D(2026, 3, 5), D(2026, 5, 1))],
    ) == D(2026, 4, 1)
    assert committed_due_date(
        first_due_on=first,
        approved=[approved(D(2026, 3, 9), D(2026, 4, 20)), approved(D(2026, 3, 9), D(2026, 4, 2))],
    ) == D(2026, 4, 20)
