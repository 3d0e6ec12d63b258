"""The agency itself: departments, pods, staff and the agency-wide settings."""

import zoneinfo
from decimal import Decimal

import pghistory
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

KEY_HELP = "The agency's own identifier for this row, used by bundle imports and exports."


def key_field():
    return models.CharField(max_length=100, unique=True, help_text=KEY_HELP)


class Department(models.Model):
    key = key_field()
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Pod(models.Model):
    """A small standing team (typically two account managers and a designer) owning clients."""

    key = key_field()
    name = models.CharField(max_length=200)
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="pods"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    DESIGNER = "designer", "Designer"
    DIRECTOR = "director", "Director"
    LEADERSHIP = "leadership", "Leadership"
    SALES = "sales", "Sales"
    OTHER = "other", "Other"


# Roles that see every pod's clients, people and tasks (DOMAIN.md, Access).
ROLES_SEEING_EVERYTHING = frozenset({Role.LEADERSHIP, Role.DIRECTOR})


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Staff(models.Model):
    """A person at the agency; logs in through the one-to-one auth user."""

    key = key_field()
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    pod = models.ForeignKey(
        Pod, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    active = models.BooleanField(default=True)
    started_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "staff"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="staff_email_unique_ci"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="staff_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(email__contains="@"), name="staff_email_has_at"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def sees_everything(self) -> bool:
        return self.role in ROLES_SEEING_EVERYTHING


def default_leaderboard_kpis() -> dict:
    """DOMAIN.md's default leaderboard: per role, KPI -> target, direction, weight."""
    return {
        Role.ACCOUNT_MANAGER.value: {
            "weekly_goal_completion_rate": {"target": 80, "direction": "higher", "weight": 30},
            "deadline_miss_rate": {"target": 10, "direction": "lower", "weight": 25},
            "avg_days_inactive": {"target": 7, "direction": "lower", "weight": 25},
            "training_completion_rate": {"target": 100, "direction": "higher", "weight": 20},
        },
        Role.DESIGNER.value: {
            "cro_win_rate": {"target": 30, "direction": "higher", "weight": 40},
            "deadline_miss_rate": {"target": 10, "direction": "lower", "weight": 40},
            "training_completion_rate": {"target": 100, "direction": "higher", "weight": 20},
        },
        Role.SALES.value: {
            "deal_win_rate": {"target": 30, "direction": "higher", "weight": 60},
            "training_completion_rate": {"target": 100, "direction": "higher", "weight": 40},
        },
    }


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as Europe/London.")


def validate_leaderboard_kpis(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Leaderboard KPIs must be an object keyed by role.")
    for role, kpis in value.items():
        if role not in Role.values:
            raise ValidationError(f"{role!r} is not a role ({', '.join(Role.values)}).")
        if not isinstance(kpis, dict) or not kpis:
            raise ValidationError(f"{role}: give at least one KPI as an object.")
        for kpi, spec in kpis.items():
            where = f"{role}.{kpi}"
            if not isinstance(spec, dict) or set(spec) != {"target", "direction", "weight"}:
                raise ValidationError(f"{where}: needs exactly target, direction and weight.")
            if spec["direction"] not in ("higher", "lower"):
                raise ValidationError(f"{where}: direction must be 'higher' or 'lower'.")
            for number in ("target", "weight"):
                if not isinstance(spec[number], int | float) or spec[number] < 0:
                    raise ValidationError(f"{where}: {number} must be a number >= 0.")


# The early-warning signals' weights (DOMAIN.md, Early warning), one field per signal code.
RISK_WEIGHT_FIELDS = (
    "risk_weight_sla_breach",
    "risk_weight_missed_deadlines",
    "risk_weight_weekly_goals_slipping",
    "risk_weight_goal_off_track",
    "risk_weight_fee_decrease",
    "risk_weight_tactic_losing_streak",
    "risk_weight_onboarding",
)


def percent_field(default: int, verbose_name: str, help_text: str):
    return models.PositiveSmallIntegerField(
        verbose_name,
        default=default,
        validators=[MaxValueValidator(100)],
        help_text=help_text,
    )


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent())
class AgencySettings(models.Model):
    """The one row of agency-wide settings; read through `AgencySettings.load()`."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    agency_name = models.CharField(max_length=200, default="Our agency")
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="The agency's time zone: decides what 'today' and every date means.",
    )
    sla_days = models.PositiveSmallIntegerField(
        "SLA days",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Service standard: a client with more days inactive than this is a breach.",
    )
    max_clients_per_am = models.PositiveSmallIntegerField(
        "max clients per account manager",
        default=12,
        validators=[MinValueValidator(1)],
        help_text="Span of control: an account manager with more active clients is over capacity.",
    )
    pace_at_risk_margin = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.25"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="A goal is at risk when progress is behind the expected pace by at most this.",
    )
    risk_weight_sla_breach = percent_field(
        25, "SLA breach", "Risk points when days inactive exceed the SLA."
    )
    risk_weight_missed_deadlines = percent_field(
        20, "missed deadlines", "Risk points when 2+ tasks due in the last 14 days are missed."
    )
    risk_weight_weekly_goals_slipping = percent_field(
        15,
        "weekly goals slipping",
        "Risk points when the last two ended weeks each had a missed goal or none.",
    )
    risk_weight_goal_off_track = percent_field(
        15, "goal off track", "Risk points when a client goal is off track."
    )
    risk_weight_fee_decrease = percent_field(
        10, "fee decrease", "Risk points when MRR is lower than 90 days ago."
    )
    risk_weight_tactic_losing_streak = percent_field(
        10, "tactic losing streak", "Risk points when the last three ended tactics were all losses."
    )
    risk_weight_onboarding = percent_field(
        5, "onboarding", "Risk points while the service period is younger than 90 days."
    )
    closed_week_edit_days = models.PositiveSmallIntegerField(
        "closed week edit days",
        default=7,
        validators=[MaxValueValidator(90)],
        help_text=(
            "For how many days after a week ends its account managers may still edit its "
            "weekly goals; after that only directors and leadership can."
        ),
    )
    leadership_postponements_auto_approved = models.BooleanField(
        "approve leadership's own postponements",
        default=True,
        help_text=(
            "When on, a postponement requested by leadership is approved at once; when off it "
            "waits for another director or leader like everyone's."
        ),
    )
    crm = models.CharField(
        "CRM",
        max_length=10,
        choices=[("", "None"), ("hubspot", "HubSpot"), ("amocrm", "amoCRM")],
        default="",
        blank=True,
        help_text="Which CRM the scheduled sync reads (its token comes from the environment).",
    )
    crm_notes_count_as_contact = models.BooleanField(
        "CRM notes count as contact",
        default=False,
        help_text="When on, notes logged in the CRM on a client are touchpoints too (off: "
        "notes are internal, not client communication).",
    )
    leaderboard_kpis = models.JSONField(
        "leaderboard KPIs",
        default=default_leaderboard_kpis,
        validators=[validate_leaderboard_kpis],
        help_text=(
            "Per role, each KPI's target, direction ('higher' or 'lower' is better) and weight."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "agency settings"
        verbose_name_plural = "agency settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="agency_settings_single_row"),
            models.CheckConstraint(
                condition=models.Q(sla_days__gte=1), name="agency_settings_sla_days_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(max_clients_per_am__gte=1),
                name="agency_settings_max_clients_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(pace_at_risk_margin__gte=0, pace_at_risk_margin__lte=1),
                name="agency_settings_pace_margin_0_1",
            ),
            *[
                models.CheckConstraint(
                    condition=models.Q(**{f"{field}__lte": 100}),
                    name=f"agency_settings_{field}_le_100",
                )
                for field in RISK_WEIGHT_FIELDS
            ],
        ]

    def __str__(self):
        return "Agency settings"

    @classmethod
    def load(cls) -> "AgencySettings":
        """The settings row, created with defaults (and the TIME_ZONE setting) on first use."""
        obj, _ = cls.objects.get_or_create(
            id=cls.SINGLETON_ID, defaults={"time_zone": settings.TIME_ZONE}
        )
        return obj

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def risk_weights(self) -> dict[str, int]:
        """Signal code (DOMAIN.md) -> weight."""
        return {
            field.removeprefix("risk_weight_"): getattr(self, field) for field in RISK_WEIGHT_FIELDS
        }


# The token hash and the once-a-minute last_used_at bumps stay out of the audit history;
# issuing, renaming and revoking are recorded.
@pghistory.track(
    pghistory.InsertEvent(), pghistory.UpdateEvent(), exclude=["token_hash", "last_used_at"]
)
class ApiToken(models.Model):
    """A personal API token (`Authorization: Bearer ...`): its secret is shown once, when it is
    issued, and only the secret's sha256 is kept. Issue and revoke it through services."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, such as 'Looker'.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=8, editable=False, help_text="The secret's first characters, to recognise it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
