"""Admin for what the CRM sync leaves for a person to decide: companies no client names (with
suggestions to confirm on the client's page), owners matched to no staff member, and the
activities that reached no mapped client."""

import difflib

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html

from clients.models import Client

from ..models import CrmCompany, CrmOwner, UnassignedActivity


class CompanyMappedFilter(admin.SimpleListFilter):
    title = "mapped to a client"
    parameter_name = "mapped"

    def lookups(self, request, model_admin):
        return [("yes", "Mapped"), ("no", "Unmapped")]

    def queryset(self, request, queryset):
        named = Client.objects.filter(crm_company_id=OuterRef("external_id"))
        if self.value() == "yes":
            return queryset.filter(Exists(named))
        if self.value() == "no":
            return queryset.exclude(Exists(named))
        return queryset


def suggestions(company: CrmCompany, clients: dict[str, Client]) -> list[Client]:
    """Clients whose name is close to the company's (a person confirms; nothing is mapped
    from this): the name with the domain's first label as a second guess."""
    names = [company.name.lower()]
    if company.domain:
        names.append(company.domain.split(".")[0].replace("-", " ").lower())
    found = []
    for name in names:
        for match in difflib.get_close_matches(name, list(clients), n=3, cutoff=0.75):
            if clients[match] not in found:
                found.append(clients[match])
    return found[:3]


@admin.register(CrmCompany)
class CrmCompanyAdmin(admin.ModelAdmin):
    """Companies as last read from the CRM. A client is mapped on its own page (CRM company
    id); for an unmapped company the likely clients are suggested, never applied."""

    list_display = ["name", "source", "external_id", "domain", "client", "suggested", "deleted_at"]
    list_filter = [CompanyMappedFilter, "source"]
    search_fields = ["name", "domain", "external_id"]
    readonly_fields = [f.name for f in CrmCompany._meta.fields]

    def changelist_view(self, request, extra_context=None):
        self._clients_by_id = {
            c.crm_company_id: c for c in Client.objects.exclude(crm_company_id=None)
        }
        self._clients_by_name = {c.name.lower(): c for c in Client.objects.all()}
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    @admin.display(description="Client")
    def client(self, obj):
        client = getattr(self, "_clients_by_id", {}).get(obj.external_id)
        if client is None:
            return "Unmapped"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:clients_client_change", args=[client.pk]), client
        )

    @admin.display(description="Suggested client (confirm on its page)")
    def suggested(self, obj):
        if obj.external_id in getattr(self, "_clients_by_id", {}):
            return "—"
        found = suggestions(obj, getattr(self, "_clients_by_name", {}))
        if not found:
            return "—"
        return format_html(
            ", ".join(['<a href="{}">{}</a>'] * len(found)),
            *[
                part
                for client in found
                for part in (reverse("admin:clients_client_change", args=[client.pk]), client)
            ],
        )


class OwnerMatchedFilter(admin.SimpleListFilter):
    title = "matched to staff"
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("yes", "Matched"), ("no", "Unmatched")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(staff=None)
        if self.value() == "no":
            return queryset.filter(staff=None)
        return queryset


@admin.register(CrmOwner)
class CrmOwnerAdmin(admin.ModelAdmin):
    """CRM owners, matched to staff by email; set the staff member by hand only when the
    emails differ. An unmatched owner's deals and activities have no person here."""

    list_display = ["name", "email", "source", "staff", "archived"]
    list_filter = [OwnerMatchedFilter, "source", "archived"]
    search_fields = ["name", "email"]
    autocomplete_fields = ["staff"]
    readonly_fields = ["source", "external_id", "email", "name", "archived", "seen_at"]

    def has_add_permission(self, request):
        return False


@admin.register(UnassignedActivity)
class UnassignedActivityAdmin(admin.ModelAdmin):
    """Client communication that reached no mapped client (its company is unmapped, or it
    has none). Mapping the company turns these into touchpoints at the next sync."""

    list_display = ["kind", "source", "company_external_id", "occurred_at", "channel", "direction"]
    list_filter = ["source", "kind"]
    search_fields = ["company_external_id", "external_id"]
    date_hierarchy = "occurred_at"
    readonly_fields = [f.name for f in UnassignedActivity._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
