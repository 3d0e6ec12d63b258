"""The client list and the client page, and how a list inside a page is served."""

from urllib.parse import parse_qsl, urlencode, urlsplit

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django_htmx.http import push_url

from godview.access import sees_everything
from godview.agency import agency_today

from . import selectors
from .models import Client

# --- Lists inside pages ----------------------------------------------------------------------
# A long list on a page (a client's touchpoints, tasks, weekly goals...) is a view of its own
# at its own URL: htmx loads and pages its fragment inside the page, and without JavaScript
# the same URL is a page by itself. The list's state (?page=, ?show=) is mirrored in the host
# page's address as `<list>_<name>` (tasks_page=2), so a reload or a shared link shows what
# was on screen. The workflows lists use these helpers too (clients is the lower app).

PAGE_SIZE = 10


def list_page(items, number, per_page: int = PAGE_SIZE):
    """One page of a list: the last one when past the end, the first one for nonsense."""
    return Paginator(items, per_page).get_page(number)


def page_state(page) -> int | None:
    """A page number for an address: None for the first page, which needs none."""
    return page.number if page.number > 1 else None


def list_query(query, name: str) -> str:
    """The host page's parameters of one list (tasks_page=2) as the list's own query string
    (page=2): how the page loads the list the way its address last showed it."""
    prefix = f"{name}_"
    return urlencode(
        [
            (key.removeprefix(prefix), value)
            for key, value in query.items()
            if key.startswith(prefix)
        ]
    )


def list_links(url: str, *, params: dict | None = None, state: dict | None = None) -> dict:
    """What a list's links are built from: its URL, `base` (the parameters that define the
    list, such as a period, each followed by &) and `keep` (those and its state but the page)."""
    params = {key: value for key, value in (params or {}).items() if value is not None}
    kept = {key: value for key, value in (state or {}).items() if value is not None}
    kept.pop("page", None)
    base = urlencode(params)
    keep = urlencode({**params, **kept})
    return {
        "list_url": url,
        "base": f"{base}&" if base else "",
        "keep": f"{keep}&" if keep else "",
    }


def render_list(request, template: str, context: dict, *, name: str, host: str, **links):
    """Render a list: the template's `list` partial for htmx, the whole template otherwise
    (and when htmx restores history). For a list inside its host page (host: that page's
    path), the response tells htmx to show the host page's address with the list's state."""
    context |= list_links(request.path, **links)
    fragment = request.htmx and not request.htmx.history_restore_request
    response = render(request, f"{template}#list" if fragment else template, context)
    if fragment:
        address = _host_address(request, host, name, links.get("state") or {})
        if address is not None:
            push_url(response, address)
    return response


def _host_address(request, host: str, name: str, state: dict) -> str | bool | None:
    """The host page's address with this list's state in it; False when the address already
    says that (the list's first load into the page: nothing to push); None when the request
    does not come from the host page (on the list's own page its link's URL is pushed)."""
    current = request.htmx.current_url_abs_path
    if current is None or urlsplit(current).path != host:
        return None
    prefix = f"{name}_"
    shown = parse_qsl(urlsplit(current).query, keep_blank_values=True)
    wanted = [(key, value) for key, value in shown if not key.startswith(prefix)]
    wanted += [(prefix + key, str(value)) for key, value in state.items() if value is not None]
    if sorted(wanted) == sorted(shown):
        return False
    return f"{host}?{urlencode(wanted)}" if wanted else host


# --- Pages -----------------------------------------------------------------------------------


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


# The lists of the client page that load from their own URLs (workflows), by list name.
CLIENT_PANELS = ("tasks", "weekly_goals", "tactics")


@login_required
def client_detail(request, key):
    """One client (404 if not visible): its engagements as MRR history and its touchpoints;
    early warning, quarterly goals with pace, tasks, weekly goals and tactics load into the
    page from their own URLs, as the page's address says (?tasks_page=2)."""
    try:
        client = selectors.client_detail(user=request.user, key=key)
    except Client.DoesNotExist:
        raise Http404("No such client") from None
    today = agency_today()
    engagements = list(client.engagements.all())
    touchpoints = list_page(
        selectors.client_touchpoints(client=client), request.GET.get("touchpoints_page")
    )
    context = {
        "client": client,
        "today": today,
        "history": selectors.engagement_history(engagements),
        "current_engagement": selectors.engagement_on(engagements, today),
        "service_started_on": selectors.service_period_start(engagements, today),
        "panels": {name: list_query(request.GET, name) for name in CLIENT_PANELS},
        "page": touchpoints,
        **list_links(reverse("client-touchpoints", args=[client.key])),
    }
    return render(request, "clients/client_detail.html", context)


@login_required
def client_touchpoints(request, key):
    """A client's touchpoints, newest first, a page at a time (404 if not visible)."""
    client = get_object_or_404(selectors.clients_visible_to(request.user), key=key)
    page = list_page(selectors.client_touchpoints(client=client), request.GET.get("page"))
    return render_list(
        request,
        "clients/client_touchpoints.html",
        {"client": client, "page": page},
        name="touchpoints",
        host=reverse("client-detail", args=[client.key]),
        state={"page": page_state(page)},
    )
