"""The configured SDK client and the AsanaApi wrapper, driven against the Asana sandbox.

The budget is the real Redis one (REDIS_URL, started by the test runner).
"""

import threading
import time
import uuid

import asana
import pytest
import redis
from django.conf import settings

from integrations.asana.client import (
    AsanaApi,
    AsanaError,
    ConnectionBroken,
    NotFound,
    PaymentRequired,
    RateLimited,
    Transient,
    asana_client,
)
from integrations.asana.sandbox import AsanaSandbox
from integrations.ratelimit import BudgetExhausted, RequestBudget

TOKEN = "1/120934:sandbox-secret-token-for-client-tests"


@pytest.fixture
def sandbox():
    with AsanaSandbox(token=TOKEN) as box:
        yield box


@pytest.fixture
def project(sandbox):
    ws = sandbox.add_workspace("Agency")
    gid = sandbox.add_project("Client A", ws)
    for i in range(5):
        sandbox.add_task(gid, f"Task {i}", due_on="2025-02-01")
    return gid


@pytest.fixture
def r():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


class CountingBudget(RequestBudget):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acquired = 0
        self.paused: list[float] = []
        self._count_lock = threading.Lock()

    def acquire(self, timeout=30.0):
        super().acquire(timeout)
        with self._count_lock:
            self.acquired += 1

    def pause_until(self, seconds):
        self.paused.append(seconds)
        super().pause_until(seconds)


@pytest.fixture
def budget(r):
    return CountingBudget.for_token(r, TOKEN, 1000, namespace=f"test-{uuid.uuid4().hex[:8]}")


def make_api(sandbox, budget=None, token=TOKEN, timeout=(2, 5)):
    return AsanaApi(asana_client(token=token, base_url=sandbox.base_url, timeout=timeout), budget)


def tasks_of(api):
    return asana.TasksApi(api.client)


def test_listing_fetches_every_page_and_acquires_the_budget_once_per_page(sandbox, project, budget):
    api = make_api(sandbox, budget)
    tasks = api.call(tasks_of(api).get_tasks, project=project, limit=2, opt_fields=["name"])
    assert isinstance(tasks, list)
    assert [t["name"] for t in tasks] == [f"Task {i}" for i in range(5)]
    pages = sandbox.calls("/tasks")
    assert len(pages) == 3
    assert budget.acquired == 3
    assert pages[0].query["opt_fields"] == "name"  # a comma string, not a list's repr
    assert "offset" not in pages[0].query and "offset" in pages[1].query


def test_each_call_gets_fresh_opts_and_opt_fields_as_a_comma_string(sandbox, project):
    api = make_api(sandbox)
    opts = {"project": project, "limit": 2, "opt_fields": ("name", "due_on")}
    first = api.call(tasks_of(api).get_tasks, **opts)
    second = api.call(tasks_of(api).get_tasks, **opts)
    assert first == second and len(first) == 5
    assert first[0]["due_on"] == "2025-02-01"
    assert opts == {"project": project, "limit": 2, "opt_fields": ("name", "due_on")}
    starts = [c for c in sandbox.calls("/tasks") if "offset" not in c.query]
    assert len(starts) == 2  # the second listing started over, not from a stale offset
    assert {c.query["opt_fields"] for c in sandbox.calls("/tasks")} == {"name,due_on"}


def test_single_resource_returns_the_unwrapped_record(sandbox, project, budget):
    api = make_api(sandbox, budget)
    gid = sandbox.gids("task")[0]
    task = api.call(tasks_of(api).get_task, gid, opt_fields="name,due_on")
    assert task["gid"] == gid and task["due_on"] == "2025-02-01"
    assert budget.acquired == 1


def test_the_budget_gates_requests_before_they_are_sent(sandbox, project, r):
    budget = RequestBudget.for_token(r, TOKEN, 2, namespace=f"test-{uuid.uuid4().hex[:8]}")
    api = AsanaApi(asana_client(token=TOKEN, base_url=sandbox.base_url), budget, acquire_timeout=0)
    with pytest.raises(BudgetExhausted):
        api.call(tasks_of(api).get_tasks, project=project, limit=2)
    assert len(sandbox.calls("/tasks")) == 2  # the third page was never requested


