"""``manage.py crm_sandbox``: the HubSpot and amoCRM sandboxes generated from the agency in the
database, the mapping written back, and a real CRM sync against them that finds the
database already holding the same communication.

The sandboxes are real HTTP servers, read by the real adapters; the sync is the real
``sync_crm`` into the real PostgreSQL, on the sandbox's clock."""

import datetime
import io
from datetime import UTC
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from clients.models import Channel, Client, Direction, Touchpoint
from clients.selectors import days_inactive
from godview.models import AgencySettings
from integrations.crm.amocrm import AmoCRMAdapter
from integrations.crm.amocrm_sandbox import AmoCRMSandbox
from integrations.crm.demo_crm import DemoActivity, build_demo_crm
from integrations.crm.hubspot import HubSpotAdapter
from integrations.crm.hubspot_sandbox import HubSpotSandbox
from integrations.crm.sync import sync_crm
from integrations.management.commands.crm_sandbox import Command
from integrations.models import CrmCompany, CrmCursor, UnassignedActivity
from tests import factories
from workflows.models import Deal, DealStatus

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "crm-sandbox-test-token"
NOW = datetime.datetime(2026, 3, 20, 15, 0, tzinfo=UTC)  # 11:00 in New York
ZONE = "America/New_York"
CALL, MEETING, EMAIL, CHAT = Channel.CALL, Channel.MEETING, Channel.EMAIL, Channel.CHAT
OUT, IN = Direction.OUTBOUND, Direction.INBOUND
# Plenty of records that are no contact, so each kind shows up in a small agency.
NOISE = (("note", 0.4), ("cancelled", 0.4), ("no_show", 0.2), ("unanswered", 0.3))
STALE_ID = "call-10000000001"  # what an earlier HubSpot sandbox gave an old touchpoint


@pytest.fixture
def hub():
    with HubSpotSandbox(
        token=TOKEN, start=NOW, requests_per_10s=10_000, search_per_second=10_000
    ) as box:
        yield box
        assert not box.errors


@pytest.fixture
def amo():
    with AmoCRMSandbox(token=TOKEN, start=NOW, requests_per_second=None) as box:
        yield box


def hubspot_adapter(hub):
    return HubSpotAdapter(
        token=TOKEN, base_url=hub.base_url, now=lambda: hub.now, search_interval=0
    )


def amocrm_adapter(amo):
    return AmoCRMAdapter(token=TOKEN, base_url=amo.base_url, now=lambda: amo.now)


def today():
    return NOW.astimezone(AgencySettings.load().zone).date()


def ago(days):
    return today() - datetime.timedelta(days=days)


