"""Clients and what the agency does for them: engagements, quarterly goals, touchpoints."""

import pghistory
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone

from godview.models import Pod, Staff, key_field


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Client(models.Model):
    """An account the agency serves, owned by one pod and one account manager."""

    key = key_field()
    name = models.CharField(max_length=200)
    pod = models.ForeignKey(Pod, on_delete=models.PROTECT, related_name="clients")
    account_manager = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="managed_clients"
    )
    industry = models.CharField(max_length=100, blank=True)
    asana_project_gid = models.CharField(
        "Asana project", max_length=64, null=True, blank=True, unique=True
    )
    crm_company_id = models.CharField(
        "CRM company id", max_length=64, null=True, blank=True, unique=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class DateRange(Func):
    """daterange(started_on, ended_on, '[]'): an engagement's inclusive days for the
    no-overlap exclusion constraint (an open end is an unbounded range)."""

    function = "daterange"
    output_field = DateRangeField()


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Engagement(models.Model):
    """One period of paid service; a fee change ends one engagement and starts the next."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="engagements")
    started_on = models.DateField()
    ended_on = models.DateField(
        null=True, blank=True, help_text="Last day of service, inclusive; empty while active."
    )
    monthly_fee = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["client", "started_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "started_on"], name="engagement_client_start_unique"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="engagement_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(monthly_fee__gte=0), name="engagement_fee_not_negative"
            ),
            ExclusionConstraint(
                name="engagement_no_overlap",
                expressions=[
                    (F("client"), RangeOperators.EQUAL),
                    (
                        DateRange("started_on", "ended_on", RangeBoundary(True, True)),
                        RangeOperators.OVERLAPS,
                    ),
                ],
            ),
        ]

    def __str__(self):
        end = self.ended_on.isoformat() if self.ended_on else "now"
        return f"{self.client} {self.started_on.isoformat()} to {end}"


class GoalStatus(models.TextChoices):
    OPEN = "open", "Open"
    MET = "met", "Met"
    MISSED = "missed", "Missed"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class ClientGoal(models.Model):
    """A quarterly (usually 90-day) goal; a decreasing goal simply has target < baseline."""

    key = key_field()
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="goals")
    title = models.CharField(max_length=300)
    metric = models.CharField(max_length=100, blank=True)
    baseline = models.DecimalField(max_digits=14, decimal_places=4)
    target = models.DecimalField(max_digits=14, decimal_places=4)
    current = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    starts_on = models.DateField()
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.OPEN)
    asana_gid = models.CharField(
        "Asana goal",
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        help_text="Set when the goal is synced from Asana.",
    )

    class Meta:
        ordering = ["client", "due_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__gte=F("starts_on")), name="client_goal_due_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status__in=GoalStatus.values), name="client_goal_status_valid"
            ),
        ]

    def __str__(self):
        return self.title


class Channel(models.TextChoices):
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    EMAIL = "email", "Email"
    CHAT = "chat", "Chat"
    REPORT = "report", "Report"
    OTHER = "other", "Other"


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound (from us)"
    INBOUND = "inbound", "Inbound (from the client)"


class TouchpointSource(models.TextChoices):
    MANUAL = "manual", "Logged by hand"
    BUNDLE = "bundle", "Agency bundle"
    HUBSPOT = "hubspot", "HubSpot"
    AMOCRM = "amocrm", "amoCRM"


class Touchpoint(models.Model):
    """One communication with the client; drives days inactive."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="touchpoints")
    staff = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="touchpoints"
    )
    occurred_on = models.DateField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    direction = models.CharField(
        max_length=10, choices=Direction.choices, default=Direction.OUTBOUND
    )
    summary = models.CharField(max_length=500, blank=True)
    source = models.CharField(
        max_length=10, choices=TouchpointSource.choices, default=TouchpointSource.MANUAL
    )
    external_id = models.CharField(max_length=100, null=True, blank=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the CRM confirmed the activity is gone."
    )

    class Meta:
        ordering = ["-occurred_on"]
        indexes = [models.Index(fields=["client", "occurred_on"])]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(external_id__isnull=False),
                name="touchpoint_source_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="touchpoint_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=Direction.values), name="touchpoint_direction_valid"
            ),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} with {self.client} on {self.occurred_on}"


# How activities synced from a CRM become touchpoints (integrations/crm applies them; the
# glossary shows them next to days inactive).
CRM_CONTACT_RULES = [
    "A completed call is a touchpoint, whoever called (a call the client made counts too).",
    "A meeting counts once it took place: not cancelled, not a no-show, not in the future.",
    "An outgoing email or chat message counts; an incoming email is kept as inbound and does "
    "not reset days inactive.",
    "Notes are internal and do not count, unless the agency switches CRM notes on.",
    "Tasks are never client communication.",
]

# The touchpoints that reset days inactive (DOMAIN.md): every call or meeting, whichever side
# started it, and any other channel only when outbound. The one definition of the rule.
COUNTS_FOR_CONTACT = (
    Q(channel__in=[Channel.CALL, Channel.MEETING]) | Q(direction=Direction.OUTBOUND)
) & Q(deleted_at__isnull=True)
