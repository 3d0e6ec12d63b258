"""Tactics and CRO tests from the client page: log one that started, close a running one as
win, loss or inconclusive. Inline through htmx, pages of their own without JavaScript; every
write goes through workflows.services.tactics."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django_htmx.http import reswap, retarget

from clients.selectors import clients_visible_to
from clients.views import list_links, list_page
from godview.access import scope_by_pod, sees_everything
from godview.agency import agency_today
from godview.models import Staff

from .. import selectors
from ..forms import TacticCloseForm, TacticStartForm
from ..models import Tactic, TacticKind
from ..services import close_tactic, start_tactic
from .postponements import ROW_LISTS, acting_staff, next_url

NEW_TEMPLATE = "workflows/tactic_new.html"
CLOSE_TEMPLATE = "workflows/tactic_close.html"


def _start_form(request, client, *, staff: Staff, today) -> TacticStartForm:
    """The start form; directors and leadership also choose the owner among the active
    people of the client's pod (themselves by default), everyone else owns what they log."""
    form = TacticStartForm(
        request.POST or None,
        initial={"started_on": today},
        auto_id="tactic-new-%s",
        label_suffix="",
    )
    if sees_everything(request.user):
        people = Staff.objects.filter(Q(pod=client.pod_id, active=True) | Q(pk=staff.pk))
        form.fields["owner"] = forms.ModelChoiceField(
            queryset=people.order_by("name"), initial=staff, empty_label=None
        )
    return form


@login_required
def tactic_new(request, key):
    """GET: the form to log a tactic or CRO test for the client; POST: start_tactic. htmx
    gets the form alone, and once logged the client's tactics list (which then shows it);
    without htmx a page that goes back to ?next=. 404 unless the user may see the client."""
    client = get_object_or_404(clients_visible_to(request.user), key=key)
    staff = acting_staff(request)
    today = agency_today()
    back = next_url(request, reverse("client-tactics", args=[client.key]))
    form = _start_form(request, client, staff=staff, today=today)
    if request.method == "POST" and form.is_valid():
        try:
            tactic = start_tactic(
                client=client,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                started_on=form.cleaned_data["started_on"],
                owner=form.cleaned_data.get("owner") or staff,
                today=today,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if not request.htmx:
                messages.success(request, f"Logged “{tactic.name}”: running until closed.")
                return redirect(back)
            return _tactics_list(request, client, logged=tactic)
    context = {"client": client, "form": form, "back": back, "query": request.GET.urlencode()}
    template = f"{NEW_TEMPLATE}#form" if request.htmx else NEW_TEMPLATE
    return render(request, template, context)


def _tactics_list(request, client, *, logged: Tactic):
    """The client's tactics list (first page) in place of the one the form was in."""
    context = {
        "client": client,
        "page": list_page(selectors.client_tactics(client=client), 1),
        "logged": logged,
        **list_links(reverse("client-tactics", args=[client.key])),
    }
    response = render(request, "workflows/client_tactics.html#list", context)
    return reswap(retarget(response, "#client-tactics"), "outerHTML")


def _visible_tactics(user):
    return scope_by_pod(Tactic.objects.select_related("client", "owner"), user, "client__pod")


@login_required
def tactic_close(request, key):
    """GET: the form to close a running tactic; POST: close_tactic as win, loss or
    inconclusive, with the confidence (required) and lift of a CRO test. htmx gets the
    tactic's rows in its list (?row=client or person; ?cancel closes the form) or, without
    ?row=, the form alone; without htmx a page that goes back to ?next=. 404 unless the user
    may see the tactic's client."""
    tactic = get_object_or_404(_visible_tactics(request.user), key=key)
    acting_staff(request)
    today = agency_today()
    back = next_url(request, reverse("client-tactics", args=[tactic.client.key]))
    form = TacticCloseForm(
        request.POST or None,
        initial={"ended_on": today},
        auto_id=f"close-{tactic.key}-%s",
        label_suffix="",
    )
    if tactic.kind != TacticKind.CRO_TEST:  # confidence and lift are a CRO test's figures
        del form.fields["confidence"], form.fields["lift_pct"]
    closed = None
    if request.method == "POST" and form.is_valid():
        try:
            closed = close_tactic(
                tactic=tactic,
                outcome=form.cleaned_data["outcome"],
                ended_on=form.cleaned_data["ended_on"],
                today=today,
                confidence=form.cleaned_data.get("confidence"),
                lift_pct=form.cleaned_data.get("lift_pct"),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if not request.htmx:
                messages.success(
                    request, f"Closed “{closed.name}” as {closed.get_outcome_display()}."
                )
                return redirect(back)
            tactic = closed
    context = {
        "tactic": tactic,
        "form": form,
        "closed": closed,
        "back": back,
        "query": request.GET.urlencode(),
    }
    where = request.GET.get("row")
    if request.htmx and where in ROW_LISTS:
        context |= {
            "by_person": ROW_LISTS[where],
            "target": f"#tactic-{tactic.key}",
            "open": "cancel" not in request.GET,
        }
        return render(request, f"{CLOSE_TEMPLATE}#rows", context)
    if request.htmx:
        context["target"] = f"#close-{tactic.key}"
        return render(request, f"{CLOSE_TEMPLATE}#panel", context)
    return render(request, CLOSE_TEMPLATE, context)
