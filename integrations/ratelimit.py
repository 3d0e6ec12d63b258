"""A request budget shared by every worker through Redis.

Asana limits requests per access token (150/min on free domains, 1,500/min on paid), and a
request it rejects with 429 still counts against the quota. So every Celery worker that uses
one token must draw from one budget, and when the server says "wait", all of them wait.

Algorithm: a **sliding-window log**, run atomically by one Lua script per attempt. Each granted
request adds a member, scored with the Redis server's clock in milliseconds, to a sorted set.
An attempt first drops members older than the window, then grants if fewer than ``per_minute``
remain. This guarantees at most ``per_minute`` grants in *any* 60 s window, which is how Asana
counts ("per minute, evaluated more frequently"). A token bucket of the same size would allow
a full bucket plus a minute of refill, almost twice the quota, within one minute. The log
costs one sorted-set member per request in the window (at most ``per_minute``).

The clock is Redis's (``TIME`` inside the script), so workers on hosts with skewed clocks agree.
A refused attempt returns how long until the oldest member leaves the window (or the pause
ends), and ``acquire`` sleeps that long (plus a little jitter, so waiting workers do not all
wake at once); it never spins.

``pause_until(seconds)`` records, in a second key, the moment before which nobody may make a
request: after a 429 with ``Retry-After``, every worker waits it out.

Keys: ``ratelimit:{<key>}:window`` and ``ratelimit:{<key>}:pause``. Both carry a TTL (the
window, and the pause length), so an idle budget leaves nothing behind. ``key`` must not be a
secret: use :func:`budget_key` (or :meth:`RequestBudget.for_token`) to derive it from a token's
SHA-256, so neither Redis nor the logs ever see the token.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import uuid

logger = logging.getLogger(__name__)

# KEYS[1] window zset, KEYS[2] pause key; ARGV[1] limit, ARGV[2] window ms, ARGV[3] member.
# Returns {granted (0/1), milliseconds to wait before trying again}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then
  return {0, paused - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return {0, wait}
"""

# KEYS[1] pause key; ARGV[1] pause length in ms. Extends, never shortens, a pause.
# Returns the pause's remaining milliseconds.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > untilms then
  return current - now
end
redis.call('SET', KEYS[1], untilms, 'PX', tonumber(ARGV[1]))
return untilms - now
"""

# Sleep at least this long between attempts, and add up to JITTER on top.
MIN_SLEEP = 0.01
JITTER = 0.05


class BudgetExhausted(Exception):
    """No request could be granted within the timeout; ``retry_after`` is the server's guess
    (seconds) of when one could be."""

    def __init__(self, key: str, retry_after: float):
        super().__init__(f"request budget {key!r} exhausted; retry in {retry_after:.1f}s")
        self.key = key
        self.retry_after = retry_after


def budget_key(namespace: str, secret: str) -> str:
    """A Redis-safe, log-safe key for a secret (e.g. an access token): a short SHA-256 digest."""
    digest = hashlib.sha256(secret.encode()).hexdigest()[:16]
    return f"{namespace}:{digest}"


class RequestBudget:
    """At most ``per_minute`` requests in any sliding window, shared through ``redis``.

    ``window`` is 60 s in production; tests shorten it.
    """

    def __init__(self, redis, key: str, per_minute: int, *, window: float = 60.0):
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.redis = redis
        self.key = key
        self.per_minute = per_minute
        self.window_ms = max(1, int(window * 1000))
        self.window_key = f"ratelimit:{{{key}}}:window"
        self.pause_key = f"ratelimit:{{{key}}}:pause"
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)

    @classmethod
    def for_token(
        cls, redis, token: str, per_minute: int, *, namespace: str = "asana", window: float = 60.0
    ) -> RequestBudget:
        """The budget of an access token, keyed by its digest (never the token itself)."""
        return cls(redis, budget_key(namespace, token), per_minute, window=window)

    def __repr__(self) -> str:
        return f"RequestBudget(key={self.key!r}, per_minute={self.per_minute})"

    def try_acquire(self) -> float:
        """One atomic attempt: 0.0 if granted, else the seconds to wait before trying again."""
        granted, wait_ms = self._acquire(
            keys=[self.window_key, self.pause_key],
            args=[self.per_minute, self.window_ms, uuid.uuid4().hex],
        )
        return 0.0 if int(granted) else int(wait_ms) / 1000

    def acquire(self, timeout: float = 30.0) -> None:
        """Block (sleeping) until a request may be made; raise :class:`BudgetExhausted` when
        none can be granted within ``timeout`` seconds.

        Raises early, without sleeping in vain, when the wait Redis reports already exceeds
        what is left of the timeout: a Celery task should then retry later, not hold a worker.
        """
        deadline = time.monotonic() + timeout
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return
            left = deadline - time.monotonic()
            if wait > left:
                logger.info("request budget %s exhausted; next slot in %.1fs", self.key, wait)
                raise BudgetExhausted(self.key, wait)
            time.sleep(max(MIN_SLEEP, wait) + random.uniform(0, JITTER))  # noqa: S311

    def pause_until(self, seconds: float) -> None:
        """Nobody may make a request for ``seconds`` (e.g. the server's ``Retry-After``).

        An existing longer pause is kept. The pause key expires when the pause ends.
        """
        ms = int(seconds * 1000)
        if ms <= 0:
            return
        self._pause(keys=[self.pause_key], args=[ms])
        logger.info("request budget %s paused for %.1fs", self.key, seconds)

    def paused_for(self) -> float:
        """Seconds left of the current pause (0.0 when none); uses Redis's clock."""
        ms = self.redis.pttl(self.pause_key)
        return max(0, ms) / 1000
