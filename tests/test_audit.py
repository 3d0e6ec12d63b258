"""Audit history (django-pghistory): who changed what, when, from what to what."""

import pghistory
import pytest
from pghistory.models import Events

from godview.models import AgencySettings
from tests import factories
from workflows.models import Task

pytestmark = pytest.mark.django_db


def test_a_client_change_records_who_and_before_after(superuser):
    client = factories.client(name="Acme")
    with pghistory.context(user=superuser.pk, url="/admin/clients/client/1/change/"):
        client.name = "Acme Widgets"
        client.save()

    update = Events.objects.references(client).filter(pgh_label="update").get()
    assert update.pgh_diff["name"] == ["Acme", "Acme Widgets"]
    assert update.pgh_context["user"] == superuser.pk
    assert update.pgh_created_at is not None


def test_bulk_updates_are_recorded_too():
    client = factories.client()
    task = factories.task(client, name="Before")
    Task.objects.filter(id=task.id).update(name="After")

    update = Events.objects.references(task).filter(pgh_label="update").get()
    assert update.pgh_diff["name"] == ["Before", "After"]


def test_saving_without_a_change_records_nothing():
    client = factories.client()
    before = Events.objects.count()
    client.save()
    assert Events.objects.count() == before


def test_settings_changes_are_audited():
    settings_row = AgencySettings.load()
    settings_row.sla_days = 7
    settings_row.save()
    update = Events.objects.references(settings_row).filter(pgh_label="update").get()
    assert update.pgh_diff["sla_days"] == [10, 7]
