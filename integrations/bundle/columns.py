"""The agency bundle's files and columns (DATA_FORMAT.md), and how each cell is read.

A parser turns a non-empty cell into a value or raises `CellError` with a message that
says what is wrong in the user's terms. Empty cells are None (or the column's default).
"""

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email


class CellError(ValueError):
    pass


def text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip()
        if len(value) > max_length:
            raise CellError(f"longer than {max_length} characters")
        return value

    return parse


def key(value: str) -> str:
    value = value.strip()
    if len(value) > 100:
        raise CellError("a key is at most 100 characters")
    return value


def date(value: str) -> datetime.date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise CellError(f"{value!r} is not a date as YYYY-MM-DD") from None


def decimal(max_digits: int, places: int, minimum=None) -> Callable[[str], Decimal]:
    def parse(value: str) -> Decimal:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise CellError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise CellError(f"{value!r} is not a number")
        if minimum is not None and number < minimum:
            raise CellError(f"must be {minimum} or more")
        quantized = number.quantize(Decimal(1).scaleb(-places))
        if quantized != number:
            raise CellError(f"has more than {places} decimal places")
        if len(quantized.as_tuple().digits) > max_digits:
            raise CellError("is too large")
        return quantized

    return parse


def percent_int(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise CellError(f"{value!r} is not a whole number") from None
    if not 0 <= number <= 100:
        raise CellError(f"{number} is outside 0-100")
    return number


def percent_decimal(value: str) -> Decimal:
    number = decimal(5, 2)(value)
    if not 0 <= number <= 100:
        raise CellError(f"{value.strip()} is outside 0-100")
    return number


def boolean(value: str) -> bool:
    if value.strip() == "true":
        return True
    if value.strip() == "false":
        return False
    raise CellError(f"{value!r} is not true or false")


def choice(*values: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip()
        if value not in values:
            raise CellError(f"{value!r} is not one of: {', '.join(values)}")
        return value

    return parse


def email(value: str) -> str:
    value = value.strip()
    try:
        validate_email(value)
    except ValidationError:
        raise CellError(f"{value!r} is not an email address") from None
    if len(value) > 254:
        raise CellError("longer than 254 characters")
    return value.lower()


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[str], object]
    required: bool = False
    default: object = None
    refers_to: str | None = None  # the bundle file whose keys this column names


def required(name, parse, **kwargs) -> Column:
    return Column(name, parse, required=True, **kwargs)


def optional(name, parse, **kwargs) -> Column:
    return Column(name, parse, **kwargs)


def ref(name, file, is_required=False) -> Column:
    return Column(name, key, required=is_required, refers_to=file)


@dataclass(frozen=True)
class FileSpec:
    name: str
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...] = ("key",)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


ROLES = ("account_manager", "designer", "director", "leadership", "sales", "other")
CHANNELS = ("call", "meeting", "email", "chat", "report", "other")
GOAL_STATUSES = ("open", "met", "missed")
GOAL_NUMBER = decimal(14, 4)

FILES: dict[str, FileSpec] = {
    spec.name: spec
    for spec in [
        FileSpec("departments.csv", (required("key", key), required("name", text(200)))),
        FileSpec(
            "pods.csv",
            (
                required("key", key),
                required("name", text(200)),
                ref("department", "departments.csv"),
            ),
        ),
        FileSpec(
            "staff.csv",
            (
                required("key", key),
                required("name", text(200)),
                required("email", email),
                required("role", choice(*ROLES)),
                ref("department", "departments.csv"),
                ref("pod", "pods.csv"),
                optional("active", boolean, default=True),
                optional("started_on", date),
            ),
        ),
        FileSpec(
            "clients.csv",
            (
                required("key", key),
                required("name", text(200)),
                ref("pod", "pods.csv", is_required=True),
                ref("account_manager", "staff.csv", is_required=True),
                optional("industry", text(100), default=""),
                optional("asana_project", text(64)),
                optional("crm_company", text(64)),
            ),
        ),
        FileSpec(
            "engagements.csv",
            (
                ref("client", "clients.csv", is_required=True),
                required("started_on", date),
                optional("ended_on", date),
                required("monthly_fee", decimal(12, 2, minimum=0)),
            ),
            natural_key=("client", "started_on"),
        ),
        FileSpec(
            "client_goals.csv",
            (
                required("key", key),
                ref("client", "clients.csv", is_required=True),
                required("title", text(300)),
                optional("metric", text(100), default=""),
                required("baseline", GOAL_NUMBER),
                required("target", GOAL_NUMBER),
                optional("current", GOAL_NUMBER),
                required("starts_on", date),
                required("due_on", date),
                optional("status", choice(*GOAL_STATUSES), default="open"),
            ),
        ),
        FileSpec(
            "weekly_goals.csv",
            (
                ref("client", "clients.csv", is_required=True),
                ref("staff", "staff.csv", is_required=True),
                required("week_start", date),
                required("description", text(500)),
                ref("client_goal", "client_goals.csv"),
                optional("status", choice(*GOAL_STATUSES), default="open"),
                optional("note", text(5000), default=""),
            ),
            natural_key=("client", "staff", "week_start", "description"),
        ),
        FileSpec(
            "tasks.csv",
            (
                required("key", key),
                ref("client", "clients.csv", is_required=True),
                ref("assignee", "staff.csv"),
                required("name", text(500)),
                required("created_on", date),
                optional("due_on", date),
                optional("completed_on", date),
            ),
        ),
        FileSpec(
            "postponements.csv",
            (
                ref("task", "tasks.csv", is_required=True),
                required("from_due_on", date),
                required("to_due_on", date),
                required("reason", text(5000)),
                ref("approved_by", "staff.csv", is_required=True),
                required("approved_on", date),
            ),
            natural_key=("task", "approved_on", "to_due_on"),
        ),
        FileSpec(
            "touchpoints.csv",
            (
                ref("client", "clients.csv", is_required=True),
                ref("staff", "staff.csv"),
                required("occurred_on", date),
                required("channel", choice(*CHANNELS)),
                optional("direction", choice("outbound", "inbound"), default="outbound"),
                optional("summary", text(500), default=""),
            ),
            natural_key=("client", "occurred_on", "channel", "summary"),
        ),
        FileSpec(
            "tactics.csv",
            (
                required("key", key),
                ref("client", "clients.csv", is_required=True),
                ref("owner", "staff.csv"),
                required("name", text(300)),
                required("kind", choice("tactic", "cro_test")),
                required("started_on", date),
                optional("ended_on", date),
                required("outcome", choice("win", "loss", "inconclusive", "running")),
                optional("confidence", percent_decimal),
                optional("lift_pct", decimal(8, 2)),
            ),
        ),
        FileSpec(
            "training_modules.csv",
            (
                required("key", key),
                required("name", text(200)),
                ref("department", "departments.csv"),
                optional("required", boolean, default=True),
                required("pass_score", percent_int),
            ),
        ),
        FileSpec(
            "training_results.csv",
            (
                ref("staff", "staff.csv", is_required=True),
                ref("module", "training_modules.csv", is_required=True),
                required("completed_on", date),
                required("score", percent_int),
            ),
            natural_key=("staff", "module", "completed_on"),
        ),
        FileSpec(
            "deals.csv",
            (
                required("key", key),
                required("name", text(300)),
                ref("owner", "staff.csv"),
                ref("client", "clients.csv"),
                required("created_on", date),
                optional("closed_on", date),
                required("status", choice("open", "won", "lost")),
                optional("amount", decimal(14, 2, minimum=0)),
            ),
        ),
    ]
}
