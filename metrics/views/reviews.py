"""The fortnightly growth review of a pod: each active client with its quarterly goals' pace,
its tactics' win/loss this quarter and its last decisions, and where to record today's
(keep course or pivot) through workflows.services.record_growth_review."""

import datetime

import pandas as pd
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from clients.models import ClientGoal, GoalStatus
from clients.selectors import active_clients_on, clients_visible_to
from godview.access import pods_visible_to, staff_of
from godview.agency import agency_today
from godview.models import AgencySettings
from workflows import selectors as work
from workflows.forms import GrowthReviewForm
from workflows.services import record_growth_review

from .. import selectors
from ..compute.frames import typed_frame
from ..compute.work import pace
from ..periods import QUARTER
from ..registry import CLIENT

# The story's cadence: a client not reviewed for this long is due again.
REVIEW_EVERY = datetime.timedelta(days=14)
HISTORY_SHOWN = 5
PACES = ("on_track", "at_risk", "off_track")
ENDED = ("tactic_wins", "tactic_losses", "tactic_inconclusive")


@login_required
@require_http_methods(["GET", "POST"])
def growth_review(request, key):
    """A pod's growth review (404 outside the user's pods): its clients active today, each
    with goal pace, tactic win/loss from the stored current quarter's figures, last decisions
    and a form for today's. A POST records one client's decision; htmx gets that client's
    row back with the decision in place, a plain form post a redirect to it (or the page with
    the form's errors)."""
    pod = get_object_or_404(pods_visible_to(request.user), key=key)
    today = agency_today()
    reviewer = staff_of(request.user)
    bound = {}
    if request.method == "POST":
        client = get_object_or_404(
            clients_visible_to(request.user).filter(pod=pod), key=request.POST.get("client", "")
        )
        if reviewer is None:
            raise PermissionDenied("Only a staff member can record a review decision.")
        form = _form(client, data=request.POST)
        if form.is_valid():
            try:
                review = record_growth_review(
                    client=client, by=reviewer, on=today, **form.cleaned_data
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if not request.htmx:
                    messages.success(
                        request,
                        f"{client.name}: “{review.get_decision_display()}” recorded.",
                    )
                    url = reverse("growth-review", args=[pod.key])
                    return redirect(f"{url}#review-{client.key}")
                return _row(request, pod, client, today=today, reviewer=reviewer, saved=review)
        if request.htmx:
            return _row(request, pod, client, today=today, reviewer=reviewer, form=form)
        bound[client.id] = form
    clients = list(
        active_clients_on(today).filter(pod=pod).select_related("account_manager").order_by("name")
    )
    run = selectors.current_run(period=QUARTER)
    rows = _rows(clients, today=today, run=run, reviewer=reviewer, bound=bound)
    context = {
        "pod": pod,
        "today": today,
        "run": run,
        "rows": rows,
        "reviewer": reviewer,
        "review_every": REVIEW_EVERY.days,
        "summary": {
            "clients": len(rows),
            "due": sum(row["due"] for row in rows),
            "off_track": sum(bool(row["paces"]["off_track"]) for row in rows),
            **{
                name: sum((row["tactics"] or {}).get(name) or 0 for row in rows)
                for name in ("tactic_wins", "tactic_losses")
            },
        },
    }
    return render(request, "metrics/growth_review.html", context)


def _form(client, **kwargs) -> GrowthReviewForm:
    """A client's review form, its ids its own (one form per client on the page)."""
    return GrowthReviewForm(auto_id=f"review-{client.key}-%s", **kwargs)


def _row(request, pod, client, *, today, reviewer, saved=None, form=None):
    """One client's row of the review, as htmx swaps it in after a post."""
    run = selectors.current_run(period=QUARTER)
    bound = {client.id: form} if form is not None else {}
    (row,) = _rows([client], today=today, run=run, reviewer=reviewer, bound=bound)
    row["saved"] = saved
    return render(
        request,
        "metrics/growth_review.html#review_row",
        {
            "pod": pod,
            "today": today,
            "run": run,
            "row": row,
            "reviewer": reviewer,
            "review_every": REVIEW_EVERY.days,
        },
    )


def _rows(clients, *, today, run, reviewer, bound) -> list[dict]:
    """Each client's row: open goals with their pace, stored tactic figures, latest reviews
    (and how many in all), whether a review is due, and its form (bound after a failed post).
    Four queries whatever the number of clients."""
    goals = _paced_goals(clients, today)
    figures = selectors.rows_for(run=run, level=CLIENT, keys=[c.key for c in clients])
    reviews = work.latest_growth_reviews(client_ids=[c.id for c in clients], last=HISTORY_SHOWN)
    rows = []
    for client in clients:
        latest = reviews.get(client.id, [])
        paced = goals.get(client.id, [])
        tactics = figures.get(client.key)
        rows.append(
            {
                "client": client,
                "goals": paced,
                "paces": {name: sum(g["pace"] == name for g in paced) for name in PACES},
                "tactics": tactics,
                "tactics_ended": sum(tactics.get(name) or 0 for name in ENDED) if tactics else 0,
                "reviews": latest,
                "review_count": latest[0].reviews if latest else 0,
                "last": latest[0] if latest else None,
                "due": not latest or latest[0].reviewed_on <= today - REVIEW_EVERY,
                "form": bound[client.id] if client.id in bound else _form(client),
                "can_record": reviewer is not None,
                "saved": None,
            }
        )
    return rows


def _paced_goals(clients, today) -> dict[int, list[dict]]:
    """client id -> its open quarterly goals that have started, by due date, each with its
    pace as of today (DOMAIN.md, Goals), computed as the client page's goals list does."""
    started = list(
        ClientGoal.objects.filter(
            client__in=[c.id for c in clients], status=GoalStatus.OPEN, starts_on__lte=today
        ).order_by("due_on", "title", "pk")
    )
    columns = ["id", "baseline", "target", "current", "starts_on", "due_on"]
    frame = typed_frame([tuple(getattr(g, c) for c in columns) for g in started], columns)
    margin = float(AgencySettings.load().pace_at_risk_margin)
    labels = pace(frame, pd.Timestamp(today), margin)
    paces = {id_: label for id_, label in zip(frame.id, labels, strict=True) if pd.notna(label)}
    result = {}
    for goal in started:
        result.setdefault(goal.client_id, []).append({"goal": goal, "pace": paces.get(goal.id)})
    return result
