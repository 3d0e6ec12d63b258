"""Metrics as the rest of Godview asks for them: computed for a period, or read back stored."""

import datetime

from .compute import compute_metrics, default_start


def metrics_for(*, as_of: datetime.date, start: datetime.date | None = None) -> dict:
    """The export-shaped metrics (DATA_FORMAT.md) for [start, as_of]; start defaults to the
    first day of as_of's quarter. Raises ValueError when start is after as_of."""
    return compute_metrics(as_of=as_of, start=start or default_start(as_of))
