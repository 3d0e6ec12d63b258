"""What Asana's records become here: the workspace's projects and users (the directory an
admin maps from), and a task record turned into the fields of a `workflows.Task`.

Nothing is guessed: a project belongs to a client only when the client names it
(`Client.asana_project_gid`), a user is staff only by the same (lower-cased) email or an
admin's explicit choice (`AsanaUser.staff`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import asana
from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from clients.models import Client
from godview.models import Staff

from ..models import AsanaProject, AsanaUser
from .client import AsanaApi

PROJECT_FIELDS = "name,archived"
USER_FIELDS = "name,email"


def parse_moment(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_day(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def refresh_directory(api: AsanaApi) -> dict[str, int]:
    """List the workspace's projects (archived too) and users into AsanaProject/AsanaUser and
    match users to staff by email. A project missing from a complete listing is marked gone,
    never deleted (its tasks stay). Returns counts for the run's stats."""
    workspace = settings.ASANA_WORKSPACE_GID
    projects = api.call(
        api.api(asana.ProjectsApi).get_projects_for_workspace,
        workspace,
        opt_fields=PROJECT_FIELDS,
        limit=100,
    )
    users = api.call(
        api.api(asana.UsersApi).get_users,
        workspace=workspace,
        opt_fields=USER_FIELDS,
        limit=100,
    )
    now = timezone.now()
    with transaction.atomic():
        known = {p.gid: p for p in AsanaProject.objects.select_for_update()}
        seen = set()
        for record in projects:
            seen.add(record["gid"])
            project = known.get(record["gid"])
            fields = {
                "name": (record.get("name") or record["gid"])[:500],
                "workspace_gid": workspace,
                "archived": bool(record.get("archived")),
                "seen_at": now,
                "gone_at": None,
            }
            if project is None:
                AsanaProject.objects.create(gid=record["gid"], **fields)
            else:
                AsanaProject.objects.filter(pk=project.pk).update(**fields)
        AsanaProject.objects.filter(gone_at=None).exclude(gid__in=seen).update(gone_at=now)

        staff_by_email = dict(Staff.objects.annotate(e=Lower("email")).values_list("e", "id"))
        existing = {u.gid: u for u in AsanaUser.objects.all()}
        for record in users:
            email = (record.get("email") or "").strip()
            user = existing.get(record["gid"])
            matched = staff_by_email.get(email.lower()) if email else None
            if user is None:
                AsanaUser.objects.create(
                    gid=record["gid"],
                    name=(record.get("name") or "")[:200],
                    email=email[:254],
                    staff_id=matched,
                    seen_at=now,
                )
                continue
            user.name, user.seen_at = (record.get("name") or "")[:200], now
            if user.email.lower() != email.lower() or user.staff_id is None:
                # A changed email re-matches; an admin's choice for an unchanged email stays.
                user.staff_id = matched if matched is not None else user.staff_id
                user.email = email[:254]
            user.save(update_fields=["name", "email", "staff", "seen_at"])
    return {"projects_listed": len(projects), "users_listed": len(users)}


def mapped_projects() -> dict[str, int]:
    """Project gid -> client id, for every client that names a project."""
    return dict(
        Client.objects.exclude(asana_project_gid__isnull=True)
        .exclude(asana_project_gid="")
        .values_list("asana_project_gid", "id")
    )


@dataclass
class People:
    """Asana users -> staff ids: the admin's explicit matches first, then the email."""

    by_gid: dict[str, int]
    by_email: dict[str, int]

    @classmethod
    def load(cls) -> People:
        return cls(
            by_gid=dict(AsanaUser.objects.exclude(staff=None).values_list("gid", "staff_id")),
            by_email=dict(Staff.objects.annotate(e=Lower("email")).values_list("e", "id")),
        )

    def staff_id(self, assignee: dict | None) -> int | None:
        if not assignee:
            return None
        found = self.by_gid.get(assignee.get("gid", ""))
        if found is None and assignee.get("email"):
            found = self.by_email.get(assignee["email"].lower())
        return found


# What the sync asks for on every task (opt_fields as one string, per the notes).
TASK_FIELDS = (
    "name,created_at,modified_at,completed,completed_at,due_on,due_at,"
    "assignee.email,parent,memberships.project,num_subtasks"
)


def task_fields(record: dict[str, Any], people: People, zone) -> dict[str, Any]:
    """A task record -> the Task fields the source owns (dates in the agency's zone)."""
    created = parse_moment(record.get("created_at")) or timezone.now()
    created_on = created.astimezone(zone).date()
    due_on = parse_day(record.get("due_on"))
    if due_on is None and record.get("due_at"):
        due_on = parse_moment(record["due_at"]).astimezone(zone).date()
    completed_on = None
    if record.get("completed"):
        done = parse_moment(record.get("completed_at")) or created
        completed_on = max(done.astimezone(zone).date(), created_on)
    return {
        "name": (record.get("name") or "(untitled)")[:500],
        "assignee_id": people.staff_id(record.get("assignee")),
        "created_on": created_on,
        "due_on": due_on,
        "completed_on": completed_on,
        "source_modified_at": parse_moment(record.get("modified_at")),
        "deleted_at": None,
    }


def project_of(record: dict[str, Any], projects: dict[str, int]) -> str | None:
    """The first mapped project among the task's memberships."""
    for membership in record.get("memberships") or []:
        gid = (membership.get("project") or {}).get("gid")
        if gid in projects:
            return gid
    return None