def test_429_raises_rate_limited_pauses_the_budget_and_is_not_retried(sandbox, project, budget):
    api = make_api(sandbox, budget)
    sandbox.fail_next(2, status=429, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        api.call(tasks_of(api).get_tasks, project=project, limit=2)
    assert caught.value.retry_after == 7 and caught.value.status == 429
    assert len(sandbox.request_log) == 1
    assert budget.paused == [7]
    assert 6 < budget.paused_for() <= 7
    with pytest.raises(BudgetExhausted):  # every holder of the budget now waits
        budget.acquire(timeout=0.1)


def test_429_on_a_later_page_is_not_retried_either(sandbox, project, budget):
    api = make_api(sandbox, budget)
    sandbox.slow_next(1, seconds=0)  # a no-op fault, so the 429 lands on page 2
    sandbox.fail_next(1, status=429, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        api.call(tasks_of(api).get_tasks, project=project, limit=2)
    assert caught.value.retry_after == 3
    assert len(sandbox.calls("/tasks")) == 2
    assert budget.paused == [3]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient_and_not_retried_by_the_sdk(sandbox, project, status):
    api = make_api(sandbox)
    # 503 with Retry-After is what urllib3 retries even when 503 is not in status_forcelist.
    sandbox.fail_next(3, status=status, retry_after=1 if status == 503 else None)
    with pytest.raises(Transient) as caught:
        api.call(tasks_of(api).get_task, sandbox.gids("task")[0])
    assert caught.value.status == status
    assert len(sandbox.request_log) == 1


def test_revoked_token_breaks_the_connection_without_leaking_the_token(sandbox, project, budget):
    api = make_api(sandbox, budget)
    sandbox.revoke_token()
    with pytest.raises(ConnectionBroken) as caught:
        api.call(asana.UsersApi(api.client).get_user, "me")
    exc = caught.value
    assert exc.status == 401
    assert "Not Authorized" in str(exc)
    secret = TOKEN.split(":")[1]
    for text in (str(exc), repr(exc), exc.message, str(exc.body)):
        assert TOKEN not in text and secret not in text
    assert len(sandbox.request_log) == 1


def test_403_breaks_the_connection(sandbox, project):
    api = make_api(sandbox)
    sandbox.fail_next(1, status=403)
    with pytest.raises(ConnectionBroken) as caught:
        api.call(tasks_of(api).get_tasks, project=project)
    assert caught.value.status == 403


def test_404_and_402_and_400(sandbox, project):
    api = make_api(sandbox)
    with pytest.raises(NotFound):
        api.call(tasks_of(api).get_task, "999999")
    sandbox.fail_next(1, status=402)
    with pytest.raises(PaymentRequired):
        api.call(asana.GoalsApi(api.client).get_goals, workspace=sandbox.gids("workspace")[0])
    with pytest.raises(AsanaError) as caught:
        api.call(tasks_of(api).get_tasks, project=project, limit=500)
    assert type(caught.value) is AsanaError and caught.value.status == 400
    assert "limit" in str(caught.value)


def test_slow_response_times_out_as_transient_without_retry(sandbox, project):
    api = make_api(sandbox, timeout=(1, 0.3))
    sandbox.slow_next(1, seconds=1.0)
    started = time.monotonic()
    with pytest.raises(Transient):
        api.call(tasks_of(api).get_task, sandbox.gids("task")[0])
    assert time.monotonic() - started < 0.9
    time.sleep(0.9)  # let the sandbox finish (and log) the slow request
    assert len(sandbox.request_log) == 1


def test_the_timeout_applies_to_every_page_of_a_listing(sandbox, project):
    api = make_api(sandbox, timeout=(1, 0.3))
    sandbox.slow_next(1, seconds=0)
    sandbox.slow_next(1, seconds=1.0)
    with pytest.raises(Transient):
        api.call(tasks_of(api).get_tasks, project=project, limit=2)
    time.sleep(0.9)
    assert len(sandbox.calls("/tasks")) == 2


def test_connection_refused_is_transient():
    with AsanaSandbox(token=TOKEN) as box:
        url = box.base_url
    api = AsanaApi(asana_client(token=TOKEN, base_url=url, timeout=1))
    with pytest.raises(Transient) as caught:
        api.call(asana.UsersApi(api.client).get_user, "me")
    assert TOKEN not in repr(caught.value)


def test_client_is_configured_without_sdk_retries(sandbox):
    client = asana_client(token=TOKEN, base_url=sandbox.base_url + "/")
    assert client.configuration.host == sandbox.base_url
    retry = client.configuration.retry_strategy
    assert retry.total == 0 and retry.respect_retry_after_header is False
    assert client.default_timeout == (5, 60)
    with pytest.raises(TypeError):
        AsanaApi(asana.ApiClient(asana.Configuration()))
