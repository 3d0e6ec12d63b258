"""The Asana sandbox, driven through the real ``asana`` SDK and checked against Asana's OAS.

No database: the sandbox is a standard-library HTTP server in a thread of the test process.
"""

import gzip
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asana
import pytest
import urllib3
from asana.rest import ApiException
from urllib3.util.retry import Retry

from integrations.asana.sandbox import AsanaSandbox, iso

TOKEN = "sandbox-test-token"
# Asana's OpenAPI spec (github.com/Asana/openapi, defs/asana_oas.yaml @ fc9f8dcf), kept here
# compressed so the shape checks run on a clean checkout.
OAS_PATH = Path(__file__).resolve().parent / "data" / "asana" / "asana_oas.yaml.gz"
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def sandbox():
    with AsanaSandbox(token=TOKEN, start=START) as box:
        yield box


def make_client(sandbox, token=TOKEN, retries=None):
    """A client configured as the notes recommend: no blocking in-SDK retries by default."""
    cfg = asana.Configuration()
    cfg.host = sandbox.base_url
    cfg.access_token = token
    cfg.retry_strategy = retries if retries is not None else Retry(total=0, raise_on_status=False)
    return asana.ApiClient(cfg)


@pytest.fixture
def client(sandbox):
    return make_client(sandbox)


@pytest.fixture
def world(sandbox):
    ws = sandbox.add_workspace("Agency")
    ann = sandbox.add_user("ann@agency.test", "Ann")
    project = sandbox.add_project("Client A", ws)
    return {"ws": ws, "ann": ann, "project": project}


def error_body(exc):
    return json.loads(exc.body)


