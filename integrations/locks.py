"""One run at a time: PostgreSQL session-level advisory locks, shared by the syncs."""

import contextlib
import hashlib
from collections.abc import Iterator

from django.db import connection


@contextlib.contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """Hold the lock called `name`, or yield False when another session holds it.

    Session-level on this thread's database connection: PostgreSQL drops it when the holder's
    connection ends, so a worker killed mid-run (SIGKILL, os._exit, a lost host) does not
    block the rerun, as a Redis lock with a TTL would for the whole TTL."""
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
