"""python manage.py demo_logins [--url URL]"""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from godview.models import Role
from integrations.demo import DEMO_LOGINS


class Command(BaseCommand):
    help = (
        "Give the three demo users (leadership, director, account manager) a password: "
        "DEMO_PASSWORD from the environment, else a new random one, and print the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="The site's address, to print."
        )

    def handle(self, *args, url, **options):
        users = get_user_model().objects.in_bulk(list(DEMO_LOGINS.values()), field_name="username")
        missing = [username for username in DEMO_LOGINS.values() if username not in users]
        if missing:
            raise CommandError(
                f"The demo users do not exist ({', '.join(missing)}); "
                "run `python manage.py seed_demo` first."
            )
        from_environment = bool(os.environ.get("DEMO_PASSWORD"))
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        with transaction.atomic():
            for username in DEMO_LOGINS.values():
                user = users[username]
                try:
                    validate_password(password, user)
                except ValidationError as error:
                    raise CommandError(
                        f"DEMO_PASSWORD is not accepted: {' '.join(error.messages)}"
                    ) from None
                user.set_password(password)
                user.save(update_fields=["password"])

        self.stdout.write(f"\nGodview demo: {url}\n")
        self.stdout.write(f"  {'Role':<17}{'Username':<28}Password")
        for role, username in DEMO_LOGINS.items():
            self.stdout.write(f"  {Role(role).label:<17}{username:<28}{password}")
        if from_environment:
            self.stdout.write("\nThe password is DEMO_PASSWORD from the environment.\n")
        else:
            self.stdout.write(
                "\nThe password was generated for this run; set DEMO_PASSWORD to choose one.\n"
            )
