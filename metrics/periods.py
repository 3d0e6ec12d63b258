"""The usual periods the pages show, as (start, as_of) pairs for an agency-local today."""

import datetime

from .compute.base import quarter_start

DAY = datetime.timedelta(days=1)
WEEK, MONTH, QUARTER = "week", "month", "quarter"
LAST_WEEK, LAST_MONTH, LAST_QUARTER = "last_week", "last_month", "last_quarter"
# The periods a person picks, in the order the filter shows them.
PERIOD_LABELS = {
    WEEK: "This week",
    MONTH: "This month",
    QUARTER: "This quarter",
    LAST_QUARTER: "Last quarter",
}
# Each shown period compared with the one before it (stored too, for the tiles' "previous").
PREVIOUS = {WEEK: LAST_WEEK, MONTH: LAST_MONTH, QUARTER: LAST_QUARTER}
PREVIOUS_LABELS = {WEEK: "last week", MONTH: "last month", QUARTER: "last quarter"}


def usual_periods(today: datetime.date) -> dict[str, tuple[datetime.date, datetime.date]]:
    """name -> (start, as_of): this week, month and quarter to date, and the whole previous
    week, month and quarter."""
    this_week = today - datetime.timedelta(days=today.weekday())
    this_month = today.replace(day=1)
    this_quarter = quarter_start(today)
    last_month_end = this_month - DAY
    last_quarter_end = this_quarter - DAY
    return {
        WEEK: (this_week, today),
        LAST_WEEK: (this_week - 7 * DAY, this_week - DAY),
        MONTH: (this_month, today),
        LAST_MONTH: (last_month_end.replace(day=1), last_month_end),
        QUARTER: (this_quarter, today),
        LAST_QUARTER: (quarter_start(last_quarter_end), last_quarter_end),
    }
