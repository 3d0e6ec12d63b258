"""What the integrations record about themselves: each run of an import or a sync."""

from django.db import models


class SyncSource(models.TextChoices):
    BUNDLE = "bundle", "Agency bundle"
    ASANA = "asana", "Asana"
    HUBSPOT = "hubspot", "HubSpot"
    AMOCRM = "amocrm", "amoCRM"


class SyncStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """One import or sync of a source, finished: when, whether it succeeded and what it
    wrote. Pages show each source's last success from these, and flag stale data."""

    source = models.CharField(max_length=10, choices=SyncSource.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=SyncStatus.choices)
    stats = models.JSONField(default=dict, blank=True, help_text="Rows created, updated...")
    error = models.TextField(blank=True, help_text="Why it failed (never a secret).")

    class Meta:
        ordering = ["-finished_at"]
        indexes = [models.Index(fields=["source", "status", "-finished_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__in=SyncSource.values), name="sync_run_source_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=SyncStatus.values), name="sync_run_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(finished_at__gte=models.F("started_at")),
                name="sync_run_finishes_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.get_source_display()} {self.status} {self.finished_at:%Y-%m-%d %H:%M}"
