"""The work: weekly goals, tasks and their deadlines, tactics, training and deals."""

import pghistory
import pgtrigger
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from clients.models import Client, ClientGoal, GoalStatus
from godview.models import Department, Staff, key_field

# Setting this transaction-local flag is how `workflows.services` (and only it) is let through
# the trigger that guards Task.committed_due_on.
COMMITTED_DUE_GUARD_FLAG = "godview.moving_committed_due_on"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class WeeklyGoal(models.Model):
    """What a staff member commits to achieve for one client in one week (Monday to Sunday)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="weekly_goals")
    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="weekly_goals")
    week_start = models.DateField(help_text="The Monday the week starts on.")
    description = models.CharField(max_length=500)
    client_goal = models.ForeignKey(
        ClientGoal,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="weekly_goals",
    )
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.OPEN)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Optimistic locking: every edit through workflows.services bumps it, and an edit made
    # from an older version is refused instead of overwriting someone else's change.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-week_start", "client"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "staff", "week_start", "description"],
                name="weekly_goal_natural_key",
            ),
            models.CheckConstraint(
                condition=Q(week_start__iso_week_day=1), name="weekly_goal_week_starts_monday"
            ),
            models.CheckConstraint(
                condition=Q(status__in=GoalStatus.values), name="weekly_goal_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["client", "week_start"])]

    def __str__(self):
        return f"{self.client}, week of {self.week_start}: {self.description}"


class TaskSource(models.TextChoices):
    BUNDLE = "bundle", "Agency bundle"
    ASANA = "asana", "Asana"
    MANUAL = "manual", "Entered by hand"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Task(models.Model):
    """A unit of work. Deadlines are fixed: `committed_due_on` moves only through an
    approved postponement (`workflows.services.approve_postponement`); a database trigger
    rejects any other change. `due_on` is the date in the source, which may drift."""

    key = key_field()
    source = models.CharField(max_length=10, choices=TaskSource.choices, default=TaskSource.MANUAL)
    asana_gid = models.CharField(max_length=64, null=True, blank=True, unique=True)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    assignee = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subtasks",
        help_text="The task this is a subtask of.",
    )
    name = models.CharField(max_length=500)
    created_on = models.DateField()
    source_modified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the source last changed it (Asana's modified_at)."
    )
    first_due_on = models.DateField(
        null=True,
        blank=True,
        help_text="The due date the task had when first seen: the original commitment.",
    )
    committed_due_on = models.DateField(
        null=True,
        blank=True,
        help_text="The first due date, moved only by approved postponements.",
    )
    due_on = models.DateField(
        null=True, blank=True, help_text="The due date in the source (for example Asana) now."
    )
    completed_on = models.DateField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["committed_due_on", "name"]
        indexes = [
            models.Index(fields=["client", "committed_due_on"]),
            models.Index(fields=["assignee", "committed_due_on"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(completed_on__isnull=True) | Q(completed_on__gte=F("created_on")),
                name="task_completed_after_created",
            ),
            models.CheckConstraint(
                condition=Q(first_due_on__isnull=True) | Q(committed_due_on__isnull=False),
                name="task_committed_set_with_first_due",
            ),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="committed_due_on_guard",
                operation=pgtrigger.Update,
                when=pgtrigger.Before,
                condition=pgtrigger.Q(
                    old__committed_due_on__isnull=False,
                    old__committed_due_on__df=pgtrigger.F("new__committed_due_on"),
                ),
                func=f"""
                IF coalesce(current_setting('{COMMITTED_DUE_GUARD_FLAG}', true), '') <> 'on' THEN
                    RAISE EXCEPTION 'committed_due_on of task % can only move through an '
                        'approved postponement', OLD.key
                        USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                RETURN NEW;
                """,
            ),
        ]

    def __str__(self):
        return self.name


class PostponementStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Postponement(models.Model):
    """A request to move a task's committed due date; only an approved one moves it."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="postponements")
    from_due_on = models.DateField()
    to_due_on = models.DateField()
    reason = models.TextField()
    status = models.CharField(
        max_length=10, choices=PostponementStatus.choices, default=PostponementStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        Staff,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postponements_requested",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        Staff,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="postponements_decided",
        help_text="Who approved (or declined) it.",
    )
    approved_on = models.DateField(null=True, blank=True, help_text="The day it was decided.")
    decision_note = models.TextField(blank=True, help_text="Why it was approved or declined.")

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PostponementStatus.values),
                name="postponement_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=PostponementStatus.APPROVED)
                | Q(approved_by__isnull=False, approved_on__isnull=False),
                name="postponement_approved_has_approver_and_date",
            ),
            models.UniqueConstraint(
                fields=["task", "approved_on", "to_due_on"],
                condition=Q(status="approved"),
                name="postponement_natural_key",
            ),
        ]

    def __str__(self):
        return f"{self.task}: {self.from_due_on} -> {self.to_due_on} ({self.status})"

    @property
    def days_added(self) -> int:
        return (self.to_due_on - self.from_due_on).days


