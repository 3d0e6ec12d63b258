"""Asana webhooks (QUALITY R5, S7): the handshake, signed deliveries stored and queued once,
and creating and removing hooks through the real SDK against the sandbox.

The sandbox is a real HTTP server that makes the handshake and deliveries to Django's live
server, so every request goes over HTTP and commits as in production. Queued follow-ups are
captured at ``send_task`` of the Celery app (no worker needed to count them).
"""

import json
import threading
import urllib.error
import urllib.request
import uuid

import pytest
from celery import current_app
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from integrations.asana import webhooks
from integrations.asana.sandbox import AsanaSandbox, sign
from integrations.models import AsanaProject, AsanaWebhook, WebhookDelivery

TOKEN = "1/98765:webhook-tests-sandbox-token"
SECRET = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"


@pytest.fixture
def sandbox():
    with AsanaSandbox(token=TOKEN) as box:
        yield box


@pytest.fixture
def world(sandbox):
    ws = sandbox.add_workspace("Agency")
    return {"ws": ws, "project": sandbox.add_project("Client A", ws)}


@pytest.fixture
def project(world):
    return AsanaProject.objects.create(
        gid=world["project"], name="Client A", workspace_gid=world["ws"], seen_at=timezone.now()
    )


@pytest.fixture
def configured(settings, sandbox, world, live_server):
    """Settings as a deployment has them, pointed at the sandbox and the live server."""
    settings.SITE_URL = live_server.url
    settings.ASANA_BASE_URL = sandbox.base_url
    # A token per test: the request budget in Redis is keyed by token.
    settings.ASANA_ACCESS_TOKEN = f"{TOKEN}-{uuid.uuid4().hex[:8]}"
    settings.ASANA_WORKSPACE_GID = world["ws"]
    sandbox.add_token(settings.ASANA_ACCESS_TOKEN)
    return settings


@pytest.fixture
def queued(monkeypatch):
    """The tasks the webhook receiver sends to Celery, as (name, args)."""
    sent = []
    lock = threading.Lock()

    def send_task(name, args=None, **kwargs):
        with lock:
            sent.append((name, list(args or [])))

    monkeypatch.setattr(current_app._get_current_object(), "send_task", send_task)
    return sent


def make_hook(project, secret=SECRET, gid=None):
    return AsanaWebhook.objects.create(
        gid=gid or str(uuid.uuid4().int)[:16],
        project=project,
        target="https://x.test/",
        secret=secret,
    )


def url_of(hook, base=""):
    return base + reverse("integrations:asana-webhook", args=[hook.pk])


