"""The Asana admin: projects mapped to clients (from either side), synced on demand and given
webhooks; users matched to staff; the connection cleared once fixed; nothing secret shown."""

import datetime
import itertools

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client
from integrations.asana.client import ConnectionBroken
from integrations.asana.webhooks import WebhookError
from integrations.models import (
    AsanaProject,
    AsanaUser,
    AsanaWebhook,
    ConnectionStatus,
    SyncRun,
    SyncSource,
    WebhookDelivery,
)
from tests import factories
from tests.test_admin import admin_url, form_data, messages_of

pytestmark = pytest.mark.django_db

_gids = itertools.count(1_200_000_000_000)


def project(name="Website", **fields) -> AsanaProject:
    return AsanaProject.objects.create(
        **{
            "gid": str(next(_gids)),
            "name": name,
            "workspace_gid": "1000",
            "seen_at": timezone.now(),
            **fields,
        }
    )


def asana_user(name="Ann", **fields) -> AsanaUser:
    gid = str(next(_gids))
    return AsanaUser.objects.create(
        **{"gid": gid, "name": name, "email": f"{gid}@agency.test", "seen_at": timezone.now()}
        | fields
    )


def webhook(of: AsanaProject, **fields) -> AsanaWebhook:
    return AsanaWebhook.objects.create(
        **{
            "gid": str(next(_gids)),
            "project": of,
            "target": "https://godview.test/hooks/1/",
            "secret": "hook-secret-never-shown",
            **fields,
        }
    )


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


class FakeCelery:
    def __init__(self):
        self.sent = []

    def send_task(self, name, args=(), kwargs=None):
        self.sent.append((name, list(args), kwargs or {}))


@pytest.fixture
def celery(monkeypatch):
    fake = FakeCelery()
    monkeypatch.setattr("integrations.asana.admin.current_app", fake)
    return fake


def act(admin_client, model, action, objects):
    return admin_client.post(
        admin_url(model, "changelist"),
        {"action": action, "_selected_action": [obj.pk for obj in objects]},
        follow=True,
    )


# Projects


def test_projects_list_shows_the_client_or_unmapped_and_filters(admin_client):
    mapped = project("Acme site")
    unmapped = project("Nobody's")
    client = factories.client(name="Acme", asana_project_gid=mapped.gid)

    response = admin_client.get(admin_url(AsanaProject, "changelist"))
    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="{admin_url(Client, "change", client.pk)}">Acme</a>' in page
    assert f'href="{admin_url(AsanaProject, "change", unmapped.pk)}">Unmapped' in page

    only_unmapped = admin_client.get(admin_url(AsanaProject, "changelist") + "?mapped=no")
    assert list(only_unmapped.context["cl"].result_list) == [unmapped]
    only_mapped = admin_client.get(admin_url(AsanaProject, "changelist") + "?mapped=yes")
    assert list(only_mapped.context["cl"].result_list) == [mapped]


@pytest.mark.parametrize("rows", [2, 12])
def test_projects_list_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, rows
):
    for n in range(rows):
        factories.client(asana_project_gid=project(f"P{n}", last_error="boom").gid)
        project(f"Unmapped {n}")
    with django_assert_max_num_queries(8):
        response = admin_client.get(admin_url(AsanaProject, "changelist"))
    assert response.context["cl"].result_count == 2 * rows


def test_a_project_is_mapped_from_its_page_without_touching_its_sync_state(admin_client):
    target = project("Acme site")
    before = factories.client(name="Before", asana_project_gid=target.gid)
    after = factories.client(name="After")
    factories.client(name="Taken", asana_project_gid=project("Other").gid)
    change_url = admin_url(AsanaProject, "change", target.pk)

    response = admin_client.get(change_url)
    offered = {c.name for c in response.context["adminform"].form.fields["client"].queryset}
    assert offered == {"Before", "After"}  # "Taken" has a project already
    assert response.context["adminform"].form.initial["client"] == before.pk

    watermark = timezone.now()  # a sync run advanced the project while the page was open
    AsanaProject.objects.filter(pk=target.pk).update(tasks_watermark=watermark)
    response = admin_client.post(change_url, form_data(response) | {"client": after.pk})

    assert response.status_code == 302
    assert Client.objects.get(pk=after.pk).asana_project_gid == target.gid
    assert Client.objects.get(pk=before.pk).asana_project_gid is None
    assert AsanaProject.objects.get(pk=target.pk).tasks_watermark == watermark


