"""Admin for the Asana connection: the workspace's projects (mapped to clients, synced on
demand, with webhooks), its users (matched to staff), the connection's state and the
webhooks' deliveries. What comes from Asana is read-only here; what people decide (which
client a project is, which staff member a user is) is editable."""

import logging

from celery import current_app
from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils.html import format_html
from kombu.exceptions import OperationalError

from clients.admin import ClientAdmin
from clients.models import Client

from ..models import AsanaProject, AsanaUser, AsanaWebhook, ConnectionStatus, WebhookDelivery
from .client import AsanaError

logger = logging.getLogger(__name__)


def _clients_naming(gid_ref):
    return Client.objects.filter(asana_project_gid=gid_ref)


def client_project_choices(client: Client | None) -> list[tuple[str, str]]:
    """The Asana projects `client` may be mapped to, as (gid, label): the listed projects
    that are not archived, not gone and named by no other client, plus the client's current
    project even when no listing has shown it yet (a gid from the bundle stays valid)."""
    current = client.asana_project_gid if client is not None else None
    others = _clients_naming(OuterRef("gid"))
    if client is not None and client.pk is not None:
        others = others.exclude(pk=client.pk)
    projects = AsanaProject.objects.filter(
        Q(archived=False, gone_at__isnull=True) | Q(gid=current or "")
    ).exclude(Exists(others))
    choices = []
    for project in projects.order_by("name"):
        notes = [project.gid]
        if project.archived:
            notes.append("archived")
        if project.gone_at:
            notes.append("gone from Asana")
        choices.append((project.gid, f"{project.name} ({', '.join(notes)})"))
    if current and all(gid != current for gid, _ in choices):
        choices.append((current, f"{current} (not listed in Asana yet)"))
    return choices


# The client form offers these projects (clients import nothing from integrations).
ClientAdmin.asana_project_choices = staticmethod(client_project_choices)