def post(url, body=b"", headers=None):
    """A POST over HTTP: (status, headers, text)."""
    request = urllib.request.Request(  # noqa: S310 - the live server of the test
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def delivery_body(*events):
    return json.dumps({"events": list(events)}, separators=(",", ":")).encode()


def task_event(gid, action="changed"):
    return {
        "user": {"gid": "1", "resource_type": "user"},
        "created_at": "2025-01-06T09:00:00.000Z",
        "action": action,
        "resource": {"gid": gid, "resource_type": "task"},
        "parent": None,
    }


# ------------------------------------------------------------------------- handshake


@pytest.mark.django_db
def test_handshake_stores_the_secret_and_echoes_it_once(client, project):
    hook = make_hook(project, secret="", gid=f"{webhooks.PENDING_PREFIX}1")
    established = make_hook(project, secret="")  # created, but Asana sent no secret

    first = client.post(url_of(hook), HTTP_X_HOOK_SECRET=SECRET)
    second = client.post(url_of(hook), HTTP_X_HOOK_SECRET="someone-elses-secret")
    late = client.post(url_of(established), HTTP_X_HOOK_SECRET="someone-elses-secret")

    assert first.status_code == 200 and first.headers["X-Hook-Secret"] == SECRET
    assert SECRET not in first.text
    for refused in (second, late):
        assert refused.status_code == 409 and "X-Hook-Secret" not in refused.headers
    hook.refresh_from_db()
    established.refresh_from_db()
    assert hook.secret == SECRET and established.secret == ""


@pytest.mark.django_db
def test_unknown_hook_is_404_and_only_post_is_accepted(client, project):
    hook = make_hook(project)
    missing = reverse("integrations:asana-webhook", args=[hook.pk + 1000])

    assert client.post(missing, HTTP_X_HOOK_SECRET=SECRET).status_code == 404
    assert client.get(url_of(hook)).status_code == 405
    assert AsanaWebhook.objects.get().secret == SECRET


# ------------------------------------------------------------------------- create and remove


def test_creating_a_webhook_completes_the_handshake_and_deliveries_are_queued_once(
    configured, sandbox, world, project, queued, live_server, caplog
):
    caplog.set_level("DEBUG")
    hook = webhooks.create_webhook(project)

    (remote,) = sandbox.webhooks.values()
    assert hook.gid == remote.gid and hook.secret == remote.secret
    assert hook.target == remote.target == url_of(hook, live_server.url)
    assert remote.filters == webhooks.WEBHOOK_FILTERS

    task = sandbox.add_task(world["project"], "Launch", due_on="2025-02-01")
    sandbox.edit_task(task, due_on="2025-02-07")
    other = sandbox.add_task(world["project"], "Report")
    sandbox.add_comment(other, "sent the draft")
    sandbox.add_section(world["project"], "Doing")  # filtered out: not a task or story
    asana_calls = len(sandbox.request_log)

    assert sandbox.deliver_webhook_events() == [(hook.gid, 200)]

    delivery = WebhookDelivery.objects.get()
    assert delivery.webhook == hook and delivery.task_gids == [task, other]
    assert delivery.processed_at is None and delivery.events >= 4
    assert queued == [("asana.process_webhook_delivery", [delivery.pk])]
    assert len(sandbox.request_log) == asana_calls  # answered without calling Asana
    hook.refresh_from_db()
    assert hook.last_delivery_at is not None
    assert remote.secret not in caplog.text and "sent the draft" not in caplog.text


def test_creating_a_webhook_asana_refuses_leaves_nothing_behind(configured, project, sandbox):
    sandbox.allow_local_webhooks = False  # Asana's 403 for a localhost target

    with pytest.raises(webhooks.WebhookError, match="public HTTPS"):
        webhooks.create_webhook(project)

    assert not AsanaWebhook.objects.exists() and sandbox.webhooks == {}


def test_creating_a_webhook_inside_a_transaction_is_refused(configured, project, sandbox):
    with pytest.raises(webhooks.WebhookError, match="outside a transaction"), transaction.atomic():
        webhooks.create_webhook(project)

    assert not AsanaWebhook.objects.exists() and not sandbox.calls("/webhooks", method="POST")


def test_removing_a_webhook_deletes_it_in_asana_and_here(configured, project, sandbox):
    hook = webhooks.create_webhook(project)
    gone = webhooks.create_webhook(project)
    sandbox.webhooks.pop(gone.gid)  # Asana deleted it already (24 hours of failures)

    webhooks.remove_webhook(hook)
    webhooks.remove_webhook(gone)

    assert sandbox.webhooks == {} and not AsanaWebhook.objects.exists()
    deletes = sandbox.calls("/webhooks", method="DELETE")
    assert [(c.path, c.status) for c in deletes] == [
        (f"/webhooks/{hook.gid}", 200),
        (f"/webhooks/{gone.gid}", 404),
    ]


# ------------------------------------------------------------------------- deliveries


@pytest.mark.parametrize(
    "signature",
    [None, "", "0" * 64, sign("another-secret", b"x"), "é" * 64, "sha256=" + "0" * 64],
    ids=["missing", "empty", "zeros", "other-secret", "non-ascii", "prefixed"],
)
def test_bad_or_missing_signature_is_401_and_nothing_is_stored_or_queued(
    live_server, project, queued, signature
):
    hook = make_hook(project)
    body = delivery_body(task_event("1200000000000999"))
    headers = {"X-Hook-Signature": signature} if signature is not None else {}

    status, _, text = post(url_of(hook, live_server.url), body, headers)

    assert status == 401 and SECRET not in text
    assert not WebhookDelivery.objects.exists() and queued == []
    hook.refresh_from_db()
    assert hook.last_delivery_at is None


def test_a_hook_without_a_secret_yet_accepts_no_delivery(live_server, project, queued):
    hook = make_hook(project, secret="")
    body = delivery_body(task_event("1200000000000999"))

    status, _, _ = post(url_of(hook, live_server.url), body, {"X-Hook-Signature": sign("", body)})

    assert status == 401 and not WebhookDelivery.objects.exists() and queued == []


def test_the_same_delivery_ten_times_is_stored_and_queued_once(live_server, project, queued):
    hook = make_hook(project)
    body = delivery_body(task_event("1200000000000101"), task_event("1200000000000102"))
    url, headers = url_of(hook, live_server.url), {"X-Hook-Signature": sign(SECRET, body)}

    statuses = [post(url, body, headers)[0] for _ in range(4)]
    threads = [
        threading.Thread(target=lambda: statuses.append(post(url, body, headers)[0]))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 10
    delivery = WebhookDelivery.objects.get()
    assert delivery.task_gids == ["1200000000000101", "1200000000000102"]
    assert queued == [("asana.process_webhook_delivery", [delivery.pk])]


def test_heartbeat_is_acknowledged_and_nothing_is_queued(
    configured, sandbox, project, queued, live_server
):
    hook = webhooks.create_webhook(project)

    assert sandbox.deliver_webhook_events(heartbeat=True) == [(hook.gid, 200)]

    hook.refresh_from_db()
    assert hook.last_delivery_at is not None
    assert not WebhookDelivery.objects.exists() and queued == []


def test_a_signed_body_that_is_not_an_event_list_is_400(live_server, project, queued):
    hook = make_hook(project)
    url = url_of(hook, live_server.url)
    for body in (b"not json", b'{"events": {"a": 1}}', b"[]", b'{"events": ["x"]}'):
        status, _, _ = post(url, body, {"X-Hook-Signature": sign(SECRET, body)})
        assert status == 400, body
    assert not WebhookDelivery.objects.exists() and queued == []


def test_a_delivery_naming_no_task_is_kept_but_not_queued(live_server, project, queued):
    hook = make_hook(project)
    event = {
        "action": "changed",
        "resource": {"gid": "5", "resource_type": "project"},
        "parent": None,
        "change": {"field": "name", "action": "changed"},
    }
    body = delivery_body(event)

    status, _, _ = post(
        url_of(hook, live_server.url), body, {"X-Hook-Signature": sign(SECRET, body)}
    )

    assert status == 200 and queued == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.task_gids == [] and delivery.processed_at is not None


def test_when_the_queue_is_down_asana_is_asked_to_retry(live_server, project, monkeypatch):
    from kombu.exceptions import OperationalError

    hook = make_hook(project)
    body = delivery_body(task_event("1200000000000103"))
    url, headers = url_of(hook, live_server.url), {"X-Hook-Signature": sign(SECRET, body)}
    sent = []

    def broker_down(name, args=None, **kwargs):
        raise OperationalError("Error 111 connecting to localhost:6379. Connection refused.")

    app = current_app._get_current_object()
    monkeypatch.setattr(app, "send_task", broker_down)
    assert post(url, body, headers)[0] == 503
    assert not WebhookDelivery.objects.exists()

    monkeypatch.setattr(app, "send_task", lambda name, args=None, **kw: sent.append(args))
    assert post(url, body, headers)[0] == 200  # Asana's retry
    assert sent == [[WebhookDelivery.objects.get().pk]]


def test_task_gids_come_from_task_events_and_the_task_of_story_events():
    events = [
        task_event("11", "added"),
        {
            "action": "added",
            "resource": {"gid": "90", "resource_type": "story"},
            "parent": {"gid": "12", "resource_type": "task"},
        },
        task_event("13", "deleted"),
        task_event("11", "changed"),
        {"action": "removed", "resource": {"gid": "91", "resource_type": "story"}, "parent": None},
        {
            "action": "added",
            "resource": {"gid": "7", "resource_type": "section"},
            "parent": {"gid": "5", "resource_type": "project"},
        },
        {"action": "changed", "resource": "garbage", "parent": 3},
    ]

    assert webhooks.task_gids(events) == ["11", "12", "13"]
