from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from godview.access import sees_everything
from godview.agency import agency_today

from . import selectors
from .models import Client


@login_required
def client_list(request):
    """The clients the user may see, searchable; the HTMX search swaps only the table."""
    today = agency_today()
    search = request.GET.get("q", "").strip()[:100]
    clients = selectors.client_list(user=request.user, on=today, search=search)
    page = Paginator(clients, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "search": search,
        "today": today,
        "active_count": clients.filter(is_active=True).count(),
        "scope_all": sees_everything(request.user),
    }
    template = "clients/client_list.html"
    if request.htmx:
        template += "#client-table"
    return render(request, template, context)


@login_required
def client_detail(request, key):
    """One client's engagements, quarterly goals and recent touchpoints (404 if not visible)."""
    try:
        client = selectors.client_detail(user=request.user, key=key)
    except Client.DoesNotExist:
        raise Http404("No such client") from None
    today = agency_today()
    engagements = list(client.engagements.all())
    context = {
        "client": client,
        "today": today,
        "engagements": sorted(engagements, key=lambda e: e.started_on, reverse=True),
        "current_engagement": selectors.engagement_on(engagements, today),
        "service_started_on": selectors.service_period_start(engagements, today),
        "goals": sorted(client.goals.all(), key=lambda g: g.due_on, reverse=True),
        "touchpoints": client.touchpoints.select_related("staff")[:20],
    }
    return render(request, "clients/client_detail.html", context)
