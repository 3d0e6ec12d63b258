"""Importing an agency bundle: validate everything, then upsert all of it or nothing.

`import_bundle` is the one way in, used by `manage.py import_agency` and the admin upload.
Rows are matched by key (or the file's natural key, DATA_FORMAT.md) and only rows whose
values differ are written, so importing the same bundle twice writes nothing at all: no
row and no audit-history entry.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import pghistory
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from clients.models import Client, ClientGoal, Engagement, Touchpoint, TouchpointSource
from godview.models import Department, Pod, Staff
from godview.services import schedule_metrics_refresh
from workflows.models import (
    Deal,
    Postponement,
    PostponementStatus,
    Tactic,
    Task,
    TaskSource,
    TrainingModule,
    TrainingResult,
    WeeklyGoal,
)
from workflows.services import recompute_committed_due_dates

from ..freshness import record_sync_run
from ..models import SyncSource
from .columns import FILES
from .reader import Problems, Row, read_bundle
from .rules import validate

ANALYZE_AFTER_ROWS = 10_000
# Files in the order they are written: everything a row refers to is written before it.
ORDER = list(FILES)


@dataclass
class ImportResult:
    problems: list[str]
    dry_run: bool
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> list[str]:
        """One line per file: how many rows were (or would be) created, updated, unchanged."""
        created, updated = (
            ("would be created", "would be updated") if self.dry_run else ("created", "updated")
        )
        lines = []
        for name in ORDER:
            if name in self.created:
                lines.append(
                    f"{name}: {self.created[name]} {created}, {self.updated[name]} {updated}, "
                    f"{self.unchanged[name]} unchanged"
                )
        return lines


class _DryRunRollback(Exception):
    pass


class _Writer:
    """Writes a validated bundle, file by file, keeping key -> id maps for references."""

    def __init__(self, bundle: dict[str, list[Row]], db_ids: dict[str, dict[str, int]], result):
        self.bundle = bundle
        self.ids = defaultdict(dict, {name: dict(ids) for name, ids in db_ids.items()})
        self.result = result

    def ref(self, file: str, key: str | None) -> int | None:
        return None if key is None else self.ids[file][key]

    def upsert(self, name, model, rows_fields, natural_key, existing, create_defaults=None):
        """Create the rows that are new and update those whose values changed.
        rows_fields: list of dicts of model field values; natural_key: field names;
        existing: natural key tuple -> stored instance; create_defaults: fields set only
        on rows created here."""
        to_create, to_update, changed_fields = [], [], set()
        for fields in rows_fields:
            match = existing.get(tuple(fields[f] for f in natural_key))
            if match is None:
                to_create.append(model(**fields, **(create_defaults or {})))
                continue
            differing = [f for f, value in fields.items() if getattr(match, f) != value]
            if differing:
                for f in differing:
                    setattr(match, f, fields[f])
                changed_fields.update(differing)
                to_update.append(match)
        created = model.objects.bulk_create(to_create, batch_size=2000)
        if to_update:
            model.objects.bulk_update(to_update, sorted(changed_fields), batch_size=2000)
        self.result.created[name] = len(created)
        self.result.updated[name] = len(to_update)
        self.result.unchanged[name] = len(rows_fields) - len(created) - len(to_update)
        return created + to_update

    def upsert_keyed(self, name, model, rows_fields):
        keys = [fields["key"] for fields in rows_fields]
        existing = {(obj.key,): obj for obj in model.objects.filter(key__in=keys)}
        for obj in self.upsert(name, model, rows_fields, ("key",), existing):
            self.ids[name][obj.key] = obj.id

    def rows(self, name):
        return [row.values for row in self.bundle.get(name, [])]

    def write(self) -> None:
        for name in ORDER:
            if name in self.bundle:
                getattr(self, "write_" + name.removesuffix(".csv"))(name)

    def write_departments(self, name):
        self.upsert_keyed(
            name, Department, [{"key": v["key"], "name": v["name"]} for v in self.rows(name)]
        )

    def write_pods(self, name):
        self.upsert_keyed(
            name,
            Pod,
            [
                {
                    "key": v["key"],
                    "name": v["name"],
                    "department_id": self.ref("departments.csv", v["department"]),
                }
                for v in self.rows(name)
            ],
        )

    def write_staff(self, name):
        rows = self.rows(name)
        user_ids = self._login_users(rows)
        self.upsert_keyed(
            name,
            Staff,
            [
                {
                    "key": v["key"],
                    "name": v["name"],
                    "email": v["email"],
                    "role": v["role"],
                    "user_id": user_ids[v["key"]],
                    "department_id": self.ref("departments.csv", v["department"]),
                    "pod_id": self.ref("pods.csv", v["pod"]),
                    "active": v["active"],
                    "started_on": v["started_on"],
                }
                for v in rows
            ],
        )

    def _login_users(self, rows) -> dict[str, int]:
        """Each staff row's login user: the one its staff record has, else the user with
        its email, else a new user with no usable password. Changed emails follow."""
        User = get_user_model()
        by_staff_key = dict(
            Staff.objects.filter(key__in=[v["key"] for v in rows]).values_list("key", "user_id")
        )
        users = {
            user.id: user
            for user in User.objects.annotate(email_lower=Lower("email")).filter(
                email_lower__in=[v["email"] for v in rows]
            )
        }
        users.update({user.id: user for user in User.objects.filter(id__in=by_staff_key.values())})
        by_email = {user.email.lower(): user for user in users.values()}
        user_ids, changed = {}, []
        for v in rows:
            user = users.get(by_staff_key.get(v["key"])) or by_email.get(v["email"])
            if user is None:
                user = User(username=v["email"], email=v["email"], is_active=v["active"])
                user.set_unusable_password()
                user.save()
            elif (user.email, user.username, user.is_active) != (
                v["email"],
                v["email"],
                v["active"],
            ):
                user.email = user.username = v["email"]
                user.is_active = v["active"]
                changed.append(user)
            user_ids[v["key"]] = user.id
        if changed:
            User.objects.bulk_update(changed, ["email", "username", "is_active"])
        return user_ids

    def write_clients(self, name):
        self.upsert_keyed(
            name,
            Client,
            [
                {
                    "key": v["key"],
                    "name": v["name"],
                    "pod_id": self.ref("pods.csv", v["pod"]),
                    "account_manager_id": self.ref("staff.csv", v["account_manager"]),
                    "industry": v["industry"],
                    "asana_project_gid": v["asana_project"],
                    "crm_company_id": v["crm_company"],
                }
                for v in self.rows(name)
            ],
        )

    def write_engagements(self, name):
        rows = [
            {
                "client_id": self.ref("clients.csv", v["client"]),
                "started_on": v["started_on"],
                "ended_on": v["ended_on"],
                "monthly_fee": v["monthly_fee"],
            }
            for v in self.rows(name)
        ]
        existing = {
            (obj.client_id, obj.started_on): obj
            for obj in Engagement.objects.filter(client_id__in={r["client_id"] for r in rows})
        }
        # Shorten stored engagements first so that a fee change never overlaps mid-write.
        rows.sort(key=lambda r: (r["ended_on"] is None, r["started_on"]))
        self.upsert(name, Engagement, rows, ("client_id", "started_on"), existing)

    def write_client_goals(self, name):
        self.upsert_keyed(
            name,
            ClientGoal,
            [
                {
                    "key": v["key"],
                    "client_id": self.ref("clients.csv", v["client"]),
                    "title": v["title"],
                    "metric": v["metric"],
                    "baseline": v["baseline"],
                    "target": v["target"],
                    "current": v["current"],
                    "starts_on": v["starts_on"],
                    "due_on": v["due_on"],
                    "status": v["status"],
                }
                for v in self.rows(name)
            ],
        )

    def write_weekly_goals(self, name):
        rows = [
            {
                "client_id": self.ref("clients.csv", v["client"]),
                "staff_id": self.ref("staff.csv", v["staff"]),
                "week_start": v["week_start"],
                "description": v["description"],
                "client_goal_id": self.ref("client_goals.csv", v["client_goal"]),
                "status": v["status"],
                "note": v["note"],
            }
            for v in self.rows(name)
        ]
        natural_key = ("client_id", "staff_id", "week_start", "description")
        existing = {
            tuple(getattr(obj, f) for f in natural_key): obj
            for obj in WeeklyGoal.objects.filter(client_id__in={r["client_id"] for r in rows})
        }
        self.upsert(name, WeeklyGoal, rows, natural_key, existing)

    def write_tasks(self, name):
        keys = [v["key"] for v in self.rows(name)]
        stored = {obj.key: obj for obj in Task.objects.filter(key__in=keys)}
        rows = []
        for v in self.rows(name):
            fields = {
                "key": v["key"],
                "client_id": self.ref("clients.csv", v["client"]),
                "assignee_id": self.ref("staff.csv", v["assignee"]),
                "name": v["name"],
                "created_on": v["created_on"],
                "completed_on": v["completed_on"],
                "first_due_on": v["due_on"],
            }
            task = stored.get(v["key"])
            if task is None:
                fields.update(
                    source=TaskSource.BUNDLE, committed_due_on=v["due_on"], due_on=v["due_on"]
                )
            elif task.first_due_on is None and v["due_on"] is not None:
                # The first due date known: it becomes the commitment (the guard allows
                # setting a committed date that was empty).
                fields.update(committed_due_on=v["due_on"])
                if task.due_on is None:
                    fields.update(due_on=v["due_on"])
            rows.append(fields)
        self.upsert_keyed(name, Task, rows)

    def write_postponements(self, name):
        rows = [
            {
                "task_id": self.ref("tasks.csv", v["task"]),
                "from_due_on": v["from_due_on"],
                "to_due_on": v["to_due_on"],
                "reason": v["reason"],
                "status": PostponementStatus.APPROVED,
                "approved_by_id": self.ref("staff.csv", v["approved_by"]),
                "approved_on": v["approved_on"],
            }
            for v in self.rows(name)
        ]
        natural_key = ("task_id", "approved_on", "to_due_on")
        existing = {
            tuple(getattr(obj, f) for f in natural_key): obj
            for obj in Postponement.objects.filter(
                task_id__in={r["task_id"] for r in rows}, status=PostponementStatus.APPROVED
            )
        }
        self.upsert(name, Postponement, rows, natural_key, existing)
        recompute_committed_due_dates({r["task_id"] for r in rows})

    def write_touchpoints(self, name):
        rows = [
            {
                "client_id": self.ref("clients.csv", v["client"]),
                "staff_id": self.ref("staff.csv", v["staff"]),
                "occurred_on": v["occurred_on"],
                "channel": v["channel"],
                "direction": v["direction"],
                "summary": v["summary"],
            }
            for v in self.rows(name)
        ]
        natural_key = ("client_id", "occurred_on", "channel", "summary")
        existing = {
            tuple(getattr(obj, f) for f in natural_key): obj
            for obj in Touchpoint.objects.filter(client_id__in={r["client_id"] for r in rows})
        }
        self.upsert(
            name,
            Touchpoint,
            rows,
            natural_key,
            existing,
            create_defaults={"source": TouchpointSource.BUNDLE},
        )

    def write_tactics(self, name):
        self.upsert_keyed(
            name,
            Tactic,
            [
                {
                    "key": v["key"],
                    "client_id": self.ref("clients.csv", v["client"]),
                    "owner_id": self.ref("staff.csv", v["owner"]),
                    "name": v["name"],
                    "kind": v["kind"],
                    "started_on": v["started_on"],
                    "ended_on": v["ended_on"],
                    "outcome": v["outcome"],
                    "confidence": v["confidence"],
                    "lift_pct": v["lift_pct"],
                }
                for v in self.rows(name)
            ],
        )

    def write_training_modules(self, name):
        self.upsert_keyed(
            name,
            TrainingModule,
            [
                {
                    "key": v["key"],
                    "name": v["name"],
                    "department_id": self.ref("departments.csv", v["department"]),
                    "required": v["required"],
                    "pass_score": v["pass_score"],
                }
                for v in self.rows(name)
            ],
        )

    def write_training_results(self, name):
        rows = [
            {
                "staff_id": self.ref("staff.csv", v["staff"]),
                "module_id": self.ref("training_modules.csv", v["module"]),
                "completed_on": v["completed_on"],
                "score": v["score"],
            }
            for v in self.rows(name)
        ]
        natural_key = ("staff_id", "module_id", "completed_on")
        existing = {
            tuple(getattr(obj, f) for f in natural_key): obj
            for obj in TrainingResult.objects.filter(staff_id__in={r["staff_id"] for r in rows})
        }
        self.upsert(name, TrainingResult, rows, natural_key, existing)

    def write_deals(self, name):
        self.upsert_keyed(
            name,
            Deal,
            [
                {
                    "key": v["key"],
                    "name": v["name"],
                    "owner_id": self.ref("staff.csv", v["owner"]),
                    "client_id": self.ref("clients.csv", v["client"]),
                    "created_on": v["created_on"],
                    "closed_on": v["closed_on"],
                    "status": v["status"],
                    "amount": v["amount"],
                }
                for v in self.rows(name)
            ],
        )


def _failed(result: ImportResult, started_at) -> ImportResult:
    """Record a refused import (not a dry run's): the pages say the last attempt failed."""
    if not result.dry_run:
        record_sync_run(
            source=SyncSource.BUNDLE,
            started_at=started_at,
            succeeded=False,
            error=f"{len(result.problems)} problem(s); the first: {result.problems[0]}"[:2000],
        )
    return result


def import_bundle(*, source, dry_run: bool = False, actor=None) -> ImportResult:
    """Validate the whole bundle (a folder path, a .zip path or an uploaded .zip), then
    write all of it in one transaction, or nothing if any row is bad. A dry run writes
    nothing but reports what would change. Problems read `file:line: column: message`."""
    started_at = timezone.now()
    problems = Problems()
    bundle = read_bundle(source, problems)
    result = ImportResult(problems=[], dry_run=dry_run)
    context = {"import": "agency bundle", "user": getattr(actor, "pk", None)}
    try:
        with transaction.atomic(), pghistory.context(**context):
            with connection.cursor() as cursor:
                # Deferred foreign-key checks make each history trigger's exception block
                # rescan a growing queue: a large import slows down quadratically without this.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            db_ids = validate(bundle, problems)
            if problems:
                result.problems = problems.lines
                return _failed(result, started_at)
            _Writer(bundle, db_ids, result).write()
            if dry_run:
                raise _DryRunRollback
            record_sync_run(
                source=SyncSource.BUNDLE,
                started_at=started_at,
                succeeded=True,
                stats={"created": result.created, "updated": result.updated},
            )
            schedule_metrics_refresh()  # after commit: the metrics see the imported rows
    except _DryRunRollback:
        pass
    except (IntegrityError, DatabaseError) as error:
        # Validation should have caught it; the database's own rules are the last guard.
        problems.add("bundle", 0, "(database)", f"rejected by the database: {error}".strip())
        result.problems = problems.lines
        result.created.clear()
        result.updated.clear()
        result.unchanged.clear()
        return _failed(result, started_at)
    written = sum(result.created.values()) + sum(result.updated.values())
    if not dry_run and written >= ANALYZE_AFTER_ROWS:
        with connection.cursor() as cursor:
            # Fresh planner statistics after a bulk load (see integrations.demo.seed).
            cursor.execute("ANALYZE")
    return result
