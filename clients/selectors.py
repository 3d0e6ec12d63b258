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
