"""python manage.py seed_demo [--clients N] [--seed S] [--today YYYY-MM-DD] [--if-empty]"""

import argparse
import datetime

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clients.models import Client
from godview.agency import agency_today
from integrations.demo import EMAIL_DOMAIN, seed_demo_agency
from integrations.demo.vocabulary import AGENCY_NAME


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number


def iso_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-03-31") from None


class Command(BaseCommand):
    help = (
        "Create a demo agency with two years of history ending today: staff, pods, clients "
        "with churn and fee changes, goals, tasks, touchpoints, tests, training and deals. "
        "The same --seed and --today always give the same data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--clients", type=positive_int, default=160, help="Clients active today (160)."
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed (1).")
        parser.add_argument(
            "--today",
            type=iso_date,
            help="The last day of the history, YYYY-MM-DD (default: today in the agency).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if there are clients already (instead of refusing).",
        )

    def handle(self, *args, clients, seed, today, if_empty, **options):
        if Client.objects.exists():
            if if_empty:
                self.stdout.write("Clients exist already; seed_demo left the database as it is.")
                return
            raise CommandError(
                "The database has clients already; seed_demo only fills an empty database "
                "(use --if-empty to skip quietly when it is not empty)."
            )
        if get_user_model().objects.filter(username__iendswith=f"@{EMAIL_DOMAIN}").exists():
            raise CommandError(
                f"Users @{EMAIL_DOMAIN} exist already (from an earlier demo?); delete them "
                "or use a fresh database."
            )
        report = seed_demo_agency(clients=clients, seed=seed, today=today or agency_today())
        self.stdout.write(
            f"Seeded {AGENCY_NAME}: {clients} active clients on {report.today}, history from "
            f"{report.history_start} (seed {seed})."
        )
        width = max(len(name) for name in report.counts)
        for name, count in report.counts.items():
            self.stdout.write(f"  {name:<{width}}  {count:>9,}")
        self.stdout.write(f"  {'Total':<{width}}  {sum(report.counts.values()):>9,}")
        self.stdout.write(self.style.SUCCESS(f"Done in {report.seconds:.1f} s."))
