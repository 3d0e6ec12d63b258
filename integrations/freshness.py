"""How fresh each source's data is: recorded after every import or sync, read by every page
(through the `data_sources` template tag) from the cache, so it costs pages no query."""

import datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from .models import SyncRun, SyncSource, SyncStatus

CACHE_KEY = "integrations:data-sources"
CACHE_SECONDS = 60
# A source whose last success is older than this is flagged as stale. The bundle is imported
# by hand when the agency decides, so it is never "late"; the Asana sync runs every 10
# minutes by default, so an hour without a success means it is stuck or failing.
STALE_AFTER: dict[str, datetime.timedelta] = {"asana": datetime.timedelta(hours=1)}


def record_sync_run(
    *,
    source: str,
    started_at: datetime.datetime,
    succeeded: bool,
    stats: dict | None = None,
    error: str = "",
    scope: str = "",
    api_calls: int = 0,
) -> SyncRun:
    """Record a finished import or sync (inside the caller's transaction when there is one,
    so a rolled-back import leaves no success behind)."""
    run = SyncRun.objects.create(
        source=source,
        started_at=started_at,
        finished_at=timezone.now(),
        status=SyncStatus.SUCCEEDED if succeeded else SyncStatus.FAILED,
        stats=stats or {},
        error=error,
        scope=scope,
        api_calls=api_calls,
    )
    transaction.on_commit(lambda: cache.delete(CACHE_KEY), robust=True)
    return run


def data_sources(now: datetime.datetime | None = None) -> list[dict]:
    """Per source that has ever run: its last success, a failure since then if any, and
    whether its data is stale. Cached for CACHE_SECONDS (cleared by every new run)."""
    sources = cache.get(CACHE_KEY)
    if sources is None:
        sources = _read()
        cache.set(CACHE_KEY, sources, CACHE_SECONDS)
    now = now or timezone.now()
    for source in sources:
        limit = STALE_AFTER.get(source["source"])
        last = source["last_success"]
        source["stale"] = limit is not None and (last is None or now - last > limit)
    return sources


def _read() -> list[dict]:
    rows = SyncRun.objects.values("source").annotate(
        last_success=Max("finished_at", filter=Q(status=SyncStatus.SUCCEEDED)),
        last_failure=Max("finished_at", filter=Q(status=SyncStatus.FAILED)),
    )
    labels = dict(SyncSource.choices)
    sources = []
    for row in sorted(rows, key=lambda r: list(labels).index(r["source"])):
        failed_since = row["last_failure"] is not None and (
            row["last_success"] is None or row["last_failure"] > row["last_success"]
        )
        sources.append(
            {
                "source": row["source"],
                "label": labels[row["source"]],
                "last_success": row["last_success"],
                "last_failure": row["last_failure"] if failed_since else None,
            }
        )
    return sources