def test_project_sync_state_is_read_only(admin_client):
    target = project(last_error="Asana answered 500")
    response = admin_client.get(admin_url(AsanaProject, "change", target.pk))
    assert list(response.context["adminform"].form.fields) == ["client"]
    assert "Asana answered 500" in response.content.decode()


def test_sync_now_and_full_resync_queue_mapped_projects(admin_client, celery):
    acme = project("Acme site")
    factories.client(asana_project_gid=acme.gid)
    lonely = project("Lonely")

    response = act(admin_client, AsanaProject, "sync_now", [acme, lonely])
    assert celery.sent == [("asana.sync_project", [acme.gid], {})]
    assert "Sync queued for 1 project." in messages_of(response)
    assert "Not synced, no client names them: Lonely." in messages_of(response)

    celery.sent.clear()
    act(admin_client, AsanaProject, "full_resync", [acme])
    assert celery.sent == [("asana.sync_project", [acme.gid], {"full": True})]


def test_webhook_actions_report_each_project(admin_client, monkeypatch):
    good, bad = project("Good"), project("Bad")

    def create_webhook(of):
        if of == bad:
            raise WebhookError("Asana refused the webhook for Bad (403).")
        return webhook(of)

    monkeypatch.setattr("integrations.asana.webhooks.create_webhook", create_webhook)
    response = act(admin_client, AsanaProject, "create_webhook", [good, bad])
    assert messages_of(response) == [
        "Bad: could not create a webhook: Asana refused the webhook for Bad (403).",
        "Created 1 webhook.",
    ]

    removed = []

    def remove_webhook(hook):
        if hook.project == bad:
            raise ConnectionBroken("Asana refused the token (401).", status=401)
        removed.append(hook.gid)
        hook.delete()

    monkeypatch.setattr("integrations.asana.webhooks.remove_webhook", remove_webhook)
    created = good.webhooks.get()
    stuck = webhook(bad)
    response = act(admin_client, AsanaProject, "remove_webhooks", [good, bad])
    assert removed == [created.gid]
    assert f"Bad: could not remove webhook {stuck.gid}: Asana refused the token (401)." in (
        messages_of(response)
    )
    assert "Removed 1 webhook." in messages_of(response)
    assert not good.webhooks.exists()


# The client form's project chooser


def test_client_form_offers_unmapped_projects_and_its_own(admin_client):
    own = project("Own")
    free = project("Free")
    project("Archived", archived=True)
    project("Gone", gone_at=timezone.now())
    taken = project("Taken")
    factories.client(asana_project_gid=taken.gid)
    client = factories.client(asana_project_gid=own.gid)

    response = admin_client.get(admin_url(Client, "change", client.pk))
    field = response.context["adminform"].form.fields["asana_project_gid"]
    assert [gid for gid, _ in field.choices] == ["", free.gid, own.gid]

    response = admin_client.get(admin_url(Client, "add"))
    field = response.context["adminform"].form.fields["asana_project_gid"]
    assert [gid for gid, _ in field.choices] == ["", free.gid]


def test_client_form_keeps_a_bundle_project_not_listed_yet(admin_client):
    client = factories.client(asana_project_gid="1299999999999")
    change_url = admin_url(Client, "change", client.pk)

    response = admin_client.get(change_url)
    field = response.context["adminform"].form.fields["asana_project_gid"]
    assert ("1299999999999", "1299999999999 (not listed in Asana yet)") in field.choices

    response = admin_client.post(change_url, form_data(response))
    assert response.status_code == 302
    assert Client.objects.get(pk=client.pk).asana_project_gid == "1299999999999"


