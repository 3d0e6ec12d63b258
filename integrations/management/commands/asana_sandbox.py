"""python manage.py asana_sandbox [--port 8765] [--token T] [--activity SECONDS]"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from clients.models import Client
from godview.agency import agency_today
from integrations.asana.demo_workspace import DemoActivity, build_demo_workspace
from integrations.asana.sandbox import AsanaSandbox

FAKE_TOKEN = "sandbox-token"  # noqa: S105 - only this sandbox accepts it


def non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Serve a local Asana (the sandbox) holding the agency in the database: a project per "
        "client, a user per staff member, the open and recent tasks and the open goals. Maps "
        "the database to it (clients, tasks and goals get the sandbox's gids) and prints the "
        "ASANA_* settings a sync needs. Runs until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8765, help="Port (8765).")
        parser.add_argument(
            "--token",
            help="The token the sandbox accepts (default: ASANA_ACCESS_TOKEN from the "
            f"environment if set, else {FAKE_TOKEN!r}).",
        )
        parser.add_argument(
            "--activity",
            type=non_negative,
            default=0,
            metavar="SECONDS",
            help="Every SECONDS, edit a few tasks as people would (move a due date, complete "
            "one, comment on one) and deliver webhooks, so repeated syncs see changes.",
        )
        parser.add_argument(
            "--recent-days",
            type=int,
            default=30,
            help="Also copy tasks completed in the last N days (30).",
        )
        parser.add_argument("--seed", type=int, help="Random seed for --activity.")

    def handle(self, *args, host, port, token, activity, recent_days, seed, **options):
        if not Client.objects.exists():
            raise CommandError("The database has no clients: run `manage.py seed_demo` first.")
        token_from_env = token is None and bool(settings.ASANA_ACCESS_TOKEN)
        token = token or settings.ASANA_ACCESS_TOKEN or FAKE_TOKEN
        sandbox = AsanaSandbox(token=token, host=host, port=port, start=timezone.now())
        try:
            sandbox.start()
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
        try:
            workspace = build_demo_workspace(
                sandbox,
                today=agency_today(),
                recent_days=recent_days,
                workspace_gid=settings.ASANA_WORKSPACE_GID,
            )
            self.describe(sandbox, workspace, token, token_from_env)
            self.serve(sandbox, activity, seed)
        finally:
            sandbox.stop()

    def describe(self, sandbox, workspace, token, token_from_env):
        out = self.stdout.write
        out(
            f"Asana sandbox at {sandbox.base_url}: {len(workspace.projects)} projects, "
            f"{len(workspace.users)} users, {len(workspace.tasks)} tasks "
            f"({workspace.subtasks} subtasks), {len(workspace.goals)} goals."
        )
        remapped = workspace.remapped
        out(
            f"Mapped the database to it: {remapped['clients']} clients, {remapped['tasks']} "
            f"tasks (now source=asana) and {remapped['goals']} goals got new gids."
        )
        out("\nRun the sync (web, worker, sync_asana) with:\n")
        out(f"  export ASANA_BASE_URL={sandbox.base_url}")
        if token_from_env:
            out("  # ASANA_ACCESS_TOKEN: the one already in your environment (not printed)")
        else:
            out(f"  export ASANA_ACCESS_TOKEN={token}")
        out(f"  export ASANA_WORKSPACE_GID={workspace.workspace_gid}")
        # Asana's free plan allows 150 requests a minute; the sandbox has no limit, so let a
        # first sync of the whole demo finish in seconds rather than minutes.
        out("  export ASANA_REQUESTS_PER_MINUTE=6000")
        if not token_from_env and token == FAKE_TOKEN:
            out("\n(The token is a fake only this sandbox accepts: printing it is harmless.)")
        out("Press Ctrl-C to stop.")

    def serve(self, sandbox, activity, seed):
        """Until Ctrl-C; with ``activity``, people edit tasks every so often."""
        people = DemoActivity(sandbox, seed) if activity else None
        next_at = time.monotonic() + activity
        try:
            while True:
                time.sleep(min(activity, 0.5) if activity else 0.5)
                if people is None or time.monotonic() < next_at:
                    continue
                next_at = time.monotonic() + activity
                for line in people.step(now=timezone.now()):
                    self.stdout.write(f"[activity] {line}")
                for hook, status in sandbox.deliver_webhook_events(timeout=5):
                    self.stdout.write(f"[webhook] delivered to {hook}: {status or 'unreachable'}")
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
