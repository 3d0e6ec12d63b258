"""The usual periods the pages show, as (start, as_of) pairs for an agency-local today."""

import datetime

from .compute.base import quarter_start

DAY = datetime.timedelta(days=1)
WEEK, MONTH, QUARTER, LAST_QUARTER = "week", "month", "quarter", "last_quarter"
PERIOD_LABELS = {
    WEEK: "This week",
    MONTH: "This month",
    QUARTER: "This quarter",
    LAST_QUARTER: "Last quarter",
}


def usual_periods(today: datetime.date) -> dict[str, tuple[datetime.date, datetime.date]]:
    """name -> (start, as_of): this week, month and quarter to date, and the last quarter."""
    this_quarter = quarter_start(today)
    last_quarter_end = this_quarter - DAY
    return {
        WEEK: (today - datetime.timedelta(days=today.weekday()), today),
        MONTH: (today.replace(day=1), today),
        QUARTER: (this_quarter, today),
        LAST_QUARTER: (quarter_start(last_quarter_end), last_quarter_end),
    }