class MappedFilter(admin.SimpleListFilter):
    title = "client"
    parameter_name = "mapped"

    def lookups(self, request, model_admin):
        return [("yes", "Mapped to a client"), ("no", "Unmapped")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(mapped_client_id__isnull=False)
        if self.value() == "no":
            return queryset.filter(mapped_client_id__isnull=True)
        return queryset


def _send(request, task: str, project: AsanaProject, **kwargs) -> bool:
    """Queue a Celery task by name (integrations.tasks defines it; the admin does not import
    the sync); a broker that cannot be reached is reported, not raised."""
    try:
        current_app.send_task(task, args=[project.gid], kwargs=kwargs)
    except OperationalError as error:
        messages.error(request, f"{project.name}: could not queue the sync ({error}).")
        return False
    return True


class AsanaProjectForm(forms.ModelForm):
    """A project's page: everything from Asana read-only, and the client it belongs to."""

    client = forms.ModelChoiceField(
        queryset=Client.objects.none(),
        required=False,
        label="Client",
        help_text="The client whose work this project holds; only mapped projects are synced. "
        "Clients already mapped to another project are not offered.",
    )

    class Meta:
        model = AsanaProject
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        gid = self.instance.gid
        self.fields["client"].queryset = Client.objects.filter(
            Q(asana_project_gid__isnull=True) | Q(asana_project_gid="") | Q(asana_project_gid=gid)
        ).order_by("name")
        self.initial["client"] = _clients_naming(gid).values_list("pk", flat=True).first()


SYNC_STATE_FIELDS = [
    "tasks_watermark",
    "listing_since",
    "listing_started",
    "listing_offset",
    "listing_max_modified",
    "events_sync_token",
    "last_success_at",
    "last_full_sync_at",
    "last_reconciled_at",
    "last_error",
    "last_error_at",
]


@admin.register(AsanaProject)
class AsanaProjectAdmin(admin.ModelAdmin):
    """The workspace's projects as last listed. A project is synced once a client names it:
    choose the client here or on the client's page."""

    form = AsanaProjectForm
    list_display = [
        "name",
        "gid",
        "mapped_client",
        "archived",
        "last_success_at",
        "last_error_short",
        "last_error_at",
    ]
    list_filter = [MappedFilter, "archived"]
    search_fields = ["name", "gid"]
    actions = ["sync_now", "full_resync", "create_webhook", "remove_webhooks"]
    fieldsets = [
        (None, {"fields": ["name", "gid", "workspace_gid", "archived", "client"]}),
        ("Seen in Asana", {"fields": ["seen_at", "gone_at"]}),
        ("Sync state", {"fields": SYNC_STATE_FIELDS}),
    ]
    readonly_fields = ["name", "gid", "workspace_gid", "archived", "seen_at", "gone_at"]
    readonly_fields += SYNC_STATE_FIELDS

    def get_queryset(self, request):
        clients = _clients_naming(OuterRef("gid"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                mapped_client_id=Subquery(clients.values("pk")[:1]),
                mapped_client_name=Subquery(clients.values("name")[:1]),
            )
        )

    def has_add_permission(self, request):
        return False  # projects come from Asana's listing

    def has_delete_permission(self, request, obj=None):
        return False  # a project gone from Asana is marked gone by the listing, never deleted

    def has_sync_permission(self, request):
        return request.user.has_perm("integrations.change_asanaproject")

    @admin.display(description="Client", ordering="mapped_client_name")
    def mapped_client(self, obj):
        if obj.mapped_client_id is None:
            url = reverse("admin:integrations_asanaproject_change", args=[obj.pk])
            return format_html('<a href="{}">Unmapped: choose a client</a>', url)
        url = reverse("admin:clients_client_change", args=[obj.mapped_client_id])
        return format_html('<a href="{}">{}</a>', url, obj.mapped_client_name)

    @admin.display(description="Last error")
    def last_error_short(self, obj):
        return obj.last_error[:120]

    def save_model(self, request, obj, form, change):
        # Only the mapping is written: saving the project row itself could put back sync
        # state a concurrent run has just advanced.
        map_project(project=obj, client=form.cleaned_data["client"])

    @admin.action(description="Sync now", permissions=["sync"])
    def sync_now(self, request, queryset):
        self._queue(request, queryset, full=False)

    @admin.action(description="Full re-sync (re-read every task)", permissions=["sync"])
    def full_resync(self, request, queryset):
        self._queue(request, queryset, full=True)

    def _queue(self, request, queryset, *, full: bool):
        queued, unmapped = 0, []
        for project in queryset.order_by("name"):
            if project.mapped_client_id is None:
                unmapped.append(project.name)
                continue
            kwargs = {"full": True} if full else {}
            queued += _send(request, "asana.sync_project", project, **kwargs)
        if queued:
            what = "Full re-sync" if full else "Sync"
            messages.success(
                request, f"{what} queued for {queued} project{'' if queued == 1 else 's'}."
            )
        if unmapped:
            messages.warning(
                request,
                "Not synced, no client names them: " + ", ".join(unmapped) + ".",
            )

    @admin.action(description="Create webhook", permissions=["sync"])
    def create_webhook(self, request, queryset):
        from .webhooks import WebhookError, create_webhook

        created = 0
        for project in queryset.order_by("name"):
            try:
                create_webhook(project)
            except (WebhookError, AsanaError) as error:
                logger.warning(
                    "Creating a webhook for Asana project %s failed: %s", project.gid, error
                )
                messages.error(request, f"{project.name}: could not create a webhook: {error}")
            else:
                created += 1
        if created:
            messages.success(request, f"Created {created} webhook{'' if created == 1 else 's'}.")

    @admin.action(description="Remove webhooks", permissions=["sync"])
    def remove_webhooks(self, request, queryset):
        removed = _remove_hooks(
            request,
            AsanaWebhook.objects.filter(project__in=queryset.values("pk")).select_related(
                "project"
            ),
        )
        if removed:
            messages.success(request, f"Removed {removed} webhook{'' if removed == 1 else 's'}.")


def map_project(*, project: AsanaProject, client: Client | None) -> None:
    """Make `client` the one client naming `project` (None: no client does). The client
    that named it before, if another, stops naming it."""
    with transaction.atomic():
        previous = list(_clients_naming(project.gid).select_for_update())
        for other in previous:
            if other != client:
                other.asana_project_gid = None
                other.save(update_fields=["asana_project_gid"])
        if client is not None and client.asana_project_gid != project.gid:
            client.asana_project_gid = project.gid
            client.save(update_fields=["asana_project_gid"])


def _remove_hooks(request, hooks) -> int:
    from .webhooks import WebhookError, remove_webhook

    removed = 0
    for hook in hooks:
        try:
            remove_webhook(hook)
        except (WebhookError, AsanaError) as error:
            logger.warning("Removing Asana webhook %s failed: %s", hook.gid, error)
            messages.error(
                request, f"{hook.project.name}: could not remove webhook {hook.gid}: {error}"
            )
        else:
            removed += 1
    return removed


class MatchedFilter(admin.SimpleListFilter):
    title = "staff"
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("yes", "Matched to staff"), ("no", "Unmatched")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(staff__isnull=False)
        if self.value() == "no":
            return queryset.filter(staff__isnull=True)
        return queryset


@admin.register(AsanaUser)
class AsanaUserAdmin(admin.ModelAdmin):
    """The workspace's users. Each is matched to staff by email when listed; choose the
    staff member by hand only when the emails differ."""

    list_display = ["name", "email", "staff", "seen_at"]
    list_filter = [MatchedFilter]
    list_select_related = ["staff"]
    search_fields = ["name", "email", "gid", "staff__name"]
    fields = ["name", "email", "gid", "staff", "seen_at"]
    readonly_fields = ["name", "email", "gid", "seen_at"]
    autocomplete_fields = ["staff"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "staff":
            field.help_text = (
                "The staff member this Asana user is; their Asana tasks are assigned to them. "
                "Set from the email on each listing; choose by hand only when the Asana email "
                "differs from the staff email (a choice made here is kept)."
            )
        return field

    def has_add_permission(self, request):
        return False  # users come from Asana's listing

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ConnectionStatus)
class ConnectionStatusAdmin(admin.ModelAdmin):
    """Whether each source's connection works. A refused token stops its syncs; once the
    token is fixed, "Try again" lets them call the source again."""

    list_display = ["source", "state", "broken_at", "reason"]
    readonly_fields = ["source", "broken_at", "reason"]
    actions = ["try_again"]

    @admin.display(description="State")
    def state(self, obj):
        return "Broken" if obj.is_broken else "Working"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("integrations.change_connectionstatus")

    @admin.action(description="Try again (the token is fixed)", permissions=["retry"])
    def try_again(self, request, queryset):
        cleared = queryset.filter(broken_at__isnull=False).update(broken_at=None, reason="")
        messages.success(
            request,
            f"Cleared {cleared} broken connection{'' if cleared == 1 else 's'}: "
            "the next scheduled sync calls the source again.",
        )


@admin.register(AsanaWebhook)
class AsanaWebhookAdmin(admin.ModelAdmin):
    """Webhooks Asana delivers projects' changes to (create them from the projects). The
    handshake secret is never shown."""

    list_display = ["gid", "project", "target", "created_at", "last_delivery_at"]
    list_select_related = ["project"]
    search_fields = ["gid", "project__name", "project__gid"]
    fields = ["gid", "project", "target", "created_at", "last_delivery_at"]
    readonly_fields = fields
    actions = ["remove"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # deleting the row alone would leave the webhook alive in Asana

    def has_sync_permission(self, request):
        return request.user.has_perm("integrations.change_asanawebhook")

    @admin.action(description="Remove from Asana", permissions=["sync"])
    def remove(self, request, queryset):
        removed = _remove_hooks(request, queryset.select_related("project"))
        if removed:
            messages.success(request, f"Removed {removed} webhook{'' if removed == 1 else 's'}.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Each webhook delivery, stored once; processed_at is set when its tasks were re-read."""

    list_display = ["received_at", "project", "events", "task_count", "processed_at"]
    list_filter = [("processed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["webhook__project"]
    date_hierarchy = "received_at"
    fields = ["webhook", "digest", "received_at", "events", "task_gids", "processed_at"]
    readonly_fields = fields

    @admin.display(description="Project", ordering="webhook__project__name")
    def project(self, obj):
        return obj.webhook.project

    @admin.display(description="Tasks")
    def task_count(self, obj):
        return len(obj.task_gids or [])

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
