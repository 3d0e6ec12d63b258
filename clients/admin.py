"""Admin for clients and what the agency does for them."""

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from .models import Client, ClientGoal, Engagement, Touchpoint

RECENT_TOUCHPOINTS = 20


class EngagementInline(admin.TabularInline):
    model = Engagement
    fields = ["started_on", "ended_on", "monthly_fee"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("client")


class ClientGoalInline(admin.TabularInline):
    model = ClientGoal
    fields = [
        "key",
        "title",
        "metric",
        "baseline",
        "target",
        "current",
        "starts_on",
        "due_on",
        "status",
    ]
    ordering = ["-due_on"]
    extra = 0
    show_change_link = True


class RecentTouchpointsFormSet(BaseInlineFormSet):
    """Only the latest touchpoints: a long-standing client has hundreds."""

    def get_queryset(self):
        if not hasattr(self, "_recent"):
            self._recent = super().get_queryset()[:RECENT_TOUCHPOINTS]
        return self._recent


class TouchpointInline(admin.TabularInline):
    """The latest touchpoints to read, and a row to log a new one by hand; an existing
    touchpoint is edited on its own page (most come from the CRM)."""

    model = Touchpoint
    formset = RecentTouchpointsFormSet
    verbose_name_plural = f"latest touchpoints (the {RECENT_TOUCHPOINTS} most recent)"
    fields = ["occurred_on", "channel", "direction", "staff", "summary"]
    ordering = ["-occurred_on", "-id"]
    autocomplete_fields = ["staff"]
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("client", "staff")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "pod", "account_manager", "industry", "created_at"]
    list_filter = ["pod", ("account_manager", admin.RelatedOnlyFieldListFilter), "industry"]
    list_select_related = ["pod", "account_manager"]
    search_fields = [
        "name",
        "key",
        "account_manager__name",
        "pod__name",
        "asana_project_gid",
        "crm_company_id",
    ]
    autocomplete_fields = ["pod", "account_manager"]
    readonly_fields = ["all_touchpoints"]
    fields = [
        "key",
        "name",
        "pod",
        "account_manager",
        "industry",
        "asana_project_gid",
        "crm_company_id",
        "all_touchpoints",
    ]
    inlines = [EngagementInline, ClientGoalInline, TouchpointInline]
    # Given the client being edited (None when adding): the Asana projects it may be mapped
    # to, as (gid, label). Set by integrations.asana.admin, since clients import nothing from
    # integrations; while unset, the Asana project is typed in.
    asana_project_choices = None

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if self.asana_project_choices is not None and "asana_project_gid" in form.base_fields:
            form.base_fields["asana_project_gid"] = forms.TypedChoiceField(
                label="Asana project",
                choices=[("", "---------"), *self.asana_project_choices(obj)],
                required=False,
                empty_value=None,
                help_text="The workspace's projects that no other client has; only a client "
                "with a project is synced from Asana.",
            )
        return form

    @admin.display(description="Touchpoints")
    def all_touchpoints(self, obj):
        if obj.pk is None:
            return "-"
        url = reverse("admin:clients_touchpoint_changelist")
        return format_html('<a href="{}?client__id__exact={}">All touchpoints</a>', url, obj.pk)


@admin.register(Engagement)
class EngagementAdmin(admin.ModelAdmin):
    list_display = ["client", "started_on", "ended_on", "monthly_fee"]
    list_filter = ["client__pod", ("ended_on", admin.EmptyFieldListFilter)]
    list_select_related = ["client"]
    search_fields = ["client__name", "client__key"]
    autocomplete_fields = ["client"]
    date_hierarchy = "started_on"


@admin.register(ClientGoal)
class ClientGoalAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "client",
        "metric",
        "baseline",
        "target",
        "current",
        "starts_on",
        "due_on",
        "status",
    ]
    list_filter = ["status", "client__pod"]
    list_select_related = ["client"]
    search_fields = ["title", "key", "metric", "client__name"]
    autocomplete_fields = ["client"]
    date_hierarchy = "due_on"


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    list_display = ["occurred_on", "client", "channel", "direction", "staff", "source", "summary"]
    list_filter = ["channel", "direction", "source", "client__pod"]
    list_select_related = ["client", "staff"]
    search_fields = ["client__name", "summary", "external_id"]
    autocomplete_fields = ["client", "staff"]
    date_hierarchy = "occurred_on"
