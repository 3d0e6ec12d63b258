from django.contrib import admin

from .models import SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Every import and sync that finished (read-only): when, whether it worked, what it
    wrote, and why it failed."""

    list_display = ["source", "status", "started_at", "finished_at", "error"]
    list_filter = ["source", "status"]
    date_hierarchy = "finished_at"
    readonly_fields = ["source", "status", "started_at", "finished_at", "stats", "error"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
