from django.contrib import admin

from .asana import admin as asana_admin  # noqa: F401  (registers the Asana models)
from .crm import admin as crm_admin  # noqa: F401  (registers the CRM models)
from .models import SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Every import and sync that finished (read-only): when, whether it worked, what it
    covered and wrote, and why it failed."""

    list_display = ["source", "scope", "status", "started_at", "finished_at", "api_calls", "error"]
    list_filter = ["source", "status"]
    search_fields = ["scope"]
    date_hierarchy = "finished_at"
    readonly_fields = [
        "source",
        "scope",
        "status",
        "started_at",
        "finished_at",
        "api_calls",
        "stats",
        "error",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
