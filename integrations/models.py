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
    scope = models.CharField(
        max_length=64, blank=True, help_text="What the run covered, e.g. an Asana project gid."
    )
    api_calls = models.PositiveIntegerField(default=0)
    stats = models.JSONField(default=dict, blank=True, help_text="Rows created, updated...")
    error = models.TextField(blank=True, help_text="Why it failed (never a secret).")

    class Meta:
        ordering = ["-finished_at"]
        indexes = [
            models.Index(fields=["source", "status", "-finished_at"]),
            models.Index(fields=["source", "scope", "-finished_at"]),
        ]
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


class ConnectionStatus(models.Model):
    """Whether a source's connection works. A 401 marks it broken with the reason: the syncs
    stop calling it (no retry loop) until someone fixes the token and presses "Try again"
    in the admin, or a manual sync succeeds."""

    source = models.CharField(max_length=10, choices=SyncSource.choices, unique=True)
    broken_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="What went wrong (never a secret).")

    class Meta:
        verbose_name_plural = "connection statuses"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__in=SyncSource.values), name="connection_source_valid"
            ),
        ]

    def __str__(self):
        state = "broken" if self.broken_at else "working"
        return f"{self.get_source_display()}: {state}"

    @property
    def is_broken(self) -> bool:
        return self.broken_at is not None


class AsanaProject(models.Model):
    """An Asana project of the workspace, as last listed, with the sync's state for it.

    Which client it belongs to lives on the client (`Client.asana_project_gid`, from the
    bundle or chosen in the admin); a project no client names is listed as unmapped and not
    synced. The task watermark is the largest `modified_at` the server reported, committed
    only when a listing finished; `listing_*` is the listing in progress, committed with each
    page, so a killed run resumes (or restarts from `listing_since`) without losing tasks."""

    gid = models.CharField("Asana gid", max_length=64, unique=True)
    name = models.CharField(max_length=500)
    workspace_gid = models.CharField(max_length=64)
    archived = models.BooleanField(default=False)
    seen_at = models.DateTimeField(help_text="When the project was last listed in Asana.")
    gone_at = models.DateTimeField(
        null=True, blank=True, help_text="When a listing no longer had it (deleted or no access)."
    )
    tasks_watermark = models.DateTimeField(
        null=True, blank=True, help_text="Largest task modified_at of the last finished listing."
    )
    tasks_listed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last finished listing started (our clock)."
    )
    listing_since = models.DateTimeField(null=True, blank=True)
    listing_started_at = models.DateTimeField(null=True, blank=True)
    listing_started = models.BooleanField(default=False)
    listing_offset = models.TextField(blank=True)
    listing_max_modified = models.DateTimeField(null=True, blank=True)
    events_sync_token = models.TextField(blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class AsanaUser(models.Model):
    """An Asana user of the workspace. Matched to staff by lower-cased email, never by name;
    one with no matching staff is listed as unmapped (their tasks keep no assignee)."""

    gid = models.CharField("Asana gid", max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    staff = models.ForeignKey(
        "godview.Staff",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="asana_users",
        help_text="Set from the email; change it only when the emails differ.",
    )
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name or self.email or self.gid


class AsanaWebhook(models.Model):
    """A webhook Asana delivers a project's changes to. The secret is Asana's handshake
    secret, used only to verify deliveries."""

    gid = models.CharField("Asana gid", max_length=64, unique=True)
    project = models.ForeignKey(AsanaProject, on_delete=models.CASCADE, related_name="webhooks")
    target = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Webhook {self.gid} on {self.project}"


class WebhookDelivery(models.Model):
    """One delivery, stored once: a replay of the same body is recognised by its digest and
    not processed again. The work (re-reading the tasks) is left to a Celery task."""

    webhook = models.ForeignKey(AsanaWebhook, on_delete=models.CASCADE, related_name="deliveries")
    digest = models.CharField(max_length=64, help_text="SHA-256 of the raw body.")
    received_at = models.DateTimeField(auto_now_add=True)
    events = models.PositiveIntegerField(default=0)
    task_gids = models.JSONField(default=list, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["webhook", "digest"], name="webhook_delivery_once")
        ]

    def __str__(self):
        return f"{self.webhook_id} {self.received_at:%Y-%m-%d %H:%M}"


class CrmSource(models.TextChoices):
    HUBSPOT = "hubspot", "HubSpot"
    AMOCRM = "amocrm", "amoCRM"


class CrmCompany(models.Model):
    """A company in the CRM, as last read. Which client it is lives on the client
    (`Client.crm_company_id`, from the bundle or confirmed in the admin); a company no client
    names is listed for someone to map, with suggestions, never matched silently."""

    source = models.CharField(max_length=10, choices=CrmSource.choices)
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=300, blank=True)
    domain = models.CharField(max_length=253, blank=True)
    seen_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.CharField(
        max_length=64, blank=True, help_text="The surviving company's id after a merge."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "CRM companies"
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="crm_company_identity")
        ]

    def __str__(self):
        return self.name or f"{self.get_source_display()} company {self.external_id}"


class CrmOwner(models.Model):
    """A CRM owner/user, matched to staff by lower-cased email (or by an admin's choice)."""

    source = models.CharField(max_length=10, choices=CrmSource.choices)
    external_id = models.CharField(max_length=64)
    email = models.CharField(max_length=254, blank=True)
    name = models.CharField(max_length=200, blank=True)
    archived = models.BooleanField(default=False)
    staff = models.ForeignKey(
        "godview.Staff",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="crm_owners",
        help_text="Set from the email; change it only when the emails differ.",
    )
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name = "CRM owner"
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="crm_owner_identity")
        ]

    def __str__(self):
        return self.name or self.email or self.external_id


class CrmCursor(models.Model):
    """Where the sync of one kind of CRM record stands: the watermark (server modification
    time, committed only once its whole window landed) and the backfill's checkpoint
    (committed with each page)."""

    source = models.CharField(max_length=10, choices=CrmSource.choices)
    object_type = models.CharField(max_length=32)
    watermark = models.DateTimeField(null=True, blank=True)
    backfill_cursor = models.TextField(blank=True)
    backfill_done = models.BooleanField(default=False)
    last_success_at = models.DateTimeField(null=True, blank=True)
    associations_checked_at = models.DateTimeField(null=True, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "object_type"], name="crm_cursor_identity")
        ]

    def __str__(self):
        return f"{self.get_source_display()} {self.object_type}"


class UnassignedActivity(models.Model):
    """A CRM activity that reached no mapped client (its company is unmapped, or it has
    none). Kept, so that mapping the company later turns it into a touchpoint."""

    source = models.CharField(max_length=10, choices=CrmSource.choices)
    external_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, help_text="call, meeting, email, note...")
    company_external_id = models.CharField(max_length=64, blank=True)
    owner_external_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField()
    channel = models.CharField(max_length=10)
    direction = models.CharField(max_length=10)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "unassigned activities"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="unassigned_activity_identity"
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.external_id}"
