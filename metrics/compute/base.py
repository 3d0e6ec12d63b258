"""What every metric group shares: the period, the scope, the results table and rounding."""

import datetime
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from godview.models import AgencySettings
from metrics.registry import (
    BY_KEY,
    CLIENT,
    COUNT,
    DEPARTMENT,
    MONEY,
    PERCENT,
    POD,
    STAFF,
)

from .frames import Frames
from .levels import Scope

DAY = datetime.timedelta(days=1)


def quarter_start(day: datetime.date) -> datetime.date:
    """The first day of the calendar quarter that contains day."""
    return datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


@dataclass
class Context:
    as_of: datetime.date
    start: datetime.date
    settings: AgencySettings
    frames: Frames
    scope: Scope
    # level -> DataFrame indexed by object id, one column per metric key
    results: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def end(self) -> datetime.date:
        return self.as_of

    def put(self, level: str, values: pd.DataFrame | dict) -> None:
        """Record metric columns for a level (merged with what other groups recorded)."""
        if isinstance(values, dict):
            values = pd.DataFrame(values)
        current = self.results.get(level)
        self.results[level] = values if current is None else current.join(values, how="outer")


def round_half_up(value, places: int):
    """DOMAIN.md rounding: halves away from zero."""
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    return float(rounded)


def is_null(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def present(key: str, value):
    """A metric value as the export shows it: rounded by its unit, null for NaN/None."""
    if isinstance(value, list | dict | str | bool):
        return value
    if is_null(value):
        return None
    unit = BY_KEY[key].unit if key in BY_KEY else None
    if unit == COUNT or key in WHOLE_DAYS:
        return int(value)
    if unit == PERCENT:
        return round_half_up(value, 1)
    if unit == MONEY:
        return round_half_up(value, 2)
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, int):
        return value
    return round_half_up(value, 2)


# Day figures that are whole by definition ("counts of days are whole calendar days").
WHOLE_DAYS = frozenset({"days_inactive", "max_days_inactive", "postponed_days"})

LEVEL_LISTS = {DEPARTMENT: "departments", POD: "pods", STAFF: "staff", CLIENT: "clients"}
