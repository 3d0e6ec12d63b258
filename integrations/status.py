"""What the sync status page reads: whether the Asana connection works, each mapped
project's last run and last error, what is left to map, and the latest runs of every source.
A fixed number of queries whatever the number of projects."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef

from clients.models import Client
from godview.access import sees_everything

from .models import AsanaProject, AsanaUser, ConnectionStatus, SyncRun, SyncSource

RECENT_RUNS = 20


PROJECTS_SHOWN = 25


def may_see_sync_status(user) -> bool:
    """Leadership (and directors) and admins (staff users) see the sync status page."""
    return user.is_authenticated and (user.is_staff or sees_everything(user))


def _total(value) -> int | None:
    """A stats figure as one number: per-table counts ({"tasks": 3, ...}) are summed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return sum(v for v in value.values() if isinstance(v, int) and not isinstance(v, bool))
    return None


def row_counts(stats: dict) -> dict[str, int | None]:
    """Rows inserted, updated and deleted by a run, from its stats (the bundle import says
    "created" where the syncs say "inserted"); None where the run did not say."""
    stats = stats or {}
    inserted = stats.get("inserted", stats.get("created"))
    return {
        "inserted": _total(inserted),
        "updated": _total(stats.get("updated")),
        "deleted": _total(stats.get("deleted")),
    }


@dataclass
class Connection:
    configured: bool
    broken_at: datetime.datetime | None
    reason: str


def asana_connection() -> Connection:
    """Whether the Asana settings are there and, when a sync found the token refused, since
    when and why (the reason never holds the token)."""
    status = ConnectionStatus.objects.filter(source=SyncSource.ASANA).first()
    return Connection(
        configured=bool(settings.ASANA_ACCESS_TOKEN and settings.ASANA_WORKSPACE_GID),
        broken_at=status.broken_at if status else None,
        reason=status.reason if status else "",
    )


@dataclass
class ProjectStatus:
    client: Client
    gid: str
    project: AsanaProject | None  # None: the client names a project not listed yet
    last_run: SyncRun | None
    rows: dict[str, int | None]

    @property
    def failing(self) -> bool:
        """The last error came after the last success (or there was never one)."""
        project = self.project
        if project is None or not project.last_error_at:
            return False
        return project.last_success_at is None or project.last_error_at > project.last_success_at


def mapped_project_statuses() -> list[ProjectStatus]:
    """Every client that names an Asana project, by client name, with the project's sync
    state and its last run (three queries)."""
    clients = list(
        Client.objects.exclude(asana_project_gid__isnull=True)
        .exclude(asana_project_gid="")
        .only("key", "name", "asana_project_gid")
        .order_by("name")
    )
    gids = [client.asana_project_gid for client in clients]
    projects = {project.gid: project for project in AsanaProject.objects.filter(gid__in=gids)}
    last_runs = {
        run.scope: run
        for run in SyncRun.objects.filter(source=SyncSource.ASANA, scope__in=gids)
        .order_by("scope", "-finished_at")
        .distinct("scope")
    }
    statuses = []
    for client in clients:
        gid = client.asana_project_gid
        run = last_runs.get(gid)
        statuses.append(
            ProjectStatus(
                client=client,
                gid=gid,
                project=projects.get(gid),
                last_run=run,
                rows=row_counts(run.stats) if run else row_counts({}),
            )
        )
    return statuses


def unmapped_projects():
    """Projects of the workspace (still listed, not archived) that no client names."""
    named = Client.objects.filter(asana_project_gid=OuterRef("gid"))
    return AsanaProject.objects.filter(archived=False, gone_at__isnull=True).exclude(Exists(named))


def unmatched_users():
    """Asana users matched to no staff member (their tasks keep no assignee)."""
    return AsanaUser.objects.filter(staff__isnull=True)


@dataclass
class RunRow:
    run: SyncRun
    scope_label: str
    rows: dict[str, int | None]

    @property
    def seconds(self) -> int:
        return round((self.run.finished_at - self.run.started_at).total_seconds())


def recent_runs(limit: int = RECENT_RUNS) -> list[RunRow]:
    """The latest finished runs of any source, newest first, each with what it covered in
    words (an Asana project's name rather than its gid)."""
    runs = list(SyncRun.objects.order_by("-finished_at", "-id")[:limit])
    scopes = {run.scope for run in runs if run.source == SyncSource.ASANA and run.scope}
    names = dict(AsanaProject.objects.filter(gid__in=scopes).values_list("gid", "name"))
    rows = []
    for run in runs:
        if run.source == SyncSource.ASANA:
            label = names.get(run.scope, run.scope) if run.scope else "Workspace"
        else:
            label = run.scope
        rows.append(RunRow(run=run, scope_label=label, rows=row_counts(run.stats)))
    return rows


def attention_order(status: ProjectStatus) -> tuple:
    """Failing first, then never synced, then the longest since a success; then by name."""
    project = status.project
    last = project.last_success_at if project else None
    return (
        not status.failing,
        last is not None,
        last.timestamp() if last else 0.0,
        status.client.name,
    )


def sync_status(page: str | int | None = 1) -> dict:
    """Everything the sync status page shows; the projects a page of PROJECTS_SHOWN at a
    time, those needing attention first."""
    projects = sorted(mapped_project_statuses(), key=attention_order)
    return {
        "connection": asana_connection(),
        "projects": Paginator(projects, PROJECTS_SHOWN).get_page(page),
        "project_count": len(projects),
        "asana_runs": any(status.last_run for status in projects),
        "failing_count": sum(1 for status in projects if status.failing),
        "unmapped_projects_count": unmapped_projects().count(),
        "unmatched_users_count": unmatched_users().count(),
        "runs": recent_runs(),
    }
