"""Reminder emails: who gets what on Monday morning and when a client passes the SLA, each
cause once, each email linking to the page that fixes it."""

import datetime
import zoneinfo

import pytest
from django.core import mail

from clients.selectors import days_inactive
from godview.models import AgencySettings, Role
from metrics.compute import compute_metrics
from tests import factories
from workflows.models import Reminder
from workflows.services import send_due_reminders

pytestmark = pytest.mark.django_db

D = datetime.date
MONDAY = D(2026, 3, 16)
ZONE = zoneinfo.ZoneInfo("Europe/Berlin")


def at(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)


@pytest.fixture
def agency(settings):
    settings.SITE_URL = "https://godview.example"
    agency_settings = AgencySettings.load()
    agency_settings.time_zone = "Europe/Berlin"
    agency_settings.save()
    pod = factories.pod(name="Alpha")
    ann = factories.staff(pod=pod, name="Ann", email="ann@agency.test")
    bob = factories.staff(pod=pod, name="Bob", email="bob@agency.test")
    director = factories.staff(role=Role.DIRECTOR, pod=pod, name="Dana", email="dana@agency.test")
    clients = {}
    for name, manager in (("Acme", ann), ("Apex", ann), ("Bolt", bob)):
        client = factories.client(pod=pod, account_manager=manager, name=name)
        factories.engagement(client, D(2025, 1, 1))
        factories.touchpoint(client, MONDAY - datetime.timedelta(days=2), channel="call")
        clients[name] = client
    return {"ann": ann, "bob": bob, "director": director, **clients}


def sent_to(address: str) -> list:
    return [message for message in mail.outbox if address in message.to]


def test_monday_morning_account_managers_hear_of_clients_without_goals(agency):
    factories.weekly_goal(agency["Acme"], agency["ann"], MONDAY)
    factories.weekly_goal(agency["Bolt"], agency["bob"], MONDAY)

    counts = send_due_reminders(now=at(MONDAY, 9))

    assert counts["no_goals"] == 1
    [message] = sent_to("ann@agency.test")
    assert "Apex" in message.body and "Acme" not in message.body
    assert "https://godview.example/my-week/" in message.body
    assert sent_to("bob@agency.test") == []  # Bolt has its goal


def test_nothing_goes_out_before_the_hour_or_on_other_days(agency):
    assert send_due_reminders(now=at(MONDAY, 7))["no_goals"] == 0
    assert send_due_reminders(now=at(MONDAY + datetime.timedelta(days=1), 9))["no_goals"] == 0
    assert mail.outbox == []


def test_each_cause_is_reminded_of_once(agency):
    send_due_reminders(now=at(MONDAY, 9))
    first = len(mail.outbox)

    send_due_reminders(now=at(MONDAY, 10))

    assert first == 2 and len(mail.outbox) == first  # Ann (Acme, Apex) and Bob (Bolt)
    assert Reminder.objects.filter(kind="no_goals").count() == 2
    # Next week is another cause.
    send_due_reminders(now=at(MONDAY + datetime.timedelta(weeks=1), 9))
    assert Reminder.objects.filter(kind="no_goals").count() == 4


def test_last_weeks_open_goals_are_reminded_to_whoever_set_them(agency):
    last_week = MONDAY - datetime.timedelta(weeks=1)
    factories.weekly_goal(agency["Acme"], agency["ann"], last_week, description="Ship ads")
    factories.weekly_goal(agency["Apex"], agency["ann"], last_week, status="met")

    counts = send_due_reminders(now=at(MONDAY, 8))

    assert counts["unclosed_goals"] == 1
    [message] = [m for m in sent_to("ann@agency.test") if "Close" in m.subject]
    assert "Acme: Ship ads" in message.body and "Apex" not in message.body
    assert "my-week/?week=2026-03-09" in message.body


def test_a_client_past_the_sla_is_sent_to_its_manager_and_pod_director_once(agency):
    tuesday = MONDAY + datetime.timedelta(days=1)
    quiet_since = tuesday - datetime.timedelta(days=11)
    bolt = agency["Bolt"]
    bolt.touchpoints.all().delete()
    factories.touchpoint(bolt, quiet_since, channel="call")

    counts = send_due_reminders(now=at(tuesday, 12))
    send_due_reminders(now=at(tuesday + datetime.timedelta(days=1), 12))  # still past: no repeat

    assert counts["sla_breach"] == 2
    assert [m.subject for m in sent_to("bob@agency.test")] == [
        "Bolt: 11 days without contact (standard 10)"
    ]
    assert len(sent_to("dana@agency.test")) == 1
    assert "https://godview.example/clients/" in sent_to("dana@agency.test")[0].body
    assert sent_to("ann@agency.test") == []
    # Contact resumes, then lapses again: a new breach, a new reminder.
    factories.touchpoint(bolt, tuesday, channel="call")
    later = tuesday + datetime.timedelta(days=12)
    assert send_due_reminders(now=at(later, 12))["sla_breach"] >= 2
    assert len(sent_to("bob@agency.test")) == 2


def test_days_inactive_matches_the_metric(agency):
    bolt = agency["Bolt"]
    factories.touchpoint(bolt, MONDAY, channel="email", direction="inbound")  # does not count
    on = MONDAY + datetime.timedelta(days=3)

    live = days_inactive([agency["Acme"], bolt], on=on)
    computed = {
        row["key"]: row["days_inactive"]
        for row in compute_metrics(as_of=on, start=D(2026, 1, 1))["clients"]
    }

    assert live[bolt.id] == computed[bolt.key] == 5
    assert live[agency["Acme"].id] == computed[agency["Acme"].key]
