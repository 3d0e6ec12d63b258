"""Stored metric results, so pages read computed numbers instead of raw history."""

from django.db import models
from django.db.models import F, Q

from metrics.registry import LEVELS


class MetricRun(models.Model):
    """One computation of every metric for a period [start, as_of], and when it was made.

    `current` runs hold the usual periods (this week, month, quarter, last quarter) as of the
    agency's today and are replaced on every refresh; `daily` runs are the day-by-day history
    (quarter to date as of each day) behind trend lines and risk-score history; `weekly` runs
    are each week's own figures (Monday to Sunday, or to today for this week) of the agency,
    its departments and pods, behind the by-week charts."""

    class Kind(models.TextChoices):
        CURRENT = "current", "Current figures"
        DAILY = "daily", "Daily snapshot"
        WEEKLY = "weekly", "Weekly figures"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    period = models.CharField(max_length=20, help_text="week, month, quarter or last_quarter")
    as_of = models.DateField()
    start = models.DateField()
    computed_at = models.DateTimeField()
    seconds = models.FloatField(help_text="How long the computation took.")

    class Meta:
        ordering = ["-as_of"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "period", "as_of", "start"], name="metric_run_identity"
            ),
            models.CheckConstraint(
                condition=models.Q(start__lte=models.F("as_of")),
                name="metric_run_start_before_as_of",
            ),
        ]
        indexes = [models.Index(fields=["kind", "period", "-computed_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.period} {self.start}..{self.as_of}"


class MetricRow(models.Model):
    """The metrics of one object (the agency, a department, pod, person or client) in a run.

    `values` holds every figure. The columns after it copy, when the row is stored, what the
    pages sort, filter and page by, so those reads are indexed SQL over the rows a page shows
    instead of casts of JSON over every row."""

    # No index of its own: metric_row_identity starts with the run. A second index on the run
    # alone tempted PostgreSQL, when a refresh's new run was not in its statistics yet, into
    # scanning a whole run for each row it looked up.
    run = models.ForeignKey(
        MetricRun, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    level = models.CharField(max_length=12, choices=[(level, level) for level in LEVELS])
    key = models.CharField(max_length=100, help_text="The object's key; 'agency' for the agency.")
    values = models.JSONField()
    risk_score = models.IntegerField(null=True, blank=True)
    days_inactive = models.IntegerField(null=True, blank=True)
    mrr = models.FloatField(null=True, blank=True)
    on_leaderboard = models.BooleanField(
        default=False, help_text="A person whose role has leaderboard KPIs."
    )
    leaderboard_rank = models.IntegerField(null=True, blank=True)
    tactic_wins = models.IntegerField(null=True, blank=True)
    tactics_ended = models.IntegerField(
        default=0, help_text="Tactics won, lost or inconclusive in the period."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "level", "key"], name="metric_row_identity")
        ]
        indexes = [
            # One object's history (trend lines, risk history): its rows in every run.
            models.Index(fields=["level", "key"], name="metric_row_object"),
            # The clients of a run by risk: the at-risk table in its default order, how many
            # are at risk, and how many fall in each band of risk score.
            models.Index(
                F("run"),
                F("risk_score").desc(nulls_last=True),
                F("days_inactive").desc(nulls_last=True),
                F("key"),
                name="metric_row_client_risk",
                condition=Q(level="client"),
            ),
        ]

    def __str__(self):
        return f"{self.level} {self.key}"