class DeadlineChange(models.Model):
    """A due-date edit made in the source (Asana). It never moves the committed due date;
    unless an approved postponement to the same date covers it, it is an unapproved change."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="deadline_changes")
    changed_at = models.DateTimeField()
    from_due_on = models.DateField(null=True, blank=True)
    to_due_on = models.DateField(null=True, blank=True)
    changed_by_name = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=TaskSource.choices, default=TaskSource.ASANA)
    external_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["-changed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="deadline_change_source_external_id"
            )
        ]

    def __str__(self):
        return f"{self.task}: {self.from_due_on} -> {self.to_due_on}"


class TaskComment(models.Model):
    """A comment on a task in the source, kept for activity (who worked on what, when)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    created_at = models.DateTimeField()
    author_name = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=TaskSource.choices, default=TaskSource.ASANA)
    external_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="task_comment_source_external_id"
            )
        ]

    def __str__(self):
        return f"{self.task}: {self.author_name} {self.created_at:%Y-%m-%d}"


class TacticKind(models.TextChoices):
    TACTIC = "tactic", "Tactic"
    CRO_TEST = "cro_test", "CRO test"


class TacticOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    WIN = "win", "Win"
    LOSS = "loss", "Loss"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Tactic(models.Model):
    """Something tried for a client; a CRO test carries a statistical confidence."""

    key = key_field()
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="tactics")
    owner = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="tactics"
    )
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=TacticKind.choices, default=TacticKind.TACTIC)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(
        max_length=12, choices=TacticOutcome.choices, default=TacticOutcome.RUNNING
    )
    confidence = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="0-100, for CRO tests."
    )
    lift_pct = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-started_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="tactic_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=100),
                name="tactic_confidence_0_100",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=TacticKind.values), name="tactic_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=TacticOutcome.values), name="tactic_outcome_valid"
            ),
            # A running tactic has not ended; a decided one has an end date.
            models.CheckConstraint(
                condition=Q(outcome=TacticOutcome.RUNNING, ended_on__isnull=True)
                | (~Q(outcome=TacticOutcome.RUNNING) & Q(ended_on__isnull=False)),
                name="tactic_outcome_matches_end",
            ),
        ]

    def __str__(self):
        return self.name


class TrainingModule(models.Model):
    key = key_field()
    name = models.CharField(max_length=200)
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="training_modules",
        help_text="Empty: the module is for everyone.",
    )
    required = models.BooleanField(default=True)
    pass_score = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pass_score__gte=0, pass_score__lte=100),
                name="training_module_pass_score_0_100",
            )
        ]

    def __str__(self):
        return self.name


class TrainingResult(models.Model):
    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="training_results")
    module = models.ForeignKey(TrainingModule, on_delete=models.CASCADE, related_name="results")
    completed_on = models.DateField()
    score = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-completed_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "module", "completed_on"], name="training_result_natural_key"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=100), name="training_result_score_0_100"
            ),
        ]

    def __str__(self):
        return f"{self.staff} {self.module} {self.completed_on}: {self.score}"

    @property
    def passed(self) -> bool:
        return self.score >= self.module.pass_score


class ReviewDecision(models.TextChoices):
    KEEP_COURSE = "keep_course", "Keep course"
    PIVOT = "pivot", "Pivot"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class GrowthReview(models.Model):
    """The fortnightly growth review's decision for a client, kept as the client's history."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="growth_reviews")
    reviewed_on = models.DateField()
    decision = models.CharField(max_length=12, choices=ReviewDecision.choices)
    note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-reviewed_on", "-created_at"]
        indexes = [models.Index(fields=["client", "reviewed_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=ReviewDecision.values), name="growth_review_decision_valid"
            )
        ]

    def __str__(self):
        return f"{self.client} {self.reviewed_on}: {self.get_decision_display()}"


class ReminderKind(models.TextChoices):
    NO_GOALS = "no_goals", "Clients without goals this week"
    UNCLOSED_GOALS = "unclosed_goals", "Last week's goals not closed"
    SLA_BREACH = "sla_breach", "Client past the SLA"


class Reminder(models.Model):
    """A reminder email sent, kept so each cause is reminded of once."""

    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    recipient = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="reminders")
    cause = models.CharField(
        max_length=200, help_text="What it was about: a week, or a client and the breach's start."
    )
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "recipient", "cause"], name="reminder_once_per_cause"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ReminderKind.values), name="reminder_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.recipient} ({self.cause})"


class DealStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class DealSource(models.TextChoices):
    BUNDLE = "bundle", "Agency bundle"
    HUBSPOT = "hubspot", "HubSpot"
    AMOCRM = "amocrm", "amoCRM"


class Deal(models.Model):
    """A CRM sales opportunity."""

    key = key_field()
    name = models.CharField(max_length=300)
    owner = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    created_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    source = models.CharField(max_length=10, choices=DealSource.choices, default=DealSource.BUNDLE)
    external_id = models.CharField(max_length=64, null=True, blank=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the CRM confirmed the deal is gone."
    )

    class Meta:
        ordering = ["-created_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(external_id__isnull=False),
                name="deal_source_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DealStatus.values), name="deal_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=DealStatus.OPEN) | Q(closed_on__isnull=False),
                name="deal_closed_has_date",
            ),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=F("created_on")),
                name="deal_closed_after_created",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="deal_amount_not_negative"
            ),
        ]

    def __str__(self):
        return self.name
