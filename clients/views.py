from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from godview.agency import agency_today

from . import selectors
from .models import Client


@login_required
def client_list(request):
    today = agency_today()
    search = request.GET.get("q", "").strip()[:100]
    clients = selectors.client_list(user=request.user, on=today, search=search)
    page = Paginator(clients, 50).get_page(request.GET.get("page"))
    context = {"page": page, "search": search, "today": today}
    template = "clients/client_list.html"
    if request.htmx:
        template += "#client-table"
    return render(request, template, context)


@login_required
def client_detail(request, key):
    try:
        client = selectors.client_detail(user=request.user, key=key)
    except Client.DoesNotExist:
        raise Http404("No such client") from None
    touchpoints = client.touchpoints.select_related("staff")[:20]
    return render(
        request,
        "clients/client_detail.html",
        {"client": client, "touchpoints": touchpoints, "today": agency_today()},
    )