@pytest.fixture
def agency():
    """Alpha: every channel both ways in the period, plus an old, a deleted and three with no
    exact CRM form. Beta: going quiet (our last word 30 days ago, the client wrote since).
    Gamma: nothing at all, and an old row from an earlier sandbox. Three live deals and a
    deleted one."""
    settings = AgencySettings.load()
    settings.time_zone = ZONE
    settings.save()
    pod = factories.pod()
    ann = factories.staff(pod=pod, name="Ann Lee", email="Ann.Lee@agency.test")
    bob = factories.staff(pod=pod, name="Bob Stone", email="bob@agency.test")
    dan = factories.staff(pod=pod, name="Dan Old", email="dan@agency.test", active=False)
    alpha = factories.client(pod=pod, account_manager=ann, name="Alpha Dental")
    beta = factories.client(pod=pod, account_manager=bob, name="Beta & Sons")
    gamma = factories.client(pod=pod, account_manager=ann, name="Gamma")
    for client in (alpha, beta, gamma):
        factories.engagement(client, ago(365))

    def tp(client, days, channel, direction=OUT, staff=ann, summary="", **fields):
        return factories.touchpoint(
            client,
            ago(days),
            channel=channel,
            direction=direction,
            staff=staff,
            summary=summary,
            **fields,
        )

    mirrored = {
        "call out": tp(alpha, 3, CALL, summary="Weekly check-in"),
        "call in": tp(alpha, 10, CALL, IN, summary="Client called about the invoice"),
        "meeting": tp(alpha, 5, MEETING, staff=dan, summary="Strategy session"),
        "email out": tp(alpha, 2, EMAIL, summary="March report"),
        "email in": tp(alpha, 1, EMAIL, IN, staff=None, summary="Question"),
        "chat out": tp(alpha, 4, CHAT, summary="Sent the draft"),
        "today": tp(alpha, 0, CALL, summary="Quick call"),
        "beta last word": tp(beta, 30, EMAIL, staff=bob, summary="Proposal"),
        "beta wrote": tp(beta, 3, EMAIL, IN, staff=None, summary="Any news?"),
    }
    local = {
        "report": tp(alpha, 6, Channel.REPORT),
        "meeting in": tp(alpha, 7, MEETING, IN),
        "chat in": tp(alpha, 8, CHAT, IN, summary="Pinged us"),  # amoCRM: an sms_in
    }
    untouched = {
        "old": tp(alpha, 80, EMAIL),
        "deleted": tp(alpha, 9, CALL, deleted_at=timezone.now()),
    }
    stale = tp(gamma, 90, CALL, source="hubspot", external_id=STALE_ID)
    deals = {
        "won": Deal.objects.create(
            key="d-won",
            name="Alpha - SEO",
            owner=ann,
            client=alpha,
            created_on=ago(40),
            closed_on=ago(20),
            status=DealStatus.WON,
            amount=Decimal("12000.00"),
        ),
        "lost": Deal.objects.create(
            key="d-lost",
            name="Prospect - Ads",
            owner=bob,
            created_on=ago(30),
            closed_on=ago(15),
            status=DealStatus.LOST,
            amount=Decimal("3000.50"),
        ),
        "open": Deal.objects.create(
            key="d-open",
            name="Beta - CRO",
            owner=bob,
            client=beta,
            created_on=ago(5),
            status=DealStatus.OPEN,
            amount=Decimal("4800.00"),
        ),
        "deleted": Deal.objects.create(
            key="d-gone",
            name="Dropped",
            created_on=ago(50),
            deleted_at=timezone.now(),
        ),
    }
    return {
        "staff": {"ann": ann, "bob": bob, "dan": dan},
        "clients": {"alpha": alpha, "beta": beta, "gamma": gamma},
        "mirrored": mirrored,
        "local": local,
        "untouched": untouched,
        "stale": stale,
        "deals": deals,
    }


def fresh(row):
    row.refresh_from_db()
    return row


def local_date(moment):
    return moment.astimezone(AgencySettings.load().zone).date()


def activities(adapter, object_types):
    found = {}
    for object_type in object_types:
        cursor = ""
        while True:
            page = adapter.backfill(object_type, cursor)
            found.update((a.external_id, a) for a in page.records)
            cursor = page.next_cursor
            if not cursor:
                break
    return found


def check_mirror(built, agency, adapter, activity_types, owners):
    """The CRM holds one activity per mirrored touchpoint (same date, channel, direction,
    owner, company), each touchpoint names it, and every other activity is no contact."""
    acts = activities(adapter, activity_types)
    companies = {pk: str(c.company) for pk, c in built.clients.items()}
    for key, row in agency["mirrored"].items():
        row = fresh(row)
        assert (row.source, row.external_id) == (built.source, built.touchpoints[row.pk]), key
        act = acts[row.external_id]
        assert act.is_touchpoint, key
        assert (act.channel, act.direction) == (row.channel, row.direction), key
        assert local_date(act.occurred_at) == row.occurred_on, key
        assert act.company_ids == (companies[row.client_id],), key
        assert act.summary == row.summary or (built.source, row.channel) == ("hubspot", CHAT)
        if row.staff_id is not None:
            assert act.owner_id == str(owners[row.staff_id]), key
    touching = [a for a in acts.values() if a.is_touchpoint]
    assert len(touching) == len(built.touchpoints) == len(agency["mirrored"])
    skipped = [a for a in acts.values() if not a.is_touchpoint]
    assert len(skipped) == sum(built.noise.values())
    quiet = companies[agency["clients"]["gamma"].pk]
    assert all(quiet not in a.company_ids for a in acts.values())  # nothing invented
    for row in [*agency["untouched"].values()]:
        assert (fresh(row).source, row.external_id) == ("manual", None)
    return acts


