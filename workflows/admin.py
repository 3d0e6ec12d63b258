"""Admin for the work: weekly goals, tasks and deadlines, tactics, training and deals."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import F, Q

from godview.access import staff_of
from godview.agency import agency_today

from .models import (
    DeadlineChange,
    Deal,
    GrowthReview,
    Postponement,
    PostponementStatus,
    Reminder,
    Tactic,
    Task,
    TrainingModule,
    TrainingResult,
    WeeklyGoal,
)
from .services import PostponementError, approve_postponement

DEADLINES_ARE_FIXED = (
    "Deadlines are fixed: the committed due date moves only through an approved postponement "
    '(Postponements, then the action "Approve selected postponements"). The first and committed '
    "due dates are taken from the due date the first time the task has one; editing the due "
    "date afterwards, here or in Asana, does not move them."
)


@admin.register(WeeklyGoal)
class WeeklyGoalAdmin(admin.ModelAdmin):
    list_display = ["week_start", "client", "staff", "description", "client_goal", "status"]
    list_filter = ["status", "client__pod", ("staff", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["client", "staff", "client_goal"]
    search_fields = ["description", "client__name", "staff__name"]
    autocomplete_fields = ["client", "staff", "client_goal"]
    date_hierarchy = "week_start"


class DriftedFilter(admin.SimpleListFilter):
    title = "due date drifted"
    parameter_name = "drifted"

    # The source's due date differs from the committed one (a missing date on one side counts).
    DRIFTED = (
        Q(due_on__lt=F("committed_due_on"))
        | Q(due_on__gt=F("committed_due_on"))
        | Q(due_on__isnull=True, committed_due_on__isnull=False)
        | Q(due_on__isnull=False, committed_due_on__isnull=True)
    )
    NOT_DRIFTED = Q(due_on=F("committed_due_on")) | Q(
        due_on__isnull=True, committed_due_on__isnull=True
    )

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.DRIFTED)
        if self.value() == "no":
            return queryset.filter(self.NOT_DRIFTED)
        return queryset


class ReadOnlyInline(admin.TabularInline):
    """Rows to read on their parent's page; they are written elsewhere."""

    extra = 0

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TaskPostponementInline(ReadOnlyInline):
    model = Postponement
    fields = ["from_due_on", "to_due_on", "status", "reason", "requested_by", "approved_by"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("task", "requested_by", "approved_by")


class TaskDeadlineChangeInline(ReadOnlyInline):
    model = DeadlineChange
    fields = ["changed_at", "from_due_on", "to_due_on", "changed_by_name", "source"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("task")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    ordering = ["-committed_due_on", "name"]  # the latest deadlines first
    list_display = [
        "name",
        "client",
        "assignee",
        "committed_due_on",
        "current_due_on",
        "drifted",
        "completed_on",
        "source",
    ]
    list_filter = [
        DriftedFilter,
        ("completed_on", admin.EmptyFieldListFilter),
        "source",
        "client__pod",
        ("deleted_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["client", "assignee"]
    search_fields = ["name", "key", "asana_gid", "client__name", "assignee__name"]
    autocomplete_fields = ["client", "assignee"]
    date_hierarchy = "committed_due_on"
    readonly_fields = ["first_due_on", "committed_due_on"]
    fieldsets = [
        (None, {"fields": ["key", "name", "client", "assignee", "source", "asana_gid"]}),
        (
            "Deadline",
            {
                "description": DEADLINES_ARE_FIXED,
                "fields": ["first_due_on", "committed_due_on", "due_on", "completed_on"],
            },
        ),
        ("Record", {"fields": ["created_on", "deleted_at"]}),
    ]
    inlines = [TaskPostponementInline, TaskDeadlineChangeInline]

    @admin.display(description="Due date in source", ordering="due_on")
    def current_due_on(self, obj):
        return obj.due_on

    @admin.display(boolean=True, description="Drifted")
    def drifted(self, obj):
        return obj.due_on != obj.committed_due_on

    def save_model(self, request, obj, form, change):
        # DOMAIN.md: the committed due date is the due date the task had when first seen.
        # Setting it from empty is the one write the database guard allows.
        if obj.first_due_on is None and obj.due_on is not None:
            obj.first_due_on = obj.committed_due_on = obj.due_on
        super().save_model(request, obj, form, change)


class PostponementForm(forms.ModelForm):
    def clean_status(self):
        status = self.cleaned_data["status"]
        if status == PostponementStatus.APPROVED:
            raise ValidationError(
                'Approve it with the action "Approve selected postponements" on the list of '
                "postponements: that also moves the task's committed due date."
            )
        if status == PostponementStatus.DECLINED:
            raise ValidationError(
                "Decline it from the Postponements page of the site, which records who declined "
                "it and why."
            )
        return status


@admin.register(Postponement)
class PostponementAdmin(admin.ModelAdmin):
    form = PostponementForm
    list_display = [
        "task",
        "from_due_on",
        "to_due_on",
        "days_added",
        "status",
        "requested_by",
        "requested_at",
        "approved_by",
        "approved_on",
    ]
    list_filter = ["status", "task__client__pod"]
    list_select_related = ["task", "requested_by", "approved_by"]
    search_fields = ["task__name", "task__key", "task__client__name", "reason"]
    autocomplete_fields = ["task", "requested_by"]
    date_hierarchy = "requested_at"
    fields = [
        "task",
        "from_due_on",
        "to_due_on",
        "reason",
        "status",
        "requested_by",
        "approved_by",
        "approved_on",
        "decision_note",
    ]
    actions = ["approve"]

    @admin.display(description="Days added")
    def days_added(self, obj):
        return obj.days_added

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["status", "approved_by", "approved_on"]
        if obj.status != PostponementStatus.REQUESTED:
            return [
                "task",
                "from_due_on",
                "to_due_on",
                "status",
                "approved_by",
                "approved_on",
                "decision_note",
            ]
        return ["approved_by", "approved_on", "decision_note"]

    def has_delete_permission(self, request, obj=None):
        # Deleting an approved postponement would leave the task's committed date behind.
        if obj is not None and obj.status == PostponementStatus.APPROVED:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # The bulk delete cannot tell approved postponements apart; delete one at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Approve selected postponements")
    def approve(self, request, queryset):
        approver = staff_of(request.user)
        if approver is None or not approver.active:
            self.message_user(
                request,
                "Approving needs an active staff record linked to your login; add one under "
                "Staff first.",
                messages.ERROR,
            )
            return
        today = agency_today()
        approved = 0
        for postponement in queryset.select_related("task"):
            try:
                approve_postponement(postponement=postponement, approver=approver, on=today)
            except PostponementError as error:
                self.message_user(request, f"{postponement}: {error}", messages.ERROR)
            else:
                approved += 1
        if approved:
            self.message_user(
                request,
                f"Approved {approved} postponement{'' if approved == 1 else 's'}; "
                "the tasks' committed due dates have moved.",
                messages.SUCCESS,
            )


@admin.register(GrowthReview)
class GrowthReviewAdmin(admin.ModelAdmin):
    list_display = ["client", "reviewed_on", "decision", "reviewed_by"]
    list_filter = ["decision", "client__pod"]
    list_select_related = ["client", "reviewed_by"]
    search_fields = ["client__name", "note"]
    autocomplete_fields = ["client", "reviewed_by"]
    date_hierarchy = "reviewed_on"


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """The reminder emails sent (read-only): each cause is reminded of once."""

    list_display = ["kind", "recipient", "cause", "sent_at"]
    list_filter = ["kind"]
    list_select_related = ["recipient"]
    search_fields = ["recipient__name", "recipient__email", "cause"]
    date_hierarchy = "sent_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DeadlineChange)
class DeadlineChangeAdmin(admin.ModelAdmin):
    list_display = ["task", "changed_at", "from_due_on", "to_due_on", "changed_by_name", "source"]
    list_filter = ["source", "task__client__pod"]
    list_select_related = ["task"]
    search_fields = ["task__name", "task__key", "changed_by_name", "external_id"]
    autocomplete_fields = ["task"]
    date_hierarchy = "changed_at"


@admin.register(Tactic)
class TacticAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "client",
        "owner",
        "kind",
        "started_on",
        "ended_on",
        "outcome",
        "confidence",
        "lift_pct",
    ]
    list_filter = ["kind", "outcome", "client__pod"]
    list_select_related = ["client", "owner"]
    search_fields = ["name", "key", "client__name", "owner__name"]
    autocomplete_fields = ["client", "owner"]
    date_hierarchy = "started_on"


@admin.register(TrainingModule)
class TrainingModuleAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "department", "required", "pass_score"]
    list_filter = ["required", "department"]
    list_select_related = ["department"]
    search_fields = ["name", "key"]
    autocomplete_fields = ["department"]


@admin.register(TrainingResult)
class TrainingResultAdmin(admin.ModelAdmin):
    list_display = ["staff", "module", "completed_on", "score", "passed"]
    list_filter = ["module", "staff__department"]
    list_select_related = ["staff", "module"]
    search_fields = ["staff__name", "module__name"]
    autocomplete_fields = ["staff", "module"]
    date_hierarchy = "completed_on"

    @admin.display(boolean=True, description="Passed")
    def passed(self, obj):
        return obj.passed


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "client", "status", "amount", "created_on", "closed_on"]
    list_filter = ["status", ("owner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["owner", "client"]
    search_fields = ["name", "key", "owner__name", "client__name"]
    autocomplete_fields = ["owner", "client"]
    date_hierarchy = "created_on"
