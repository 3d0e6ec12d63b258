"""Checks that need more than one cell: references, duplicates and DOMAIN.md's rules.

Each check reads the parsed rows (and, where a rule spans the bundle and the database,
the database) and records problems; nothing here writes.
"""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db.models.functions import Lower

from clients.models import Client, ClientGoal, Engagement
from godview.models import Department, Pod, Staff
from workflows.models import Task, TrainingModule

from .columns import FILES
from .reader import Problems, Row

KEYED_MODELS = {
    "departments.csv": Department,
    "pods.csv": Pod,
    "staff.csv": Staff,
    "clients.csv": Client,
    "client_goals.csv": ClientGoal,
    "tasks.csv": Task,
    "training_modules.csv": TrainingModule,
}


def check_duplicates(bundle: dict[str, list[Row]], problems: Problems) -> None:
    for name, rows in bundle.items():
        spec = FILES[name]
        first_line = {}
        for row in rows:
            natural_key = tuple(row.values[column] for column in spec.natural_key)
            if natural_key in first_line:
                problems.add(
                    name,
                    row.line,
                    spec.natural_key[0],
                    f"the same {' + '.join(spec.natural_key)} as line {first_line[natural_key]}",
                )
            else:
                first_line[natural_key] = row.line


def existing_key_ids(bundle: dict[str, list[Row]]) -> dict[str, dict[str, int]]:
    """For each keyed file, the keys that rows reference or define and that already exist
    in the database, mapped to their ids (one query per file)."""
    wanted = defaultdict(set)
    for name, rows in bundle.items():
        spec = FILES[name]
        for row in rows:
            if "key" in row.values:
                wanted[name].add(row.values["key"])
            for column in spec.columns:
                if column.refers_to and row.values[column.name] is not None:
                    wanted[column.refers_to].add(row.values[column.name])
    return {
        name: dict(model.objects.filter(key__in=wanted[name]).values_list("key", "id"))
        for name, model in KEYED_MODELS.items()
        if wanted[name]
    }


def check_references(bundle, db_ids, problems: Problems) -> None:
    bundle_keys = {name: {row.values["key"] for row in bundle.get(name, [])} for name in db_ids}
    for name, rows in bundle.items():
        for column in FILES[name].columns:
            if not column.refers_to:
                continue
            target = column.refers_to
            if target in problems.unreadable_files:
                continue  # that file's own problems are reported already
            unreadable = problems.unreadable_keys.get(target, set())
            for row in rows:
                value = row.values[column.name]
                if value is None or value in unreadable:
                    continue
                if value not in bundle_keys.get(target, ()) and value not in db_ids.get(target, {}):
                    problems.add(
                        name,
                        row.line,
                        column.name,
                        f"{value!r} is in neither {target} nor the database",
                    )


def check_row_rules(bundle, problems: Problems) -> None:
    """Rules within one row."""
    for row in bundle.get("engagements.csv", []):
        v = row.values
        if v["ended_on"] and v["ended_on"] < v["started_on"]:
            problems.add(row.file, row.line, "ended_on", "is before started_on")
    for row in bundle.get("client_goals.csv", []):
        v = row.values
        if v["due_on"] < v["starts_on"]:
            problems.add(row.file, row.line, "due_on", "is before starts_on")
    for row in bundle.get("weekly_goals.csv", []):
        if row.values["week_start"].weekday() != 0:
            day = row.values["week_start"].strftime("%A")
            problems.add(row.file, row.line, "week_start", f"is a {day}, not a Monday")
    for row in bundle.get("tasks.csv", []):
        v = row.values
        if v["completed_on"] and v["completed_on"] < v["created_on"]:
            problems.add(row.file, row.line, "completed_on", "is before created_on")
    for row in bundle.get("postponements.csv", []):
        v = row.values
        if v["to_due_on"] <= v["from_due_on"]:
            problems.add(row.file, row.line, "to_due_on", "must be later than from_due_on")
    for row in bundle.get("tactics.csv", []):
        v = row.values
        if v["ended_on"] and v["ended_on"] < v["started_on"]:
            problems.add(row.file, row.line, "ended_on", "is before started_on")
        if v["outcome"] == "running" and v["ended_on"]:
            problems.add(row.file, row.line, "ended_on", "a running tactic has not ended")
        if v["outcome"] != "running" and not v["ended_on"]:
            problems.add(row.file, row.line, "ended_on", f"required when outcome is {v['outcome']}")
        if v["kind"] != "cro_test" and v["confidence"] is not None:
            problems.add(row.file, row.line, "confidence", "only CRO tests have a confidence")
    for row in bundle.get("deals.csv", []):
        v = row.values
        if v["status"] != "open" and not v["closed_on"]:
            problems.add(row.file, row.line, "closed_on", f"required when status is {v['status']}")
        if v["closed_on"] and v["closed_on"] < v["created_on"]:
            problems.add(row.file, row.line, "closed_on", "is before created_on")