def check_mapping(built, agency):
    for key, client in agency["clients"].items():
        assert fresh(client).crm_company_id == str(built.clients[client.pk].company), key
    assert AgencySettings.load().crm == built.source
    stale = fresh(agency["stale"])
    if built.source == "hubspot":
        assert stale.external_id is None  # detached: an earlier sandbox's id, free for reuse
    else:
        assert stale.external_id == STALE_ID  # another CRM's row: not this sandbox's business
    assert stale.source == "hubspot" and stale.deleted_at is None
    deals = agency["deals"]
    for key in ("won", "lost", "open"):
        deal = fresh(deals[key])
        assert (deal.source, deal.external_id) == (built.source, built.deals[deal.pk]), key
    assert fresh(deals["deleted"]).external_id is None and deals["deleted"].pk not in built.deals


def snapshot():
    touchpoints = {
        t.pk: (t.client_id, t.staff_id, t.occurred_on, t.channel, t.direction, t.deleted_at)
        for t in Touchpoint.objects.all()
    }
    summaries = dict(Touchpoint.objects.exclude(channel=CHAT).values_list("pk", "summary"))
    deals = {
        d.pk: (d.name, d.owner_id, d.client_id, d.created_on, d.closed_on, d.status, d.amount)
        for d in Deal.objects.all()
    }
    clients = list(Client.objects.order_by("pk"))
    return touchpoints, summaries, deals, days_inactive(clients, on=today())


def test_hubspot_sandbox_mirrors_the_agency_and_the_database_is_mapped(hub, agency):
    built = build_demo_crm(hub, "hubspot", days=60, seed=1, noise=NOISE)
    adapter = hubspot_adapter(hub)
    staff = agency["staff"]

    owners = {o.email: o for o in adapter.owners()}
    assert set(owners) == {"Ann.Lee@agency.test", "bob@agency.test", "dan@agency.test"}
    assert owners["dan@agency.test"].archived and not owners["bob@agency.test"].archived
    assert {p: str(o) for p, o in built.owners.items()} == {
        s.pk: owners[s.email].external_id for s in staff.values()
    }
    companies = {c.name: c for c in adapter.backfill("companies", "").records}
    assert {n: c.domain for n, c in companies.items()} == {
        "Alpha Dental": "alpha-dental.example",
        "Beta & Sons": "beta-sons.example",
        "Gamma": "gamma.example",
    }

    acts = check_mirror(
        built,
        agency,
        adapter,
        ("calls", "meetings", "emails", "communications", "notes"),
        built.owners,
    )
    check_mapping(built, agency)
    assert {a.skip_reason for a in acts.values() if not a.is_touchpoint} >= {
        "meeting cancelled",
        "notes are internal (switch CRM notes on in the agency settings)",
    }
    assert {f"{t.channel} {t.direction}" for t in agency["local"].values()} == set(built.kept_local)
    for row in agency["local"].values():
        assert fresh(row).external_id is None
    assert built.quiet == 1

    deals = {d.external_id: d for d in adapter.backfill("deals", "").records}
    won, lost, open_ = (deals[built.deals[agency["deals"][k].pk]] for k in ("won", "lost", "open"))
    alpha, beta = (built.clients[agency["clients"][k].pk] for k in ("alpha", "beta"))
    assert (won.status, won.amount, local_date(won.closed_at)) == ("won", 12000, ago(20))
    assert (won.owner_id, won.company_id) == (str(built.owners[staff["ann"].pk]), alpha.company)
    assert local_date(won.created_at) == ago(40)
    assert (lost.status, lost.amount, lost.company_id) == ("lost", Decimal("3000.50"), None)
    assert (open_.status, open_.closed_at, open_.company_id) == ("open", None, beta.company)


