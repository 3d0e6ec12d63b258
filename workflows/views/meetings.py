"""The pod's routines: the weekly pod meeting on one screen, and the growth review's decisions
as a client's history (the review itself, with goal pace, is a metrics page)."""

import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from clients.selectors import clients_visible_to
from clients.views import list_page, page_state, render_list
from godview.access import pods_visible_to
from godview.agency import agency_today
from godview.models import AgencySettings

from .. import selectors
from ..services import week_start_of


def _week(request, today: datetime.date) -> datetime.date:
    """The Monday of the week asked for in ?week= (any day of it), else of today's week; a
    week after today's is today's (its meeting has not happened)."""
    this_week = week_start_of(today)
    try:
        asked = week_start_of(datetime.date.fromisoformat(request.GET.get("week", "")))
    except ValueError:
        return this_week
    return min(asked, this_week)


@login_required
def pod_meeting(request, key):
    """The weekly pod meeting of ?week= (default this week): clients past the SLA, then each
    client's last week's results, this week's goals and overdue tasks, under a summary line.
    This week is read as of today; a past week as of its Monday, the meeting's day (404
    outside the user's pods). The week navigator swaps the meeting alone for htmx."""
    pod = get_object_or_404(pods_visible_to(request.user), key=key)
    today = agency_today()
    settings = AgencySettings.load()
    week_start = _week(request, today)
    this_week = week_start_of(today)
    day = today if week_start == this_week else week_start
    meeting = selectors.pod_meeting(
        pod=pod, week_start=week_start, day=day, zone=settings.zone, sla_days=settings.sla_days
    )
    context = {
        "pod": pod,
        "today": today,
        "as_of": day,
        "sla_days": settings.sla_days,
        "week_start": week_start,
        "week_end": week_start + datetime.timedelta(days=6),
        "last_week_start": week_start - selectors.WEEK,
        "last_week_end": week_start - datetime.timedelta(days=1),
        "is_this_week": week_start == this_week,
        "previous_week": week_start - selectors.WEEK,
        "next_week": week_start + selectors.WEEK if week_start < this_week else None,
        "this_week": this_week,
        **meeting,
    }
    template = "workflows/pod_meeting.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#meeting"
    return render(request, template, context)


REVIEWS_PER_PAGE = 10


@login_required
def client_reviews(request, key):
    """A client's growth review decisions, newest first, with who recorded each and why: a
    fragment of the client page for htmx, a page by itself otherwise (404 if not visible)."""
    client = get_object_or_404(clients_visible_to(request.user), key=key)
    page = list_page(
        selectors.client_growth_reviews(client=client), request.GET.get("page"), REVIEWS_PER_PAGE
    )
    return render_list(
        request,
        "workflows/client_reviews.html",
        {"client": client, "page": page},
        name="reviews",
        host=reverse("client-detail", args=[client.key]),
        state={"page": page_state(page)},
    )
