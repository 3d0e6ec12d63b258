"""Reminder emails: Monday's (clients without goals this week, last week's goals not closed)
and a client crossing the SLA. Each cause is reminded of once: the Reminder row and the email
are one transaction, so a failed send is tried again on the next run."""

import datetime
from collections import defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from clients.models import Client, GoalStatus
from clients.selectors import active_clients_on, days_inactive
from godview.agency import agency_zone
from godview.models import AgencySettings, Role, Staff

from ..models import Reminder, ReminderKind, WeeklyGoal
from .goals import week_start_of


def send_due_reminders(*, now: datetime.datetime) -> dict[str, int]:
    """Send every reminder that is due at `now` and not sent before; returns how many of
    each kind went out. Run it hourly: Monday's go out from REMINDER_HOUR (a setting) in the
    agency's time zone, SLA reminders whenever a client is past the SLA."""
    local = now.astimezone(agency_zone())
    today = local.date()
    sent = dict.fromkeys(ReminderKind.values, 0)
    if today.weekday() == 0 and local.hour >= settings.REMINDER_HOUR:
        sent[ReminderKind.NO_GOALS] = _remind_clients_without_goals(today)
        sent[ReminderKind.UNCLOSED_GOALS] = _remind_unclosed_goals(today)
    sent[ReminderKind.SLA_BREACH] = _remind_sla_breaches(today)
    return sent


def _send_once(*, kind: str, recipient: Staff, cause: str, subject: str, template: str, context):
    """Record the reminder and send it, or do nothing if this cause was reminded of."""
    if Reminder.objects.filter(kind=kind, recipient=recipient, cause=cause).exists():
        return False
    body = render_to_string(template, {"recipient": recipient, **context})
    try:
        with transaction.atomic():
            Reminder.objects.create(kind=kind, recipient=recipient, cause=cause)
            send_mail(subject, body, None, [recipient.email])
    except IntegrityError:  # another run sent it in the meantime
        return False
    return True


def _link(name: str, query: str = "") -> str:
    return settings.SITE_URL + reverse(name) + (f"?{query}" if query else "")


def _remind_clients_without_goals(today: datetime.date) -> int:
    week = week_start_of(today)
    with_goals = WeeklyGoal.objects.filter(week_start=week).values("client_id")
    clients = (
        active_clients_on(today)
        .exclude(id__in=with_goals)
        .filter(account_manager__active=True, account_manager__role=Role.ACCOUNT_MANAGER)
        .select_related("account_manager")
        .order_by("name")
    )
    by_manager = defaultdict(list)
    for client in clients:
        by_manager[client.account_manager].append(client)
    return sum(
        _send_once(
            kind=ReminderKind.NO_GOALS,
            recipient=manager,
            cause=f"week {week.isoformat()}",
            subject=f"Set this week's goals for {len(clients)} client"
            + ("s" if len(clients) != 1 else ""),
            template="workflows/email/no_goals.txt",
            context={"clients": clients, "week": week, "link": _link("my-week")},
        )
        for manager, clients in by_manager.items()
    )


def _remind_unclosed_goals(today: datetime.date) -> int:
    week = week_start_of(today) - datetime.timedelta(weeks=1)
    goals = (
        WeeklyGoal.objects.filter(week_start=week, status=GoalStatus.OPEN, staff__active=True)
        .select_related("client", "staff")
        .order_by("client__name", "description")
    )
    by_person = defaultdict(list)
    for goal in goals:
        by_person[goal.staff].append(goal)
    return sum(
        _send_once(
            kind=ReminderKind.UNCLOSED_GOALS,
            recipient=person,
            cause=f"week {week.isoformat()}",
            subject=f"Close last week's goals ({len(goals)} still open)",
            template="workflows/email/unclosed_goals.txt",
            context={
                "goals": goals,
                "week": week,
                "link": _link("my-week", f"week={week.isoformat()}"),
            },
        )
        for person, goals in by_person.items()
    )


def pod_directors(client: Client, directors: list[Staff]) -> list[Staff]:
    """The directors of the client's pod: those in the pod, else its department's."""
    in_pod = [d for d in directors if d.pod_id == client.pod_id]
    if in_pod:
        return in_pod
    department = client.pod.department_id
    return [d for d in directors if department is not None and d.department_id == department]


def _remind_sla_breaches(today: datetime.date) -> int:
    sla = AgencySettings.load().sla_days
    clients = list(active_clients_on(today).select_related("account_manager", "pod"))
    inactive = days_inactive(clients, on=today)
    directors = list(Staff.objects.filter(role=Role.DIRECTOR, active=True))
    sent = 0
    for client in clients:
        days = inactive.get(client.id)
        if days is None or days <= sla:
            continue
        crossed_on = today - datetime.timedelta(days=days - sla - 1)
        recipients = [client.account_manager, *pod_directors(client, directors)]
        for recipient in dict.fromkeys(r for r in recipients if r.active):
            sent += _send_once(
                kind=ReminderKind.SLA_BREACH,
                recipient=recipient,
                cause=f"{client.key} past the SLA on {crossed_on.isoformat()}",
                subject=f"{client.name}: {days} days without contact (standard {sla})",
                template="workflows/email/sla_breach.txt",
                context={
                    "client": client,
                    "days": days,
                    "sla": sla,
                    "crossed_on": crossed_on,
                    "link": settings.SITE_URL + reverse("client-detail", args=[client.key]),
                },
            )
    return sent
