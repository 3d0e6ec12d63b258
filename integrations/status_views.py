"""The sync status page: is Asana connected, when did each client's project last sync and
what went wrong, for leadership and admins."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from . import status


@login_required
def sync_status(request):
    """Leadership and admins see it; anyone else gets 404, as for any page not theirs."""
    if not status.may_see_sync_status(request.user):
        raise Http404("No such page")
    return render(
        request, "integrations/sync_status.html", status.sync_status(request.GET.get("page"))
    )
