"""python manage.py crm_sandbox hubspot|amocrm [--port P] [--activity SECONDS] [--days N]"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from clients.models import Client
from godview.models import AgencySettings
from integrations.crm.amocrm_sandbox import AmoCRMSandbox
from integrations.crm.demo_crm import DemoActivity, build_demo_crm, summary_lines
from integrations.crm.hubspot_sandbox import HubSpotSandbox

FAKE_TOKEN = "sandbox-token"  # noqa: S105 - only this sandbox accepts it
DEFAULT_PORTS = {"hubspot": 8766, "amocrm": 8767}
NAMES = {"hubspot": "HubSpot", "amocrm": "amoCRM"}


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Serve a local HubSpot or amoCRM (a sandbox speaking its wire format) holding the "
        "agency in the database: an owner per staff member, a company per client, the last "
        "N days of client communication from the touchpoints (plus notes and cancelled "
        "meetings that are no contact) and the deals. Maps the database to it (clients' CRM "
        "company, the chosen CRM, touchpoints and deals), prints the settings a sync needs, "
        "and runs until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("crm", choices=sorted(DEFAULT_PORTS), help="Which CRM to serve.")
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument(
            "--port", type=int, help="Port (HubSpot 8766, amoCRM 8767; 0: any free one)."
        )
        parser.add_argument(
            "--days",
            type=positive_int,
            default=60,
            help="Copy the touchpoints of the last N days as CRM activities (60).",
        )
        parser.add_argument(
            "--activity",
            type=non_negative,
            default=0,
            metavar="SECONDS",
            help="Every SECONDS, log a call or an email with a random client (now and then "
            "cancel a booked meeting), so repeated syncs see changes.",
        )
        parser.add_argument("--seed", type=int, default=0, help="Random seed (0).")

    def handle(self, *args, crm, host, port, days, activity, seed, **options):
        if not Client.objects.exists():
            raise CommandError("The database has no clients: run `manage.py seed_demo` first.")
        port = DEFAULT_PORTS[crm] if port is None else port
        zone = AgencySettings.load().time_zone
        if crm == "hubspot":
            # start=None: the portal's clock is the wall clock.
            sandbox = HubSpotSandbox(
                token=FAKE_TOKEN, host=host, port=port, start=None, timezone=zone
            )
        else:
            # No rate limit here: the sync keeps to AMOCRM_REQUESTS_PER_SECOND on its side.
            sandbox = AmoCRMSandbox(
                token=FAKE_TOKEN,
                host=host,
                port=port,
                start=timezone.now(),
                timezone=zone,
                requests_per_second=None,
            )
        try:
            sandbox.start()
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
        try:
            built = build_demo_crm(sandbox, crm, days=days, seed=seed)
            self.describe(sandbox, built)
            self.serve(sandbox, built, activity, seed)
        finally:
            sandbox.stop()

    def describe(self, sandbox, built):
        out, name = self.stdout.write, NAMES[built.source]
        out(f"{name} sandbox at {sandbox.base_url}:")
        for line in summary_lines(built):
            out(f"  {line}")
        r = built.remapped
        out(
            f"Mapped the database to it: {r['clients']} clients got their company id, "
            f"{r['touchpoints']} touchpoints and {r['deals']} deals now point at their "
            f"{name} record (source={built.source}), so a sync counts nothing twice; "
            f"{name} is the CRM chosen in Agency settings."
        )
        detached = r["touchpoints_detached"] + r["deals_detached"]
        if detached:
            out(
                f"{detached} rows pointing at an earlier sandbox's records were detached "
                "(kept, no longer synced)."
            )
        prefix = built.source.upper()
        out("\nIn another terminal, export these and run the sync (web and worker too):\n")
        out(f"  export {prefix}_BASE_URL={sandbox.base_url}")
        out(f"  export {prefix}_ACCESS_TOKEN={FAKE_TOKEN}")
        out("  python manage.py sync_crm --refresh-metrics")
        out(
            "\n(The token is a fake only this sandbox accepts: printing it is harmless. The "
            "next sync reads the whole sandbox once.)"
        )
        out("Press Ctrl-C to stop.")

    def serve(self, sandbox, built, activity, seed):
        """Until Ctrl-C; with ``activity``, people log calls and emails every so often."""
        people = DemoActivity(sandbox, built, seed) if activity else None
        next_at = time.monotonic() + activity
        try:
            while True:
                time.sleep(min(activity, 0.5) if activity else 0.5)
                if people is None or time.monotonic() < next_at:
                    continue
                next_at = time.monotonic() + activity
                for line in people.step(now=timezone.now()):
                    self.stdout.write(f"[activity] {line}")
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
