"""Whether a source's connection works: a refused token (401/403) marks it broken with the
reason, and no sync calls that source again until someone fixes the token and uses "Try
again" on Connection statuses in the admin (no retry loop against a dead token)."""

from django.utils import timezone

from .models import ConnectionStatus


def mark_broken(source: str, reason: str) -> None:
    ConnectionStatus.objects.update_or_create(
        source=source, defaults={"broken_at": timezone.now(), "reason": reason[:2000]}
    )


def broken_reason(source: str) -> str | None:
    """Why the source's connection is broken (a sentence saying what to do), or None."""
    status = ConnectionStatus.objects.filter(source=source).first()
    if status is None or not status.is_broken:
        return None
    return (
        f"The {status.get_source_display()} connection is broken since "
        f"{status.broken_at:%Y-%m-%d %H:%M} UTC: {status.reason} Fix the token, then use "
        '"Try again" on Connection statuses in the admin.'
    )
