"""Personal API tokens as the API reads them: from an `Authorization: Bearer ...` header to a user.

Only a token's sha256 is stored, so a token is found by the hash of what the client sends: the
database compares hashes, never secrets, and a leaked table reveals no usable token.
"""

import datetime
import hashlib

from django.utils import timezone

from .models import ApiToken

# last_used_at is a hint for the admin ("is this token still in use?"), not an access log:
# writing it at most once a minute keeps a busy integration from writing on every call.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
# token_urlsafe(32) gives 43 characters; anything much longer is not one of ours.
MAX_SECRET_LENGTH = 100


def secret_hash(secret: str) -> str:
    """The stored form of a token's secret: its sha256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def user_for_bearer(header_value: str | None):
    """The active user owning the unrevoked token in an Authorization header value
    ("Bearer <secret>"), or None. Records the token's use (at most once a minute)."""
    scheme, _, secret = (header_value or "").strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or len(secret) > MAX_SECRET_LENGTH:
        return None
    token = (
        ApiToken.objects.select_related("owner")
        .filter(token_hash=secret_hash(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.owner.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.owner
