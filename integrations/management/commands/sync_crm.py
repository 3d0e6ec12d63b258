"""Sync the active CRM by hand, in the foreground, with a progress bar: what the scheduled
Celery task does."""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from integrations.crm import errors
from integrations.crm.connection import NotConfigured, adapter_from_settings
from integrations.crm.sync import sync_crm
from integrations.management.progress import ProgressBar
from integrations.ratelimit import BudgetExhausted

BUDGET_WAIT_SECONDS = 15 * 60


class Command(BaseCommand):
    help = (
        "Sync the CRM chosen in Agency settings (owners, companies, deals, activities): only "
        "what changed since the last sync unless --full. Exits 1 on failure."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="read everything again")
        parser.add_argument(
            "--refresh-metrics",
            action="store_true",
            help="recompute the god-view's figures here when anything changed (a site "
            "running without a Celery worker, such as make demo)",
        )

    def handle(self, *args, full, refresh_metrics=False, **options):
        bar = ProgressBar(self.stderr)
        try:
            adapter = adapter_from_settings(acquire_timeout=BUDGET_WAIT_SECONDS)
            result = sync_crm(adapter, full=full, progress=bar)
        except NotConfigured as error:
            raise CommandError(error.message) from None
        except BudgetExhausted as error:
            bar.finish()
            raise CommandError(
                f"Stopped: no CRM request allowed for {error.retry_after:.0f}s; try later."
            ) from None
        except errors.CrmError as error:
            bar.finish()
            raise CommandError(f"Stopped: {error.message}") from None
        bar.finish()
        if result is None:
            raise CommandError("Another CRM sync is running; try again when it has finished.")
        self.stdout.write(
            f"{result.source}: {result.api_calls} API calls; rows {result.inserted} inserted, "
            f"{result.updated} updated, {result.deleted} deleted; {result.unassigned} "
            f"activities on no mapped client; {result.skipped_activities} not client "
            "communication."
        )
        if refresh_metrics and result.changed:
            call_command("snapshot_metrics", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("CRM sync finished."))
