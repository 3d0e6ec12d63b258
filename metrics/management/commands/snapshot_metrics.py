import datetime

from django.core.management.base import BaseCommand, CommandError

from godview.agency import agency_today
from metrics import services


def iso_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date as YYYY-MM-DD") from None


class Command(BaseCommand):
    help = (
        "Compute and store metrics: the current figures for the usual periods and today's "
        "daily snapshot, and with --since the daily snapshots and each week's figures back to "
        "that date."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=iso_date, help="backfill daily snapshots from here")
        parser.add_argument("--until", type=iso_date, help="last day to backfill (default today)")
        parser.add_argument(
            "--every", type=int, default=1, help="backfill every N days (default 1)"
        )
        parser.add_argument(
            "--weeks",
            type=int,
            help="shorthand: weekly snapshots over the last N weeks (--since today-N weeks "
            "--every 7)",
        )

    def handle(self, *args, since, until, every, weeks, **options):
        today = agency_today()
        until = until or today
        if weeks is not None:
            if weeks < 1 or since is not None:
                raise CommandError("--weeks takes a number of weeks >= 1, and not with --since")
            since, every = until - datetime.timedelta(weeks=weeks), 7
        if every < 1:
            raise CommandError("--every must be 1 or more")
        if until > today:
            raise CommandError(f"--until {until} is after today ({today})")
        if since is not None:
            if since > until:
                raise CommandError(f"--since {since} is after --until {until}")
            count = services.backfill(since=since, until=until, every_days=every)
            weeks = services.backfill_weeks(since=since, until=until)
            self.stdout.write(
                f"Stored {count} daily snapshots and {weeks} weeks' figures "
                f"from {since} to {until}."
            )
        runs = services.refresh_current(today=today)
        seconds = sum(run.seconds for run in runs)
        self.stdout.write(f"Stored the current figures as of {today} ({seconds:.1f} s).")
