"""What a CRM call can end in, the same for every adapter. Messages never carry a token."""

from __future__ import annotations


class CrmError(Exception):
    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class RateLimited(CrmError):
    """429: retry after `retry_after` seconds, or with backoff when the CRM gave none."""

    def __init__(self, message: str, retry_after: float | None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class DailyLimit(RateLimited):
    """HubSpot's daily quota is spent: nothing until it resets (midnight, account time)."""


class ConnectionBroken(CrmError):
    """401/403 (a revoked token, a missing scope, amoCRM's IP block): stop, do not retry."""


class Transient(CrmError):
    """5xx, timeouts, dropped connections: retry with backoff."""


class NotFound(CrmError):
    """404: the record does not exist (deleted, or merged away)."""
