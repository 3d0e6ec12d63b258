"""Sync Asana by hand, in the foreground, with a progress bar: what the scheduled Celery tasks
do, one project after another in this process."""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from integrations.asana import sync
from integrations.asana.client import AsanaError, ConnectionBroken, NotConfigured
from integrations.management.progress import ProgressBar
from integrations.ratelimit import BudgetExhausted

BUDGET_WAIT_SECONDS = 15 * 60


def summary(results: list[sync.ProjectResult], processed: int) -> tuple[list[str], list[str]]:
    """The summary lines, and one line per failed project."""
    failed = [result for result in results if result.error]
    synced = len(results) - len(failed)
    skipped = max(0, processed - len(results))

    def total(attribute: str) -> int:
        return sum(getattr(result, attribute) for result in results)

    lines = [
        f"Projects: {synced} synced, {skipped} skipped (another run held them), "
        f"{len(failed)} failed.",
        f"API calls: {total('api_calls')}.",
        f"Rows: {total('inserted')} inserted, {total('updated')} updated, "
        f"{total('deleted')} deleted; {total('deadline_changes')} deadline changes, "
        f"{total('comments')} comments, {total('goals')} goals.",
    ]
    errors = [
        f"{result.name or result.project} ({result.project}): {result.error}" for result in failed
    ]
    return lines, errors


class Command(BaseCommand):
    help = (
        "Sync Asana now, in the foreground: every project a client names (or one, --project), "
        "only what changed since the last sync unless --full. Exits 1 when a project failed "
        "or the connection is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--full",
            action="store_true",
            help="re-list every task of each project, not only those changed since the last sync",
        )
        parser.add_argument("--project", metavar="GID", help="sync only this Asana project")
        parser.add_argument(
            "--refresh-metrics",
            action="store_true",
            help="recompute the god-view's figures here when anything changed (for a site "
            "running without a Celery worker, such as make demo)",
        )

    def handle(self, *args, full, project, refresh_metrics=False, **options):
        bar = ProgressBar(self.stderr)
        try:
            # In the foreground, wait for the shared request budget as long as it takes.
            results = sync.sync_all(
                full=full,
                projects=[project] if project else None,
                progress=bar,
                acquire_timeout=BUDGET_WAIT_SECONDS,
            )
        except NotConfigured as error:
            raise CommandError(str(error)) from None
        except ConnectionBroken as error:
            bar.finish()
            raise CommandError(f"Stopped: {error}") from None
        except BudgetExhausted as error:
            bar.finish()
            raise CommandError(
                f"Stopped: no Asana request allowed for {error.retry_after:.0f}s "
                "(ASANA_REQUESTS_PER_MINUTE is used up by other runs); try again later."
            ) from None
        except AsanaError as error:
            bar.finish()
            raise CommandError(f"Stopped: Asana answered with an error: {error}") from None
        bar.finish()
        lines, errors = summary(results, bar.total)
        for line in lines:
            self.stdout.write(line)
        for line in errors:
            self.stdout.write(self.style.ERROR(f"Failed: {line}"))
        if errors:
            raise CommandError(
                f"{len(errors)} project{'' if len(errors) == 1 else 's'} failed (see above)."
            )
        if refresh_metrics and any(r.changed or r.deadline_changes or r.goals for r in results):
            self.stdout.write("Refreshing the figures...")
            call_command("snapshot_metrics", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Asana sync finished."))