def raw_get(sandbox, rel, token=TOKEN):
    """GET without the SDK: (status, headers, parsed JSON body)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(sandbox.base_url + rel, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


# ------------------------------------------------------------------------- auth


def test_wrong_token_gets_asanas_401_body_and_a_revoked_token_stops_working(sandbox, world):
    with pytest.raises(ApiException) as caught:
        asana.UsersApi(make_client(sandbox, token="nope")).get_user("me", {})
    assert caught.value.status == 401
    assert error_body(caught.value) == {"errors": [{"message": "Not Authorized"}]}
    assert raw_get(sandbox, "/users/me", token=None)[0] == 401

    users = asana.UsersApi(make_client(sandbox))
    assert users.get_user("me", {})["gid"] == sandbox.me
    sandbox.revoke_token()
    with pytest.raises(ApiException) as caught:
        users.get_user("me", {})
    assert caught.value.status == 401
    assert [r.status for r in sandbox.request_log] == [401, 401, 200, 401]


# ------------------------------------------------------------------------- pagination


def test_sdk_pages_through_every_page_with_opaque_offsets(sandbox, client, world):
    gids = [sandbox.add_task(world["project"], f"Task {i}") for i in range(7)]
    tasks = asana.TasksApi(client)

    listed = [t["gid"] for t in tasks.get_tasks({"project": world["project"], "limit": 3})]

    assert listed == gids
    calls = sandbox.calls("/tasks")
    assert len(calls) == 3
    assert "offset" not in calls[0].query
    assert all(c.query["offset"] for c in calls[1:])
    first = tasks.get_tasks({"project": world["project"], "limit": 3}, full_payload=True)
    next_page = first["next_page"]
    assert set(next_page) == {"offset", "path", "uri"}
    assert next_page["path"].startswith("/tasks?")
    assert next_page["uri"] == sandbox.base_url + next_page["path"]
    last = tasks.get_tasks(
        {"project": world["project"], "limit": 4, "offset": next_page["offset"]},
        full_payload=True,
    )
    assert [t["gid"] for t in last["data"]] == gids[3:]
    assert last["next_page"] is None


def test_sdk_list_calls_send_limit_100_and_unpaginated_lists_have_no_next_page(
    sandbox, client, world
):
    sandbox.add_task(world["project"], "Only")
    list(asana.TasksApi(client).get_tasks({"project": world["project"]}))
    assert sandbox.calls("/tasks")[0].query["limit"] == "100"
    status, _, body = raw_get(sandbox, f"/tasks?project={world['project']}")
    assert status == 200 and "next_page" not in body and len(body["data"]) == 1


def test_expired_offsets_and_bad_limits_answer_400(sandbox, client, world):
    for i in range(5):
        sandbox.add_task(world["project"], f"Task {i}")
    tasks = asana.TasksApi(client)
    first = tasks.get_tasks({"project": world["project"], "limit": 2}, full_payload=True)
    sandbox.expire_offsets()
    with pytest.raises(ApiException) as caught:
        tasks.get_tasks(
            {"project": world["project"], "limit": 2, "offset": first["next_page"]["offset"]},
            full_payload=True,
        )
    assert caught.value.status == 400
    assert "offset" in error_body(caught.value)["errors"][0]["message"]

    # A lazy SDK iterator that outlives its offset fails the same way mid-listing.
    iterator = tasks.get_tasks({"project": world["project"], "limit": 2})
    assert next(iterator) and next(iterator)
    sandbox.expire_offsets()
    with pytest.raises(ApiException) as caught:
        list(iterator)
    assert caught.value.status == 400

    for limit in (0, 101, "x"):
        status, _, body = raw_get(sandbox, f"/tasks?project={world['project']}&limit={limit}")
        assert status == 400 and body["errors"][0]["message"].startswith("limit:")


# ------------------------------------------------------------------------- opt_fields


def test_lists_are_compact_and_opt_fields_return_gid_plus_the_requested_paths(
    sandbox, client, world
):
    section = sandbox.add_section(world["project"], "Doing")
    task = sandbox.add_task(
        world["project"], "Launch", due_on="2025-01-10", assignee=world["ann"], section=section
    )
    tasks = asana.TasksApi(client)

    (compact,) = tasks.get_tasks({"project": world["project"]})
    assert compact == {
        "gid": task,
        "resource_type": "task",
        "name": "Launch",
        "resource_subtype": "default_task",
    }
    (picked,) = tasks.get_tasks(
        {
            "project": world["project"],
            "opt_fields": "name,due_on,assignee.email,memberships.(project|section).name",
        }
    )
    assert picked == {
        "gid": task,
        "name": "Launch",
        "due_on": "2025-01-10",
        "assignee": {"gid": world["ann"], "email": "ann@agency.test"},
        "memberships": [
            {
                "project": {"gid": world["project"], "name": "Client A"},
                "section": {"gid": section, "name": "Doing"},
            }
        ],
    }
    (linked,) = tasks.get_tasks({"project": world["project"], "opt_fields": "assignee"})
    assert linked["assignee"] == {"gid": world["ann"], "resource_type": "user", "name": "Ann"}
    full = tasks.get_task(task, {})
    assert full["due_on"] == "2025-01-10" and full["modified_at"] == iso(START)
    assert "num_subtasks" not in full  # opt-in only
    assert tasks.get_task(task, {"opt_fields": "num_subtasks"}) == {"gid": task, "num_subtasks": 0}


# ------------------------------------------------------------------------- modified_since


def test_modified_since_is_inclusive_and_moves_and_subtask_edits_do_not_bump(
    sandbox, client, world
):
    other = sandbox.add_project("Client B", world["ws"])
    edited = sandbox.add_task(world["project"], "Edited")
    moved = sandbox.add_task(world["project"], "Moved")
    parent = sandbox.add_task(world["project"], "Parent")
    child = sandbox.add_task(None, "Child", parent=parent)
    commented = sandbox.add_task(world["project"], "Commented")
    sandbox.add_task(world["project"], "Untouched")

    mark = sandbox.advance(3600)
    sandbox.edit_task(edited, name="Edited again")
    sandbox.move_task(moved, section=sandbox.add_section(world["project"], "Later"))
    sandbox.move_task(moved, project=other)
    sandbox.edit_task(child, completed=True)
    sandbox.add_comment(commented, "Client called")
    sandbox.advance(60)

    def changed_since(moment):
        opts = {"project": world["project"], "modified_since": moment, "opt_fields": "name"}
        return {t["gid"] for t in asana.TasksApi(client).get_tasks(opts)}

    assert changed_since(iso(mark)) == {edited, commented}  # >=: exactly `mark` is included
    assert changed_since(iso(mark + timedelta(milliseconds=1))) == set()
    assert len(changed_since(iso(START))) == 5  # every project task, not the subtask
    assert sandbox.get(moved)["modified_at"] == START
    assert sandbox.get(parent)["modified_at"] == START
    assert sandbox.get(child)["modified_at"] == mark
    subtasks = asana.TasksApi(client).get_subtasks_for_task(parent, {"opt_fields": "completed"})
    assert list(subtasks) == [{"gid": child, "completed": True}]
    on_other = asana.TasksApi(client).get_tasks({"project": other})
    assert [t["gid"] for t in on_other] == [moved]


def test_get_tasks_without_project_or_assignee_and_workspace_is_400(sandbox, client, world):
    task = sandbox.add_task(world["project"], "Mine", assignee=world["ann"])
    tasks = asana.TasksApi(client)
    for opts in ({}, {"workspace": world["ws"]}, {"assignee": world["ann"]}):
        with pytest.raises(ApiException) as caught:
            list(tasks.get_tasks(opts))
        assert caught.value.status == 400
    mine = tasks.get_tasks({"assignee": world["ann"], "workspace": world["ws"]})
    assert [t["gid"] for t in mine] == [task]
    with pytest.raises(ApiException) as caught:
        list(tasks.get_tasks({"project": world["project"], "modified_since": "yesterday"}))
    assert caught.value.status == 400


def test_completed_since_now_lists_only_incomplete_tasks(sandbox, client, world):
    open_task = sandbox.add_task(world["project"], "Open")
    done = sandbox.add_task(world["project"], "Done")
    sandbox.edit_task(done, completed=True)
    sandbox.advance(10)
    opts = {"project": world["project"], "completed_since": "now"}
    assert [t["gid"] for t in asana.TasksApi(client).get_tasks(opts)] == [open_task]
    opts = {"project": world["project"], "completed_since": iso(START)}
    assert {t["gid"] for t in asana.TasksApi(client).get_tasks(opts)} == {open_task, done}


# ------------------------------------------------------------------------- stories


def test_due_date_edit_writes_a_due_date_changed_story_and_bumps_modified_at(
    sandbox, client, world
):
    task = sandbox.add_task(world["project"], "Report", due_on="2025-01-10")
    edited_at = sandbox.advance(120)
    sandbox.edit_task(task, due_on="2025-01-17")
    sandbox.add_comment(task, "Moved at the client's request")

    stories = asana.StoriesApi(client)
    compact = list(stories.get_stories_for_task(task, {}))
    assert [s["resource_subtype"] for s in compact] == ["due_date_changed", "comment_added"]
    assert "old_dates" not in compact[0]  # structured fields are opt-in
    opts = {"opt_fields": "resource_subtype,type,created_at,text,old_dates,new_dates"}
    change, comment = stories.get_stories_for_task(task, opts)
    assert change["old_dates"] == {"due_on": "2025-01-10", "due_at": None, "start_on": None}
    assert change["new_dates"] == {"due_on": "2025-01-17", "due_at": None, "start_on": None}
    assert change["type"] == "system" and change["created_at"] == iso(edited_at)
    assert comment["type"] == "comment" and comment["text"] == "Moved at the client's request"
    assert asana.TasksApi(client).get_task(task, {})["modified_at"] == iso(edited_at)


# ------------------------------------------------------------------------- deletion


def test_deleted_task_is_404_and_gone_from_listings(sandbox, client, world):
    keep = sandbox.add_task(world["project"], "Keep")
    gone = sandbox.add_task(world["project"], "Gone")
    child = sandbox.add_task(world["project"], "Its subtask", parent=gone)
    sandbox.delete_task(gone)
    tasks = asana.TasksApi(client)
    with pytest.raises(ApiException) as caught:
        tasks.get_task(gone, {})
    assert caught.value.status == 404
    assert error_body(caught.value)["errors"][0]["message"] == f"task: Unknown object: {gone}"
    with pytest.raises(ApiException):
        tasks.get_task(child, {})
    assert [t["gid"] for t in tasks.get_tasks({"project": world["project"]})] == [keep]
    since = {"project": world["project"], "modified_since": iso(START)}
    assert [t["gid"] for t in tasks.get_tasks(since)] == [keep]


# ------------------------------------------------------------------------- events


def events(client, resource, sync=None):
    opts = {"sync": sync} if sync else {}
    return asana.EventsApi(client).get_events(resource, opts, full_payload=True)


def test_events_start_with_412_then_stream_changes_and_expire_with_a_new_token(
    sandbox, client, world
):
    existing = sandbox.add_task(world["project"], "Before")
    with pytest.raises(ApiException) as caught:
        events(client, world["project"])
    assert caught.value.status == 412
    token = error_body(caught.value)["sync"]
    assert error_body(caught.value)["errors"][0]["message"].startswith("Sync token invalid")

    task = sandbox.add_task(world["project"], "New")
    child = sandbox.add_task(None, "Sub", parent=existing)
    sandbox.edit_task(child, due_on="2025-02-01")
    sandbox.edit_task(existing, assignee=world["ann"])
    page = events(client, world["project"], token)
    assert page["has_more"] is False and page["sync"] != token
    seen = [
        (e["action"], e["resource"]["gid"], (e["parent"] or {}).get("gid")) for e in page["data"]
    ]
    assert ("added", task, world["project"]) in seen
    assert ("added", child, existing) in seen  # subtask events bubble up to the project
    assert ("changed", child, None) in seen
    assign = next(e for e in page["data"] if e["resource"]["gid"] == existing)
    assert assign["change"] == {
        "field": "assignee",
        "action": "changed",
        "new_value": {"gid": world["ann"], "resource_type": "user", "name": "Ann"},
    }
    assert any(e["resource"]["resource_type"] == "story" for e in page["data"])
    assert events(client, world["project"], page["sync"])["data"] == []
    assert events(client, world["project"], token)["data"] == page["data"]  # repeatable

    sandbox.expire_sync_tokens()
    with pytest.raises(ApiException) as caught:
        events(client, world["project"], page["sync"])
    assert caught.value.status == 412
    assert error_body(caught.value)["sync"] != page["sync"]


def test_events_come_at_most_100_per_call_with_has_more(sandbox, client, world):
    with pytest.raises(ApiException) as caught:
        events(client, world["project"])
    token = error_body(caught.value)["sync"]
    for i in range(130):
        sandbox.add_task(world["project"], f"T{i}")
    first = events(client, world["project"], token)
    assert len(first["data"]) == 100 and first["has_more"] is True
    second = events(client, world["project"], first["sync"])
    assert len(second["data"]) == 30 and second["has_more"] is False
    names = [e["resource"]["name"] for e in first["data"] + second["data"]]
    assert names == [f"T{i}" for i in range(130)]


# ------------------------------------------------------------------------- rate limits, 5xx


def test_quota_answers_429_with_retry_after_until_the_window_passes(world):
    with AsanaSandbox(token=TOKEN, requests_per_minute=3, start=START) as box:
        users = asana.UsersApi(make_client(box))
        for _ in range(3):
            users.get_user("me", {})
        with pytest.raises(ApiException) as caught:
            users.get_user("me", {})
        assert caught.value.status == 429
        assert 1 <= int(caught.value.headers["Retry-After"]) <= 60
        assert error_body(caught.value)["errors"][0]["message"].startswith("You've made too many")
        box.add_token("other-token")  # quotas are per token
        asana.UsersApi(make_client(box, token="other-token")).get_user("me", {})
        box.advance(61)
        assert users.get_user("me", {})["gid"] == box.me


def test_fail_next_injects_429_and_5xx(sandbox, client, world):
    users = asana.UsersApi(client)
    sandbox.fail_next(1, 429, retry_after=7)
    with pytest.raises(ApiException) as caught:
        users.get_user("me", {})
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "7"
    sandbox.fail_next(2, 503)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            users.get_user("me", {})
        assert caught.value.status == 503
        assert error_body(caught.value)["errors"][0]["phrase"]
    sandbox.fail_next(1, 500, body={"errors": [{"message": "custom"}]})
    with pytest.raises(ApiException) as caught:
        users.get_user("me", {})
    assert (
        caught.value.status == 500 and error_body(caught.value)["errors"][0]["message"] == "custom"
    )
    assert users.get_user("me", {})["gid"] == sandbox.me
    assert [r.status for r in sandbox.calls("/users/me")] == [429, 503, 503, 500, 200]


def test_the_sdks_default_retry_strategy_retries_429_honouring_retry_after(sandbox, world):
    default = asana.Configuration().retry_strategy  # what a client gets without configuring
    users = asana.UsersApi(make_client(sandbox, retries=default))
    sandbox.fail_next(1, 429, retry_after=1)
    started = time.monotonic()
    assert users.get_user("me", {})["gid"] == sandbox.me
    assert time.monotonic() - started >= 1  # it waited the Retry-After the server gave
    assert [r.status for r in sandbox.calls("/users/me")] == [429, 200]


def test_slow_responses_trip_the_clients_read_timeout(sandbox, client, world):
    sandbox.slow_next(1, seconds=0.6)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.HTTPError):
        asana.UsersApi(client).get_user("me", {}, _request_timeout=(1, 0.2))
    assert time.monotonic() - started < 0.6
    time.sleep(0.5)  # let the slow handler finish
    assert asana.UsersApi(client).get_user("me", {}, _request_timeout=(1, 2))["gid"] == sandbox.me


# ------------------------------------------------------------------------- goals


def test_goals_need_premium(sandbox, client, world):
    goal = sandbox.add_goal("Grow", world["ws"], owner=world["ann"], current=3, target=10)
    goals = asana.GoalsApi(client)
    assert [g["gid"] for g in goals.get_goals({"workspace": world["ws"]})] == [goal]
    assert goals.get_goal(goal, {})["metric"]["target_number_value"] == 10
    sandbox.premium = False
    for call in (
        lambda: list(goals.get_goals({"workspace": world["ws"]})),
        lambda: goals.get_goal(goal, {}),
    ):
        with pytest.raises(ApiException) as caught:
            call()
        assert caught.value.status == 402


# ------------------------------------------------------------------------- webhooks


class Receiver:
    """A tiny webhook target: answers the handshake (or not) and records deliveries."""

    def __init__(self, echo=True):
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((dict(self.headers), body))
                self.send_response(200)
                if echo and self.headers.get("X-Hook-Secret"):
                    self.send_header("X-Hook-Secret", self.headers["X-Hook-Secret"])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/asana"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhook_handshake_then_signed_deliveries(sandbox, client, world):
    receiver = Receiver()
    try:
        hooks = asana.WebhooksApi(client)
        created = hooks.create_webhook(
            {"data": {"resource": world["project"], "target": receiver.url}},
            {},
            full_payload=True,
        )
        ((handshake_headers, handshake_body),) = receiver.received
        secret = handshake_headers["X-Hook-Secret"]
        assert created["X-Hook-Secret"] == secret and handshake_body == b""
        hook = created["data"]
        assert hook["active"] is True and hook["target"] == receiver.url
        assert sandbox.calls("/webhooks", method="POST")[0].status == 201

        task = sandbox.add_task(world["project"], "Hooked")
        sandbox.add_comment(task, "hello")
        assert sandbox.deliver_webhook_events() == [(hook["gid"], 200)]
        headers, body = receiver.received[-1]
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Hook-Signature"], expected)
        delivered = json.loads(body)["events"]
        assert [(e["action"], e["resource"]) for e in delivered][:1] == [
            ("added", {"gid": task, "resource_type": "task"})
        ]
        assert sandbox.deliver_webhook_events() == []  # nothing pending
        assert sandbox.deliver_webhook_events(heartbeat=True) == [(hook["gid"], 200)]
        assert json.loads(receiver.received[-1][1]) == {"events": []}

        hooks.delete_webhook(hook["gid"])
        sandbox.add_task(world["project"], "After delete")
        assert sandbox.deliver_webhook_events() == []
    finally:
        receiver.close()


def test_webhook_creation_fails_when_the_target_does_not_echo_the_secret(sandbox, client, world):
    receiver = Receiver(echo=False)
    try:
        with pytest.raises(ApiException) as caught:
            asana.WebhooksApi(client).create_webhook(
                {"data": {"resource": world["project"], "target": receiver.url}}, {}
            )
        assert caught.value.status == 400
        assert len(receiver.received) == 1 and sandbox.webhooks == {}
    finally:
        receiver.close()
    strict = AsanaSandbox(token=TOKEN, allow_local_webhooks=False).start()
    try:
        project = strict.add_project("P", strict.add_workspace())
        with pytest.raises(ApiException) as caught:
            asana.WebhooksApi(make_client(strict)).create_webhook(
                {"data": {"resource": project, "target": "http://localhost:9/x"}}, {}
            )
        assert caught.value.status == 403
    finally:
        strict.stop()


def test_webhook_filters_decide_which_events_are_delivered(sandbox, client, world):
    receiver = Receiver()
    project = world["project"]
    try:
        filters = [
            {"resource_type": "task", "action": "changed", "fields": ["due_on"]},
            {"resource_type": "story", "action": "added"},
        ]
        asana.WebhooksApi(client).create_webhook(
            {"data": {"resource": project, "target": receiver.url, "filters": filters}}, {}
        )
        task = sandbox.add_task(project, "T", due_on="2025-01-10")  # task added: filtered out
        sandbox.edit_task(task, name="T2")  # the name change is filtered; its story passes
        sandbox.edit_task(task, due_on="2025-01-12")
        sandbox.add_section(project, "Doing")  # a section: filtered out
        sandbox.deliver_webhook_events()
        events = json.loads(receiver.received[-1][1])["events"]
        assert [
            (e["resource"]["resource_type"], e["action"], e.get("change", {}).get("field"))
            for e in events
        ] == [("story", "added", None), ("task", "changed", "due_on"), ("story", "added", None)]
    finally:
        receiver.close()


# ------------------------------------------------------------------------- given gids, goals


def test_given_gids_are_kept_and_listings_stay_in_gid_order(sandbox, client, world):
    sandbox.reserve_gids(["1300000000000050"])
    late = sandbox.add_task(world["project"], "Kept late", gid="1300000000000040")
    new = sandbox.add_task(world["project"], "New")
    early = sandbox.add_task(world["project"], "Kept early", gid="1300000000000010")

    assert int(new) > 1300000000000050
    listed = asana.TasksApi(client).get_tasks({"project": world["project"], "limit": 1})
    assert [t["gid"] for t in listed] == [early, late, new]  # one per page, none skipped
    assert asana.TasksApi(client).get_task(late, {})["name"] == "Kept late"
    for taken in (late, world["ann"], "12ab"):
        with pytest.raises(ValueError):
            sandbox.add_task(world["project"], "Duplicate", gid=taken)


def test_goals_are_listed_by_the_project_that_supports_them(sandbox, client, world):
    other = sandbox.add_project("Other", world["ws"])
    mine = sandbox.add_goal("Grow A", world["ws"], project=world["project"], target=10)
    sandbox.add_goal("Grow B", world["ws"], project=other)
    sandbox.add_goal("Company-wide", world["ws"])
    goals = asana.GoalsApi(client)

    assert [g["gid"] for g in goals.get_goals({"project": world["project"]})] == [mine]
    assert len(list(goals.get_goals({"workspace": world["ws"]}))) == 3
    with pytest.raises(ApiException) as caught:
        list(goals.get_goals({"project": "1999999999999999"}))
    assert caught.value.status == 404


# ------------------------------------------------------------------------- OpenAPI shapes


@pytest.fixture(scope="module")
def oas():
    try:
        import yaml
    except ImportError:  # fail, not skip: a skipped shape check would hide drift
        pytest.fail("PyYAML is needed to read Asana's OpenAPI spec: add it to the dev extras")
    if not OAS_PATH.exists():
        pytest.fail(f"Asana's OpenAPI spec is missing at {OAS_PATH}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with gzip.open(OAS_PATH, "rt", encoding="utf-8") as handle:
        return Shapes(yaml.load(handle, Loader=loader))  # noqa: S506 - a safe loader


class Shapes:
    """A strict structural validator for OAS 3.0 schemas.

    Objects may carry only properties the schema defines (what the sandbox sends must exist in
    Asana's API); ``allOf`` parts are merged, so the spec's ``allOf: [$ref, {nullable: true}]``
    pattern makes a link nullable; scalars are checked for type, enum and date formats.
    """

    def __init__(self, spec):
        self.spec = spec
        self.schemas = spec["components"]["schemas"]

    def resolve(self, schema):
        while "$ref" in schema:
            kind, name = schema["$ref"].split("/")[-2:]
            schema = self.spec["components"][kind][name]
        return schema

    def merged(self, schema):
        schema = self.resolve(schema)
        out = {"properties": {}, "nullable": bool(schema.get("nullable")), "types": set()}
        out["any"] = [self.resolve(s) for s in schema.get("anyOf", []) + schema.get("oneOf", [])]
        for key in ("items", "enum", "format", "additionalProperties"):
            if key in schema:
                out[key] = schema[key]
        if "type" in schema:
            out["types"].add(schema["type"])
        out["properties"].update(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            sub = self.merged(part)
            out["properties"].update(sub["properties"])
            out["nullable"] |= sub["nullable"]
            out["types"] |= sub["types"]
            out["any"] += sub["any"]
            for key in ("items", "enum", "format"):
                if key in sub:
                    out[key] = sub[key]
        return out

    def errors(self, value, schema, where="$", also_nullable=frozenset()):
        """Problems with ``value``; ``also_nullable`` names properties null in practice."""
        s = self.merged(schema)
        if value is None and where.rsplit(".", 1)[-1] in also_nullable:
            return []
        if s["any"]:
            results = [self.errors(value, option, where, also_nullable) for option in s["any"]]
            if not any(not r for r in results):
                return [f"{where}: matches none of anyOf/oneOf: {results[0]}"]
        if value is None:
            return [] if s["nullable"] else [f"{where}: null is not allowed"]
        problems = []
        types = s["types"] or ({"object"} if s["properties"] else set())
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        }
        if types and not any(checks[t](value) for t in types):
            return [f"{where}: {value!r} is not {sorted(types)}"]
        if "enum" in s and value not in s["enum"]:
            problems.append(f"{where}: {value!r} not in {s['enum']}")
        if (
            s.get("format") == "date-time"
            and isinstance(value, str)
            and (not value.endswith("Z") or len(value) != 24)
        ):
            problems.append(f"{where}: {value!r} is not Asana's date-time")
        if s.get("format") == "date" and isinstance(value, str) and len(value) != 10:
            problems.append(f"{where}: {value!r} is not a date")
        if isinstance(value, dict) and s["properties"]:
            for key, item in value.items():
                if key not in s["properties"]:
                    problems.append(f"{where}.{key}: not in the schema")
                else:
                    problems += self.errors(
                        item, s["properties"][key], f"{where}.{key}", also_nullable
                    )
        if isinstance(value, list) and "items" in s:
            for i, item in enumerate(value):
                problems += self.errors(item, s["items"], f"{where}[{i}]", also_nullable)
        return problems

    def response(self, path, status, method="get"):
        responses = self.spec["paths"][path][method]["responses"]
        answer = self.resolve(responses.get(status, responses.get(str(status))))
        return answer["content"]["application/json"]["schema"]

    def envelope(self, item_schema, listed):
        data = {"type": "array", "items": item_schema} if listed else item_schema
        return {
            "type": "object",
            "properties": {
                "data": data,
                "next_page": {
                    "allOf": [{"$ref": "#/components/schemas/NextPage"}],
                    "nullable": True,
                },
            },
        }


def test_the_validator_rejects_what_asana_does_not_define(oas):
    ref = {"$ref": "#/components/schemas/TaskCompact"}
    assert oas.errors({"gid": "1", "resource_type": "task", "name": "x"}, ref) == []
    assert oas.errors({"gid": "1", "colour": "red"}, ref) == ["$.colour: not in the schema"]
    assert oas.errors({"gid": 1}, ref) == ["$.gid: 1 is not ['string']"]
    task = {"$ref": "#/components/schemas/TaskResponse"}
    assert oas.errors({"assignee": None, "parent": None}, task) == []
    assert oas.errors({"completed": None}, task) == ["$.completed: null is not allowed"]
    assert oas.errors({"modified_at": "2025-01-06 09:00"}, task)
    assert oas.errors({"errors": [{"message": "m", "oops": 1}]}, oas.response("/tasks", 400))


def test_responses_match_asanas_openapi_schemas(oas, sandbox, client, world):
    section = sandbox.add_section(world["project"], "Doing")
    task = sandbox.add_task(
        world["project"], "T", due_on="2025-01-10", assignee=world["ann"], section=section
    )
    sub = sandbox.add_task(None, "Sub", parent=task)
    sandbox.advance(5)
    sandbox.edit_task(task, due_on="2025-01-12", completed=True, name="T2")
    sandbox.edit_task(sub, assignee=world["ann"])
    sandbox.add_comment(task, "note")
    goal = sandbox.add_goal("G", world["ws"], owner=world["ann"], status="green", target=5)
    status, _, e412 = raw_get(sandbox, f"/events?resource={world['project']}")
    assert status == 412
    sandbox.add_task(world["project"], "After token")
    other = sandbox.add_project("Other", world["ws"])
    sandbox.move_task(
        sandbox.add_task(world["project"], "Mover"), project=other, remove_from=world["project"]
    )

    schema = oas.schemas
    task_full = "/opt_fields=" + ",".join(
        k for k in oas.merged({"$ref": "#/components/schemas/TaskResponse"})["properties"]
    )
    p, ws = world["project"], world["ws"]
    # (request, OAS path for the envelope, item schema, is a list)
    cases = [
        ("/users/me", "/users/{user_gid}", "UserResponse", False),
        (f"/users?workspace={ws}&limit=1", "/users", "UserCompact", True),
        ("/workspaces", "/workspaces", "WorkspaceCompact", True),
        (
            f"/workspaces/{ws}/projects",
            "/workspaces/{workspace_gid}/projects",
            "ProjectCompact",
            True,
        ),
        (f"/projects?workspace={ws}&limit=1", "/projects", "ProjectCompact", True),
        (f"/projects/{p}", "/projects/{project_gid}", "ProjectResponse", False),
        (f"/projects/{p}/sections", "/projects/{project_gid}/sections", "SectionCompact", True),
        (f"/tasks?project={p}&limit=1", "/tasks", "TaskCompact", True),
        (f"/tasks/{task}", "/tasks/{task_gid}", "TaskResponse", False),
        (f"/tasks/{sub}", "/tasks/{task_gid}", "TaskResponse", False),
        (f"/tasks/{task}/subtasks", "/tasks/{task_gid}/subtasks", "TaskCompact", True),
        (f"/tasks/{task}/stories", "/tasks/{task_gid}/stories", "StoryCompact", True),
        (f"/goals?workspace={ws}", "/goals", "GoalCompact", True),
        (f"/goals/{goal}", "/goals/{goal_gid}", "GoalResponse", False),
    ]
    checked = 0
    for rel, path, item, listed in cases:
        status, _, body = raw_get(sandbox, rel)
        assert status == 200, rel
        assert oas.errors(body, oas.response(path, 200)) == [], rel
        ref = {"$ref": f"#/components/schemas/{item}"}
        assert oas.errors(body, oas.envelope(ref, listed)) == [], rel
        checked += 1
    # opt_fields lists carry full-record fields: they must exist in the *Response schemas.
    full_lists = [
        (f"/tasks?project={p}&{task_full[1:]}", "TaskResponse"),
        (
            f"/tasks/{task}/stories?opt_fields="
            + ",".join(oas.merged({"$ref": "#/components/schemas/StoryResponse"})["properties"]),
            "StoryResponse",
        ),
        (
            f"/projects?workspace={ws}&opt_fields=name,owner,workspace.name,modified_at,archived",
            "ProjectResponse",
        ),
        (f"/users?workspace={ws}&opt_fields=email,name,workspaces.name", "UserResponse"),
        (f"/projects/{p}/sections?opt_fields=name,created_at,project", "SectionResponse"),
        (f"/goals?workspace={ws}&opt_fields=name,metric,status,due_on,owner.name", "GoalResponse"),
    ]
    for rel, item in full_lists:
        status, _, body = raw_get(sandbox, rel)
        assert status == 200 and body["data"], rel
        ref = {"$ref": f"#/components/schemas/{item}"}
        assert oas.errors(body, oas.envelope(ref, True)) == [], rel
        checked += 1
    full_task = raw_get(sandbox, f"/tasks/{task}?{task_full[1:]}")[2]["data"]
    assert {"num_subtasks", "memberships", "modified_at"} <= set(full_task)
    dated = raw_get(sandbox, f"/tasks/{task}/stories?opt_fields=old_dates,new_dates")[2]["data"]
    assert any(s.get("new_dates") for s in dated)

    # Events (200 and 412) and errors.
    status, _, page = raw_get(sandbox, f"/events?resource={p}&sync={e412['sync']}")
    assert status == 200 and page["data"]
    # The OAS omits `nullable` on an event's parent and user; its text says both can be null.
    assert oas.errors(page, oas.response("/events", 200), also_nullable={"parent"}) == []
    assert {"added", "removed"} <= {e["action"] for e in page["data"]}
    assert oas.errors(e412, oas.response("/events", 412)) == []
    errors = [
        (raw_get(sandbox, "/users/me", token="bad"), 401),
        (raw_get(sandbox, "/tasks"), 400),
        (raw_get(sandbox, "/tasks/999"), 404),
        (raw_get(sandbox, f"/tasks?project={p}&limit=500"), 400),
    ]
    sandbox.fail_next(1, 500)
    errors.append((raw_get(sandbox, "/users/me"), 500))
    sandbox.fail_next(1, 429, retry_after=3)
    errors.append((raw_get(sandbox, "/users/me"), 429))
    sandbox.premium = False
    errors.append((raw_get(sandbox, f"/goals?workspace={ws}"), 402))
    error_schema = {"$ref": "#/components/schemas/ErrorResponse"}
    for (status, _, body), expected in errors:
        assert status == expected
        assert body["errors"][0]["message"]
        assert oas.errors(body, error_schema) == [], body
        checked += 1
    assert "help" in oas.merged(schema["Error"])["properties"]
    assert checked == len(cases) + len(full_lists) + len(errors)


def test_webhook_and_event_payloads_match_the_openapi_schemas(oas, sandbox, client, world):
    receiver = Receiver()
    try:
        created = asana.WebhooksApi(client).create_webhook(
            {"data": {"resource": world["project"], "target": receiver.url}},
            {},
            full_payload=True,
        )
        # Asana's webhook guide shows these null on a new hook; the OAS omits `nullable`.
        never_yet = {"last_failure_at", "next_attempt_after", "failure_deletion_timestamp"}
        schema = oas.response("/webhooks", 201, method="post")
        assert oas.errors(created, schema, also_nullable=never_yet) == []
        assert oas.errors(created, schema) != []  # the override is what lets them through
        task = sandbox.add_task(world["project"], "W")
        sandbox.edit_task(task, assignee=world["ann"])
        sandbox.deliver_webhook_events()
        delivered = json.loads(receiver.received[-1][1])["events"]
        assert len(delivered) >= 3
        event = {"$ref": "#/components/schemas/EventResponse"}
        for item in delivered:
            assert oas.errors(item, event, also_nullable={"parent"}) == []
            assert set(item["resource"]) == {"gid", "resource_type"}
    finally:
        receiver.close()
