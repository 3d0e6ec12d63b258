"""The shared request budget, against the real Redis the test runner starts (REDIS_URL).

Windows are shortened to about a second so the sliding window can be watched refilling.
"""

import logging
import multiprocessing
import threading
import time
import uuid

import pytest
import redis
from django.conf import settings

from integrations import ratelimit
from integrations.ratelimit import BudgetExhausted, RequestBudget, budget_key

TOKEN = "1/1203456789:secret-personal-access-token"


@pytest.fixture
def r():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def key():
    return f"test:{uuid.uuid4().hex[:12]}"


def our_keys(r, key):
    return sorted(k.decode() for k in r.scan_iter(match=f"ratelimit:{{{key}}}:*"))


def max_in_any_window(stamps, width):
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while t - stamps[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_grants_per_minute_then_refuses_until_the_window_slides(r, key):
    budget = RequestBudget(r, key, 3, window=0.5)
    assert [budget.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = budget.try_acquire()
    assert 0 < wait <= 0.5
    with pytest.raises(BudgetExhausted) as caught:
        budget.acquire(timeout=0)
    assert 0 < caught.value.retry_after <= 0.5
    started = time.monotonic()
    budget.acquire(timeout=2)  # waits for the oldest grant to leave the window
    assert 0.2 < time.monotonic() - started < 1.0


def _hammer(url, key, per_minute, window, n, out):
    client = redis.Redis.from_url(url)
    budget = RequestBudget(client, key, per_minute, window=window)
    for _ in range(n):
        budget.acquire(timeout=10)
        out.append(time.time())
    client.close()


def test_two_threads_share_one_budget(r, key):
    per, window, n = 5, 1.0, 8
    stamps: list[float] = []
    threads = [
        threading.Thread(target=_hammer, args=(settings.REDIS_URL, key, per, window, n, stamps))
        for _ in range(2)
    ]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert len(stamps) == 2 * n
    # 16 grants at 5 per second: the last ones cannot come before 3 windows have passed.
    assert max(stamps) - started >= 2.9
    # Allow a little for the time between the grant in Redis and the stamp here.
    assert max_in_any_window(stamps, window - 0.1) <= per


def _process_worker(url, key, per, window, n, queue):
    out: list[float] = []
    _hammer(url, key, per, window, n, out)
    queue.put(out)


def test_two_processes_share_one_budget(r, key):
    per, window, n = 4, 1.0, 6
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(settings.REDIS_URL, key, per, window, n, queue))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    stamps = queue.get(timeout=20) + queue.get(timeout=20)
    for p in procs:
        p.join(5)
        assert p.exitcode == 0
    assert len(stamps) == 2 * n
    assert max_in_any_window(stamps, window - 0.1) <= per
    assert max(stamps) - min(stamps) >= 1.9  # 12 grants at 4 per second: 3 windows


def test_acquire_sleeps_instead_of_spinning(r, key, monkeypatch):
    budget = RequestBudget(r, key, 1, window=1.0)
    budget.acquire(timeout=0)
    attempts = []
    real = budget.try_acquire
    monkeypatch.setattr(budget, "try_acquire", lambda: attempts.append(1) or real())
    started = time.monotonic()
    budget.acquire(timeout=3)
    assert 0.8 < time.monotonic() - started < 2.0
    assert len(attempts) <= 3  # one refusal (which says how long), then the grant


def test_pause_makes_every_holder_of_the_budget_wait(r, key):
    mine = RequestBudget(r, key, 100, window=1.0)
    theirs = RequestBudget(redis.Redis.from_url(settings.REDIS_URL), key, 100, window=1.0)
    mine.pause_until(1)
    assert 0.5 < theirs.paused_for() <= 1.0
    with pytest.raises(BudgetExhausted) as caught:
        theirs.acquire(timeout=0.2)
    assert 0.5 < caught.value.retry_after <= 1.0
    started = time.monotonic()
    theirs.acquire(timeout=3)
    assert 0.7 < time.monotonic() - started < 1.6
    assert theirs.paused_for() == 0.0


def test_a_shorter_pause_does_not_cut_a_longer_one(r, key):
    budget = RequestBudget(r, key, 10, window=1.0)
    budget.pause_until(5)
    budget.pause_until(1)
    assert budget.paused_for() > 4
    budget.pause_until(0)  # nothing to do
    assert budget.paused_for() > 4


def test_keys_expire(r, key):
    budget = RequestBudget(r, key, 10, window=0.5)
    budget.acquire(timeout=0)
    budget.pause_until(0.3)
    keys = our_keys(r, key)
    assert keys == [f"ratelimit:{{{key}}}:pause", f"ratelimit:{{{key}}}:window"]
    for k in keys:
        assert 0 < r.pttl(k) <= 500
    time.sleep(0.7)
    assert our_keys(r, key) == []


def test_key_names_and_logs_hold_no_token(r, caplog):
    caplog.set_level(logging.DEBUG, logger=ratelimit.__name__)
    budget = RequestBudget.for_token(r, TOKEN, 1, namespace="asana-test", window=0.5)
    assert budget.key == budget_key("asana-test", TOKEN)
    assert budget.key != budget_key("asana-test", TOKEN + "x")
    budget.acquire(timeout=0)
    budget.pause_until(0.2)
    with pytest.raises(BudgetExhausted) as caught:
        budget.acquire(timeout=0)
    names = our_keys(r, budget.key)
    assert len(names) == 2
    secret = TOKEN.split(":")[1]
    for text in [*names, repr(budget), str(caught.value), caplog.text]:
        assert TOKEN not in text and secret not in text
    assert caplog.text  # something was logged, and it was checked


def test_rejects_a_zero_budget(r, key):
    with pytest.raises(ValueError):
        RequestBudget(r, key, 0)
