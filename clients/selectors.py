"""Reads of clients, always scoped to what the user may see."""

import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum

from godview.access import scope_by_pod

from .models import Client, Engagement


def clients_visible_to(user) -> QuerySet[Client]:
    """Every client the user may see in detail (their pod's, or all for leadership)."""
    return scope_by_pod(
        Client.objects.select_related("pod", "account_manager", "pod__department"), user, "pod"
    )


def covering(day: datetime.date) -> Q:
    """Engagements covering day (ended_on is the last day of service, inclusive)."""
    return Q(started_on__lte=day) & (Q(ended_on__isnull=True) | Q(ended_on__gte=day))


def client_list(*, user, on: datetime.date, search: str = "") -> QuerySet[Client]:
    """The user's clients, each annotated with whether it is active on `on` and its MRR."""
    active_engagements = Engagement.objects.filter(covering(on), client=OuterRef("pk"))
    mrr = (
        Engagement.objects.filter(covering(on), client=OuterRef("pk"))
        .values("client")
        .annotate(total=Sum("monthly_fee"))
        .values("total")
    )
    clients = clients_visible_to(user).annotate(
        is_active=Exists(active_engagements), mrr=Subquery(mrr)
    )
    if search:
        clients = clients.filter(
            Q(name__icontains=search)
            | Q(key__icontains=search)
            | Q(account_manager__name__icontains=search)
            | Q(pod__name__icontains=search)
        )
    return clients.order_by("-is_active", "name")


def client_detail(*, user, key: str) -> Client:
    """One visible client with its engagements, goals and recent touchpoints prefetched;
    raises Client.DoesNotExist for a client the user may not see."""
    return clients_visible_to(user).prefetch_related("engagements", "goals").get(key=key)


def engagement_on(engagements, day: datetime.date):
    """The engagement (of one client) covering day, or None."""
    return next(
        (
            e
            for e in engagements
            if e.started_on <= day and (e.ended_on is None or e.ended_on >= day)
        ),
        None,
    )


def service_period_start(engagements, day: datetime.date) -> datetime.date | None:
    """Start of the service period (a run of engagements with no gap) covering day, or None
    when the client is not active on day. A fee change does not restart the period."""
    current = engagement_on(engagements, day)
    if current is None:
        return None
    by_end = {e.ended_on: e for e in engagements if e.ended_on is not None}
    start = current.started_on
    while (previous := by_end.get(start - datetime.timedelta(days=1))) is not None:
        start = previous.started_on
    return start