def test_a_hubspot_sync_finds_the_database_already_holding_it_and_then_one_new_call(hub, agency):
    built = build_demo_crm(hub, "hubspot", days=60, seed=1, noise=NOISE)
    before = snapshot()
    count = Touchpoint.objects.count()
    chats = dict(Touchpoint.objects.filter(channel=CHAT).values_list("pk", "summary"))

    result = sync_crm(hubspot_adapter(hub))

    assert (result.inserted, result.deleted, result.unassigned) == (0, 0, 0)
    # The only rewrite allowed: HubSpot's adapter reads no communication body, so a chat's
    # summary may come back empty (the sandbox holds it in hs_communication_body).
    rewritten = [
        pk
        for pk, summary in Touchpoint.objects.filter(pk__in=chats).values_list("pk", "summary")
        if summary != chats[pk]
    ]
    assert result.updated == len(rewritten)
    assert result.skipped_activities == sum(built.noise.values())
    assert snapshot() == before  # same rows, dates, channels, deals: days inactive too
    assert Touchpoint.objects.count() == count
    assert UnassignedActivity.objects.count() == 0
    assert set(CrmCompany.objects.values_list("external_id", flat=True)) == {
        str(c.company) for c in built.clients.values()
    }

    gamma = agency["clients"]["gamma"]
    assert before[3][gamma.pk] == 90  # nothing in the period: no activity invented
    hub.advance(60)
    line = DemoActivity(hub, built, seed=2).call(gamma.pk)
    assert line == "Ann Lee called Gamma (resets days inactive)"
    hub.advance(600)  # past the sync's settling margin

    result = sync_crm(hubspot_adapter(hub))

    assert (result.inserted, result.updated, result.deleted) == (1, 0, 0)
    new = Touchpoint.objects.get(client=gamma, occurred_on=today())
    assert (new.channel, new.direction, new.occurred_on) == (CALL, OUT, today())
    assert (new.source, new.staff) == ("hubspot", agency["staff"]["ann"])
    assert Touchpoint.objects.count() == count + 1
    assert days_inactive([gamma], on=today())[gamma.pk] == 0


def test_amocrm_sandbox_mirrors_the_agency_and_a_sync_changes_nothing(amo, agency):
    built = build_demo_crm(amo, "amocrm", days=60, seed=1, noise=NOISE)
    adapter = amocrm_adapter(amo)

    owners = {o.email: o for o in adapter.owners()}
    assert {"Ann.Lee@agency.test", "bob@agency.test", "dan@agency.test"} <= set(owners)
    assert owners["dan@agency.test"].archived
    companies = {c.name: c.domain for c in adapter.backfill("companies", "").records}
    assert companies == {
        "Alpha Dental": "alpha-dental.example",
        "Beta & Sons": "beta-sons.example",
        "Gamma": "gamma.example",
    }
    # amoCRM also holds an inbound chat (an sms_in note) as it is.
    agency["mirrored"]["chat in"] = agency["local"].pop("chat in")
    acts = check_mirror(
        built,
        agency,
        adapter,
        ("lead_notes", "contact_notes", "company_notes", "tasks"),
        built.owners,
    )
    check_mapping(built, agency)
    assert {a.kind for a in acts.values() if a.is_touchpoint} == {"call", "meeting", "email", "sms"}
    assert {a.skip_reason for a in acts.values() if not a.is_touchpoint} >= {
        "meeting not marked done",
        "notes are internal (switch CRM notes on in the agency settings)",
    }
    deals = {d.external_id: d for d in adapter.backfill("deals", "").records}
    won = deals[built.deals[agency["deals"]["won"].pk]]
    lost = deals[built.deals[agency["deals"]["lost"].pk]]
    assert (won.status, won.amount, local_date(won.closed_at)) == ("won", 12000, ago(20))
    assert (lost.status, lost.amount) == ("lost", 3001)  # amoCRM budgets are whole numbers

    before = snapshot()
    result = sync_crm(adapter)

    assert (result.inserted, result.updated, result.deleted, result.unassigned) == (0, 1, 0, 0)
    after = snapshot()
    assert after[:2] == before[:2] and after[3] == before[3]
    lost_pk = agency["deals"]["lost"].pk
    assert after[2][lost_pk][-1] == Decimal("3001.00")  # the one figure amoCRM rounds
    assert {k: v for k, v in after[2].items() if k != lost_pk} == {
        k: v for k, v in before[2].items() if k != lost_pk
    }

    beta = agency["clients"]["beta"]
    amo.advance(60)
    line = DemoActivity(amo, built, seed=2).email(beta.pk, incoming=True)
    assert "does not reset days inactive" in line
    amo.advance(600)
    result = sync_crm(amocrm_adapter(amo))
    assert result.inserted == 1
    assert Touchpoint.objects.filter(client=beta, direction=IN, occurred_on=today()).count() == 1
    assert days_inactive([beta], on=today())[beta.pk] == 30  # an incoming email: unchanged


