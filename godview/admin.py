"""Admin for the agency itself: departments, pods, staff and the agency settings page."""

import json
import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse

from . import services
from .models import RISK_WEIGHT_FIELDS, AgencySettings, ApiToken, Department, Pod, Staff

admin.site.site_header = "Godview admin"
admin.site.site_title = "Godview admin"
admin.site.index_title = "Set up and maintain Godview"

TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "key"]
    search_fields = ["name", "key"]


@admin.register(Pod)
class PodAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "department"]
    list_filter = ["department"]
    list_select_related = ["department"]
    search_fields = ["name", "key"]
    autocomplete_fields = ["department"]


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "user", "role", "pod", "department", "active", "started_on"]
    list_filter = ["active", "role", "pod", "department"]
    list_select_related = ["user", "pod", "department"]
    search_fields = ["name", "email", "key", "user__username"]
    autocomplete_fields = ["user", "pod", "department"]
    actions = ["send_set_password_email"]

    @admin.action(description="Send set-password email")
    def send_set_password_email(self, request, queryset):
        sent = 0
        skipped = []
        for staff in queryset.select_related("user"):
            try:
                services.send_set_password_email(staff=staff, request=request)
            except services.SetPasswordEmailError as error:
                skipped.append(str(error))
            else:
                sent += 1
        self.message_user(
            request, f"Sent {sent} set-password email{'' if sent == 1 else 's'}.", messages.SUCCESS
        )
        if skipped:
            self.message_user(request, "Skipped: " + " ".join(skipped), messages.WARNING)


class IndentedJSONField(forms.JSONField):
    """The leaderboard KPIs shown indented, one KPI per block, so an admin can edit them."""

    def prepare_value(self, value):
        if isinstance(value, str):  # the text of a bound form being redisplayed
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class AgencySettingsForm(forms.ModelForm):
    leaderboard_kpis = IndentedJSONField(
        label="Leaderboard KPIs",
        widget=forms.Textarea(attrs={"rows": 24, "cols": 70, "class": "vLargeTextField"}),
        help_text=AgencySettings._meta.get_field("leaderboard_kpis").help_text,
    )

    class Meta:
        model = AgencySettings
        fields = [field.name for field in AgencySettings._meta.fields if field.editable]


@admin.register(AgencySettings)
class AgencySettingsAdmin(admin.ModelAdmin):
    """One settings page: the list redirects to the single row, which cannot be added twice
    or deleted (`AgencySettings.load()` creates it with defaults on first use)."""

    form = AgencySettingsForm

    readonly_fields = ["updated_at"]
    fieldsets = [
        ("General", {"fields": ["agency_name", "time_zone", "updated_at"]}),
        (
            "Service standard",
            {"fields": ["sla_days", "max_clients_per_am", "pace_at_risk_margin"]},
        ),
        (
            "Weekly goals and postponements",
            {"fields": ["closed_week_edit_days", "leadership_postponements_auto_approved"]},
        ),
        (
            "Risk weights",
            {
                "description": "Points each early-warning signal adds to a client's risk score "
                "(the score is capped at 100).",
                "fields": RISK_WEIGHT_FIELDS,
            },
        ),
        (
            "Leaderboard",
            {
                "description": 'Example: {"account_manager": {"deadline_miss_rate": '
                '{"target": 10, "direction": "lower", "weight": 25}}}.',
                "fields": ["leaderboard_kpis"],
            },
        ),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":
            kwargs["widget"] = forms.Select(choices=TIME_ZONE_CHOICES)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        settings = AgencySettings.load()
        return redirect(reverse("admin:godview_agencysettings_change", args=[settings.pk]))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Personal API tokens. Adding one asks only owner and name, issues it through the service
    and shows its secret once, as a message on the next page; it cannot be shown again (only
    its hash is stored). Tokens are revoked, not deleted, so the list keeps their record."""

    list_display = ["name", "owner", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["owner"]
    search_fields = ["name", "prefix", "owner__username", "owner__email"]
    autocomplete_fields = ["owner"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["owner", "name"]
        return ["owner", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["owner", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, secret = services.issue_api_token(user=obj.owner, name=obj.name)
        # The admin goes on with `obj` (history entry, redirect): make it the issued token.
        obj.pk = token.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            f"The secret of {token}: {secret} — copy it now, it will not be shown again. "
            "Send it as the header 'Authorization: Bearer <secret>'.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = sum(services.revoke_api_token(token=token) for token in queryset)
        self.message_user(
            request, f"Revoked {revoked} token{'' if revoked == 1 else 's'}.", messages.SUCCESS
        )