def test_client_form_refuses_another_clients_project_and_can_unmap(admin_client):
    taken = project("Taken")
    factories.client(asana_project_gid=taken.gid)
    client = factories.client(asana_project_gid=project("Own").gid)
    change_url = admin_url(Client, "change", client.pk)
    data = form_data(admin_client.get(change_url))

    response = admin_client.post(change_url, data | {"asana_project_gid": taken.gid})
    assert response.status_code == 200
    assert "asana_project_gid" in response.context["adminform"].form.errors

    response = admin_client.post(change_url, data | {"asana_project_gid": ""})
    assert response.status_code == 302
    assert Client.objects.get(pk=client.pk).asana_project_gid is None


# Users


def test_users_filter_unmatched_and_staff_is_chosen_by_hand(admin_client):
    person = factories.staff(name="Ann Staff")
    matched = asana_user("Matched", staff=person)
    stray = asana_user("Stray", email="ann.private@example.com")

    response = admin_client.get(admin_url(AsanaUser, "changelist") + "?matched=no")
    assert list(response.context["cl"].result_list) == [stray]
    response = admin_client.get(admin_url(AsanaUser, "changelist") + "?matched=yes")
    assert list(response.context["cl"].result_list) == [matched]

    change_url = admin_url(AsanaUser, "change", stray.pk)
    response = admin_client.get(change_url)
    form = response.context["adminform"].form
    assert list(form.fields) == ["staff"]
    assert "only when the Asana email differs" in form.fields["staff"].help_text

    response = admin_client.post(change_url, {"staff": person.pk})
    assert response.status_code == 302
    assert AsanaUser.objects.get(pk=stray.pk).staff == person


# The connection


def test_try_again_clears_a_broken_connection(admin_client):
    status = ConnectionStatus.objects.create(
        source=SyncSource.ASANA, broken_at=timezone.now(), reason="401: token revoked"
    )
    response = admin_client.get(admin_url(ConnectionStatus, "changelist"))
    assert "401: token revoked" in response.content.decode()

    response = act(admin_client, ConnectionStatus, "try_again", [status])

    status.refresh_from_db()
    assert (status.broken_at, status.reason) == (None, "")
    assert "Cleared 1 broken connection" in messages_of(response)[0]


def test_connection_status_is_read_only(admin_client):
    status = ConnectionStatus.objects.create(source=SyncSource.ASANA)
    response = admin_client.get(admin_url(ConnectionStatus, "change", status.pk))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]


# Webhooks, deliveries and runs


def test_webhooks_and_deliveries_list_without_the_secret(admin_client):
    hook = webhook(project("Acme site"), last_delivery_at=timezone.now())
    WebhookDelivery.objects.create(webhook=hook, digest="d" * 64, events=3, task_gids=["1", "2"])

    pages = [
        admin_client.get(admin_url(AsanaWebhook, "changelist")),
        admin_client.get(admin_url(AsanaWebhook, "change", hook.pk)),
        admin_client.get(admin_url(WebhookDelivery, "changelist")),
    ]
    for response in pages:
        assert response.status_code == 200
        assert "hook-secret-never-shown" not in response.content.decode()
    assert "Acme site" in pages[2].content.decode()


def test_sync_runs_list_their_scope_and_api_calls(admin_client):
    now = timezone.now()
    SyncRun.objects.create(
        source=SyncSource.ASANA,
        scope="1200000000042",
        api_calls=37,
        started_at=now - datetime.timedelta(minutes=1),
        finished_at=now,
        status="succeeded",
    )
    response = admin_client.get(admin_url(SyncRun, "changelist"))
    page = response.content.decode()
    assert "1200000000042" in page and ">37<" in page


def test_asana_pages_are_linked_from_the_admin_index(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    for model in (AsanaProject, AsanaUser, ConnectionStatus, AsanaWebhook, WebhookDelivery):
        assert admin_url(model, "changelist") in page
