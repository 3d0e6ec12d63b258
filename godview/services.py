"""Writes for the agency app: actions on people and settings that must happen in one place."""

import datetime
import secrets

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from . import tokens
from .models import AgencySettings, ApiToken, Staff

# Set while a metrics refresh is queued; the metrics.refresh task clears it when it starts.
METRICS_REFRESH_PENDING_KEY = "metrics:refresh-pending"


def schedule_metrics_refresh() -> bool:
    """Ask for a refresh of the current figures after a write (an import, a sync, a form),
    debounced: the writes within METRICS_REFRESH_DELAY_SECONDS (a setting) share one
    refresh. Returns whether a refresh was queued; inside a transaction it is queued once the
    transaction commits, so a rolled-back write queues nothing.

    It lives here, at the bottom of the import order, so that every app can ask for a
    refresh; the task is sent by name ("metrics.refresh", in metrics.tasks)."""
    from .celery import app

    delay = settings.METRICS_REFRESH_DELAY_SECONDS
    if not cache.add(METRICS_REFRESH_PENDING_KEY, 1, timeout=max(delay * 10, 60)):
        return False
    transaction.on_commit(lambda: app.send_task("metrics.refresh", countdown=delay))
    return True


# The secret's first characters, kept in clear so an admin can tell tokens apart: 8 of the
# 43 characters of token_urlsafe(32) leave about 210 bits unknown.
TOKEN_PREFIX_LENGTH = 8


class SetPasswordEmailError(ValueError):
    """The person cannot be sent a set-password link (inactive, or their login is disabled)."""


def send_set_password_email(
    *, staff: Staff, request: HttpRequest | None = None, base_url: str | None = None
) -> None:
    """Email an active staff member a one-time link to set their password.

    Unlike Django's PasswordResetForm this also reaches logins with an unusable password,
    which is how newly imported staff start. The link is made absolute from `request`, or
    from `base_url` ("https://godview.example.com") where there is no request. Raises
    SetPasswordEmailError when the staff member or their login is not active."""
    if request is None and not base_url:
        raise ValueError("Give a request or a base_url to make the link absolute.")
    if not staff.active:
        raise SetPasswordEmailError(f"{staff} is not active.")
    user = staff.user
    if not user.is_active:
        raise SetPasswordEmailError(f"{staff}'s login is disabled.")

    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    link = request.build_absolute_uri(path) if request is not None else base_url.rstrip("/") + path
    sent_at = timezone.now()
    body = render_to_string(
        "registration/set_password_email.txt",
        {
            "staff": staff,
            "login": user.get_username(),
            "agency_name": AgencySettings.load().agency_name,
            "link": link,
            "sent_at": sent_at,
            "expires_at": sent_at + datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT),
        },
    )
    send_mail("Set your Godview password", body, None, [staff.email])


@transaction.atomic
def issue_api_token(*, user, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token for user; returns it with its secret, which is stored only
    as a hash: show the secret once and never log it."""
    name = name.strip()
    if not name:
        raise ValueError("Give the token a name that says what it is for.")
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        owner=user,
        name=name,
        token_hash=tokens.secret_hash(secret),
        prefix=secret[:TOKEN_PREFIX_LENGTH],
    )
    return token, secret


def revoke_api_token(*, token: ApiToken) -> bool:
    """Revoke a token for good (it answers 401 from now on); returns False if it already was."""
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db(fields=["revoked_at"])
    return bool(revoked)
