"""Shared pieces of the demo generator: seeded randomness, dates, money and the row writer."""

import collections
import datetime
import random
from decimal import Decimal

from django.db import models

DAY = datetime.timedelta(days=1)
BATCH_SIZE = 2000


def rng_for(seed: int, *parts) -> random.Random:
    """A random generator of its own for one part of the agency (say, one client's tasks).

    Seeding each part separately keeps the output identical however the work is batched, and
    a change to one part of the generator leaves the others' data as it was. String seeds are
    hashed with SHA-512 by `random`, so they do not depend on PYTHONHASHSEED."""
    return random.Random(":".join(str(part) for part in (seed, *parts)))


def random_day(rng: random.Random, first: datetime.date, last: datetime.date):
    """A uniformly drawn day in [first, last], or None when the range is empty."""
    if last < first:
        return None
    return first + datetime.timedelta(days=rng.randint(0, (last - first).days))


def mondays(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """Every Monday in [first, last]."""
    monday = first + datetime.timedelta(days=(7 - first.weekday()) % 7)
    weeks = []
    while monday <= last:
        weeks.append(monday)
        monday += datetime.timedelta(days=7)
    return weeks


def workday_before(day: datetime.date) -> datetime.date:
    """The day itself on a weekday, else the Friday before it."""
    return day - datetime.timedelta(days=max(0, day.weekday() - 4))


def money(amount: float, step: int = 50) -> Decimal:
    """An amount rounded to a multiple of `step`, as fees and deal amounts are quoted."""
    return Decimal(max(step, round(amount / step) * step))


def decimal(value: float, places: int) -> Decimal:
    return Decimal(f"{value:.{places}f}")


class Writer:
    """Inserts rows in batches and counts them per model, for the summary."""

    def __init__(self):
        self.counts: collections.Counter[str] = collections.Counter()

    def insert(self, model: type[models.Model], rows: list) -> list:
        """bulk_create the rows (their primary keys are set afterwards) and count them."""
        if rows:
            model.objects.bulk_create(rows, batch_size=BATCH_SIZE)
            self.counts[model.__name__] += len(rows)
        return rows


def office_hours(day: datetime.date) -> datetime.datetime:
    """A believable moment on day (10:00 UTC), for timestamps that have only a date here."""
    return datetime.datetime.combine(day, datetime.time(10), tzinfo=datetime.UTC)