def test_a_second_run_and_a_switch_of_crm_re_point_the_same_rows(agency):
    with HubSpotSandbox(token=TOKEN, start=NOW) as first:
        built = build_demo_crm(first, "hubspot", seed=1, noise=NOISE)
    CrmCursor.objects.create(source="hubspot", object_type="calls", backfill_done=True)
    with HubSpotSandbox(token=TOKEN, start=NOW) as again:
        rebuilt = build_demo_crm(again, "hubspot", seed=1, noise=NOISE)
    assert rebuilt.touchpoints == built.touchpoints and rebuilt.deals == built.deals
    assert rebuilt.remapped == {
        "clients": 0,
        "touchpoints": 0,
        "touchpoints_detached": 0,
        "deals": 0,
        "deals_detached": 0,
    }
    assert not CrmCursor.objects.get(source="hubspot").backfill_done  # read it whole again

    with AmoCRMSandbox(token=TOKEN, start=NOW, requests_per_second=None) as amo:
        switched = build_demo_crm(amo, "amocrm", seed=1, noise=NOISE)
    mapped = Touchpoint.objects.exclude(external_id=None)
    assert dict(mapped.filter(source="amocrm").values_list("pk", "external_id")) == (
        switched.touchpoints
    )
    # amoCRM holds every kind HubSpot holds (and inbound chats): nothing points at HubSpot.
    assert not mapped.filter(source="hubspot").exists()
    assert AgencySettings.load().crm == "amocrm"


def test_activity_logs_calls_and_emails_and_cancels_booked_meetings(hub, agency):
    built = build_demo_crm(hub, "hubspot", seed=1, noise=NOISE, booked_chance=1)
    meetings, logged = len(hub.ids("meetings")), len(hub.ids("calls")) + len(hub.ids("emails"))
    booked = len(built.booked)
    assert booked
    people = DemoActivity(hub, built, seed=5)
    later = NOW + datetime.timedelta(minutes=10)

    lines = [line for _ in range(8) for line in people.step(now=later)]

    assert hub.now == later
    assert len(hub.ids("calls")) + len(hub.ids("emails")) == logged + 8
    assert len(hub.ids("meetings")) == meetings  # cancelled, not deleted
    cancelled = [line for line in lines if line.endswith("was cancelled")]
    assert cancelled and len(lines) == 8 + len(cancelled)
    assert len(built.booked) == booked - len(cancelled)
    outcomes = [hub.get(m)["properties"].get("hs_meeting_outcome") for m in hub.ids("meetings")]
    assert outcomes.count("CANCELED") == built.noise["cancelled"] + len(cancelled)


def run_command(monkeypatch, *args, **options):
    monkeypatch.setattr(Command, "serve", lambda self, sandbox, built, activity, seed: None)
    out = io.StringIO()
    call_command("crm_sandbox", *args, port=0, stdout=out, **options)
    return out.getvalue()


def test_the_command_prints_the_settings_and_never_a_token_from_the_environment(
    monkeypatch, settings, agency
):
    settings.HUBSPOT_ACCESS_TOKEN = "pat-na1-a-real-looking-private-app-token"

    text = run_command(monkeypatch, "hubspot", days=30)

    assert settings.HUBSPOT_ACCESS_TOKEN not in text
    assert "export HUBSPOT_BASE_URL=http://127.0.0.1:" in text
    assert "export HUBSPOT_ACCESS_TOKEN=sandbox-token" in text and "fake" in text
    assert "manage.py sync_crm --refresh-metrics" in text
    assert "3 owners, 3 companies" in text  # on the wall clock: the period is empty here
    assert Client.objects.get(name="Gamma").crm_company_id is not None
    assert AgencySettings.load().crm == "hubspot"


def test_the_command_serves_amocrm_too(monkeypatch, settings, agency):
    settings.AMOCRM_ACCESS_TOKEN = "amo-long-lived-token-from-the-environment"

    text = run_command(monkeypatch, "amocrm")

    assert settings.AMOCRM_ACCESS_TOKEN not in text
    assert "export AMOCRM_BASE_URL=http://127.0.0.1:" in text
    assert "export AMOCRM_ACCESS_TOKEN=sandbox-token" in text
    assert AgencySettings.load().crm == "amocrm"


def test_the_command_refuses_an_empty_database(monkeypatch):
    with pytest.raises(CommandError, match="seed_demo"):
        run_command(monkeypatch, "hubspot")
