"""The metrics export of DATA_FORMAT.md: a result as JSON, or as one CSV file per level.

CSV files have a `key` column and then one column per registry metric that applies to the
level, in registry order. The agency file has the key "agency" (the key stored metric rows
use), so all five files have the same shape. Nested values (cro_by_confidence, risk_signals,
risk_reasons, leaderboard_parts) are JSON text; null and a metric that does not apply to the
row (the account-manager-only figures of a designer, say) are empty cells; booleans are
`true`/`false` as in the import format.
"""

import csv
import datetime
import json
import re
from pathlib import Path

from .registry import AGENCY, CLIENT, DEPARTMENT, METRICS, POD, STAFF

AGENCY_KEY = "agency"
# CSV file stem (and result key) -> level
CSV_LEVELS = {
    "agency": AGENCY,
    "departments": DEPARTMENT,
    "pods": POD,
    "staff": STAFF,
    "clients": CLIENT,
}
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_ECHOED_CHARS = 40


class PeriodError(ValueError):
    """A requested as-of date or start is unusable; `name` says which, the message why."""

    def __init__(self, name: str, problem: str):
        self.name = name
        super().__init__(f"{name}: {problem}")


def parse_date(name: str, value: str) -> datetime.date:
    """A strict YYYY-MM-DD date (Python alone would also take '20260105' or '2026-W01')."""
    if ISO_DATE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    shown = value if len(value) <= MAX_ECHOED_CHARS else value[:MAX_ECHOED_CHARS] + "…"
    raise PeriodError(name, f"{shown!r} is not a date as YYYY-MM-DD")


def parse_period(
    *,
    as_of: str | None,
    start: str | None,
    today: datetime.date,
    names: tuple[str, str] = ("as_of", "start"),
) -> tuple[datetime.date, datetime.date | None]:
    """(as_of, start) from their text, as_of defaulting to today and start to None (the
    quarter of as_of). Raises PeriodError naming the parameter (names) when a date is
    malformed, as_of is after today or start is after as_of."""
    as_of_name, start_name = names
    as_of_date = today if as_of is None else parse_date(as_of_name, as_of)
    if as_of_date > today:
        raise PeriodError(
            as_of_name, f"{as_of_date} is in the future (today is {today} at the agency)"
        )
    start_date = None if start is None else parse_date(start_name, start)
    if start_date is not None and start_date > as_of_date:
        raise PeriodError(start_name, f"{start_date} is after {as_of_name} ({as_of_date})")
    return as_of_date, start_date


def json_text(result: dict) -> str:
    """The result as indented JSON (a NaN is a bug upstream: it raises, never exports)."""
    return json.dumps(result, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def csv_columns(level: str) -> list[str]:
    """`key`, then every registry metric that applies to the level, in registry order."""
    return ["key", *(metric.key for metric in METRICS if level in metric.levels)]


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    return str(value)


def csv_rows(result: dict, name: str) -> list[dict]:
    if CSV_LEVELS[name] == AGENCY:
        return [{"key": AGENCY_KEY, **result["agency"]}]
    return result[name]


def write_csv_folder(result: dict, folder: Path) -> list[Path]:
    """Write agency.csv, departments.csv, pods.csv, staff.csv and clients.csv into folder
    (created if missing); returns their paths. A metric the registry does not list for the
    level raises ValueError rather than being dropped."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, level in CSV_LEVELS.items():
        path = folder / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=csv_columns(level), extrasaction="raise")
            writer.writeheader()
            for row in csv_rows(result, name):
                writer.writerow({column: csv_cell(value) for column, value in row.items()})
        paths.append(path)
    return paths
