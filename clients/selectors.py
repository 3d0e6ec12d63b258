"""Reads of clients, always scoped to what the user may see."""

import datetime
from collections import defaultdict

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)

from godview.access import scope_by_pod

from .models import COUNTS_FOR_CONTACT, Client, Engagement, Touchpoint


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
    """One visible client with its engagements prefetched; raises Client.DoesNotExist for a
    client the user may not see."""
    return clients_visible_to(user).prefetch_related("engagements").get(key=key)


def client_touchpoints(*, client: Client) -> QuerySet[Touchpoint]:
    """The client's touchpoints, newest first (not those the CRM deleted), with who took
    part, each annotated with `counts_for_contact` (whether it resets days inactive:
    DOMAIN.md, Touchpoint)."""
    return (
        client.touchpoints.filter(deleted_at__isnull=True)
        .select_related("staff")
        .annotate(
            counts_for_contact=ExpressionWrapper(COUNTS_FOR_CONTACT, output_field=BooleanField())
        )
        .order_by("-occurred_on", "-pk")
    )


def engagement_history(engagements) -> list[dict]:
    """A client's engagements (prefetched) as its MRR history, newest first: each with
    `event` (started, fee change, or returned after a gap) and `change`, the fee difference
    from the engagement before when it follows it without a gap (else None)."""
    history, previous = [], None
    for engagement in sorted(engagements, key=lambda e: e.started_on):
        follows = (
            previous is not None
            and previous.ended_on is not None
            and previous.ended_on + datetime.timedelta(days=1) == engagement.started_on
        )
        history.append(
            {
                "engagement": engagement,
                "event": "fee change" if follows else "returned" if previous else "started",
                "change": engagement.monthly_fee - previous.monthly_fee if follows else None,
            }
        )
        previous = engagement
    return list(reversed(history))


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


def active_clients_on(day: datetime.date) -> QuerySet[Client]:
    """Every client with an engagement covering day (all of them: callers scope by user)."""
    return Client.objects.filter(
        Exists(Engagement.objects.filter(covering(day), client=OuterRef("pk")))
    )


def days_inactive(clients, *, on: datetime.date) -> dict[int, int | None]:
    """client id -> days inactive on `on` (DOMAIN.md: days since the later of the last
    counting touchpoint and the start of the current service period), None for a client not
    active on `on`. Three queries whatever the number of clients; the metrics compute the
    same from their frames."""
    ids = [client.id for client in clients]
    engagements = defaultdict(list)
    for engagement in Engagement.objects.filter(client_id__in=ids, started_on__lte=on):
        engagements[engagement.client_id].append(engagement)
    last_contact = dict(
        Touchpoint.objects.filter(COUNTS_FOR_CONTACT, client_id__in=ids, occurred_on__lte=on)
        .values("client_id")
        .annotate(last=Max("occurred_on"))
        .values_list("client_id", "last")
    )
    result = {}
    for client_id in ids:
        start = service_period_start(engagements[client_id], on)
        if start is None:
            result[client_id] = None
            continue
        contact = last_contact.get(client_id)
        result[client_id] = (on - max(start, contact or start)).days
    return result
