from django.contrib import admin

from .models import MetricRun


@admin.register(MetricRun)
class MetricRunAdmin(admin.ModelAdmin):
    """When each stored set of figures was computed; read-only (runs are made by the refresh
    after every write batch, the nightly job and `manage.py snapshot_metrics`)."""

    list_display = ["kind", "period", "start", "as_of", "computed_at", "seconds"]
    list_filter = ["kind", "period"]
    date_hierarchy = "as_of"
    ordering = ["-computed_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