def check_engagement_overlaps(bundle, db_ids, problems: Problems) -> None:
    """Two engagements of one client never overlap, counting those already stored
    (a stored engagement with the same client and started_on is replaced, not kept)."""
    rows = bundle.get("engagements.csv", [])
    client_keys = {row.values["client"] for row in rows}
    periods = defaultdict(dict)  # client key -> started_on -> (started_on, ended_on, row)
    for client_key, started_on, ended_on in Engagement.objects.filter(
        client__key__in=client_keys
    ).values_list("client__key", "started_on", "ended_on"):
        periods[client_key][started_on] = (started_on, ended_on, None)
    for row in rows:
        v = row.values
        periods[v["client"]][v["started_on"]] = (v["started_on"], v["ended_on"], row)
    for client_key, by_start in periods.items():
        ordered = sorted(by_start.values(), key=lambda period: period[0])
        for previous, current in zip(ordered, ordered[1:], strict=False):
            previous_end = previous[1]
            if previous_end is None or previous_end >= current[0]:
                row = current[2] or previous[2]
                if row is None:
                    continue  # both stored; the database already guarantees this
                until = previous_end.isoformat() if previous_end else "open-ended"
                problems.add(
                    row.file,
                    row.line,
                    "started_on",
                    f"client {client_key!r}: engagements {previous[0].isoformat()} to {until} "
                    f"and from {current[0].isoformat()} overlap",
                )


def check_weekly_goal_links(bundle, problems: Problems) -> None:
    """A weekly goal's client goal belongs to the same client."""
    goal_clients = {
        row.values["key"]: row.values["client"] for row in bundle.get("client_goals.csv", [])
    }
    linked = {row.values["client_goal"] for row in bundle.get("weekly_goals.csv", [])}
    missing = linked - set(goal_clients) - {None}
    goal_clients.update(
        ClientGoal.objects.filter(key__in=missing).values_list("key", "client__key")
    )
    for row in bundle.get("weekly_goals.csv", []):
        goal = row.values["client_goal"]
        if goal and goal in goal_clients and goal_clients[goal] != row.values["client"]:
            problems.add(
                row.file,
                row.line,
                "client_goal",
                f"{goal!r} is a goal of client {goal_clients[goal]!r}, "
                f"not {row.values['client']!r}",
            )


def check_unique_columns(bundle, problems: Problems) -> None:
    """Emails of staff and external ids of clients are unique across bundle and database."""
    staff_rows = bundle.get("staff.csv", [])
    stored_email_keys = dict(
        Staff.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=[row.values["email"] for row in staff_rows])
        .values_list("email_lower", "key")
    )
    seen = {}
    for row in staff_rows:
        email, key = row.values["email"], row.values["key"]
        if email in seen:
            problems.add(row.file, row.line, "email", f"also the email of line {seen[email]}")
        seen[email] = row.line
        if stored_email_keys.get(email, key) != key:
            problems.add(
                row.file,
                row.line,
                "email",
                f"already the email of staff {stored_email_keys[email]!r} in the database",
            )
    users_with_staff = set(
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=seen, staff__isnull=False)
        .exclude(staff__key__in=[row.values["key"] for row in staff_rows])
        .values_list("email_lower", flat=True)
    )
    for row in staff_rows:
        if row.values["email"] in users_with_staff and row.values["email"] not in stored_email_keys:
            problems.add(row.file, row.line, "email", "that login already belongs to other staff")

    for column, field in (
        ("asana_project", "asana_project_gid"),
        ("crm_company", "crm_company_id"),
    ):
        rows = [row for row in bundle.get("clients.csv", []) if row.values[column]]
        stored = dict(
            Client.objects.filter(
                **{f"{field}__in": [row.values[column] for row in rows]}
            ).values_list(field, "key")
        )
        seen = {}
        for row in rows:
            value = row.values[column]
            if value in seen:
                problems.add(row.file, row.line, column, f"also on line {seen[value]}")
            seen[value] = row.line
            if stored.get(value, row.values["key"]) != row.values["key"]:
                problems.add(
                    row.file, row.line, column, f"already used by client {stored[value]!r}"
                )


def check_task_first_due_dates(bundle, problems: Problems) -> None:
    """tasks.csv due_on is the committed due date as first known: once a task has one,
    a bundle cannot change it (only postponements move deadlines)."""
    rows = bundle.get("tasks.csv", [])
    stored = dict(
        Task.objects.filter(key__in=[row.values["key"] for row in rows]).values_list(
            "key", "first_due_on"
        )
    )
    for row in rows:
        first = stored.get(row.values["key"])
        if first is not None and row.values["due_on"] != first:
            problems.add(
                row.file,
                row.line,
                "due_on",
                f"the task's first due date is {first.isoformat()}; deadlines move only "
                "through approved postponements (postponements.csv)",
            )


def validate(bundle: dict[str, list[Row]], problems: Problems) -> dict[str, dict[str, int]]:
    """Run every check; returns the ids of stored rows that the bundle refers to."""
    check_duplicates(bundle, problems)
    db_ids = existing_key_ids(bundle)
    check_references(bundle, db_ids, problems)
    check_row_rules(bundle, problems)
    check_engagement_overlaps(bundle, db_ids, problems)
    check_weekly_goal_links(bundle, problems)
    check_unique_columns(bundle, problems)
    check_task_first_due_dates(bundle, problems)
    return db_ids
