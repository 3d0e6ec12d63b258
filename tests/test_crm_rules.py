"""The activity-to-touchpoint rules (DOMAIN.md, Touchpoint) as the HubSpot adapter applies
them to HubSpot's records, and deals won/lost. Pure: no server, no database."""

import datetime
from decimal import Decimal

import pytest

from clients.models import Channel, Direction
from integrations.crm.hubspot import HubSpot

NOW = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


def adapter(notes_count=False):
    return HubSpot(
        token="t", base_url="http://127.0.0.1:9", notes_count=notes_count, now=lambda: NOW
    )


def raw(**properties):
    return {"id": "77", "properties": {"hs_timestamp": "2026-03-09T10:00:00Z", **properties}}


@pytest.mark.parametrize(
    ("object_type", "properties", "expected"),
    [
        (
            "calls",
            {"hs_call_status": "COMPLETED", "hs_call_direction": "OUTBOUND"},
            (Channel.CALL, Direction.OUTBOUND),
        ),
        # A call the client made resets days inactive too (calls count either way).
        (
            "calls",
            {"hs_call_status": "COMPLETED", "hs_call_direction": "INBOUND"},
            (Channel.CALL, Direction.INBOUND),
        ),
        ("calls", {"hs_call_status": "NO_ANSWER", "hs_call_direction": "OUTBOUND"}, None),
        (
            "meetings",
            {"hs_meeting_outcome": "COMPLETED", "hs_meeting_start_time": "2026-03-09T10:00:00Z"},
            (Channel.MEETING, Direction.OUTBOUND),
        ),
        (
            "meetings",
            {"hs_meeting_outcome": "CANCELED", "hs_meeting_start_time": "2026-03-09T10:00:00Z"},
            None,
        ),
        (
            "meetings",
            {"hs_meeting_outcome": "NO_SHOW", "hs_meeting_start_time": "2026-03-09T10:00:00Z"},
            None,
        ),
        (
            "meetings",
            {"hs_meeting_outcome": "SCHEDULED", "hs_meeting_start_time": "2026-03-11T10:00:00Z"},
            None,
        ),  # the future
        ("emails", {"hs_email_direction": "EMAIL"}, (Channel.EMAIL, Direction.OUTBOUND)),
        ("emails", {"hs_email_direction": "INCOMING_EMAIL"}, (Channel.EMAIL, Direction.INBOUND)),
        (
            "communications",
            {"hs_communication_channel_type": "WHATS_APP"},
            (Channel.CHAT, Direction.OUTBOUND),
        ),
        ("notes", {}, None),
    ],
)
def test_activity_rules(object_type, properties, expected):
    activity = adapter().activity(object_type, raw(**properties), ("5",))
    if expected is None:
        assert not activity.is_touchpoint and activity.skip_reason
    else:
        assert activity.is_touchpoint
        assert (activity.channel, activity.direction) == expected
    assert activity.company_ids == ("5",)


def test_notes_count_only_when_the_agency_switches_them_on():
    assert adapter(notes_count=True).activity("notes", raw(), ()).channel == Channel.OTHER


def test_a_meeting_happens_when_it_started_not_when_it_was_logged():
    activity = adapter().activity(
        "meetings",
        raw(hs_meeting_outcome="COMPLETED", hs_meeting_start_time="2026-03-01T15:00:00Z"),
        (),
    )
    assert activity.occurred_at == datetime.datetime(2026, 3, 1, 15, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("closed", "won", "status"),
    [("true", "true", "won"), ("true", "false", "lost"), ("false", "false", "open")],
)
def test_deal_status(closed, won, status):
    deal = adapter().deal(
        {
            "id": "9",
            "properties": {
                "dealname": "Retainer",
                "amount": "1500.5",
                "closedate": "1772668800000",  # milliseconds, as HubSpot may send them
                "createdate": "2026-01-05T09:00:00Z",
                "hs_is_closed": closed,
                "hs_is_closed_won": won,
                "hubspot_owner_id": "31",
            },
        },
        ("5",),
    )
    assert deal.status == status
    assert deal.amount == Decimal("1500.50")
    assert deal.owner_id == "31" and deal.company_id == "5"
    assert (deal.closed_at is None) == (status == "open")


@pytest.mark.django_db
def test_the_glossary_shows_the_contact_rules_next_to_days_inactive(client):
    from clients.models import CRM_CONTACT_RULES
    from godview.models import Role
    from tests import factories

    client.force_login(factories.staff(role=Role.LEADERSHIP).user)
    html = client.get("/glossary/").content.decode()
    section = html[html.index('id="days_inactive"') :]
    section = section[: section.index("</dd>")]
    for rule in CRM_CONTACT_RULES:
        assert rule.split(":")[0] in section
