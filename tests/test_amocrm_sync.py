"""The CRM sync with amoCRM: the real adapter (built by `adapter_from_settings`, under the
Redis request budget) against the amoCRM sandbox (a real HTTP server), the real `sync_crm`,
the real PostgreSQL.

The sync's clock is the sandbox's clock, so a test moves time for both with `amo.advance`
(the beat's ten minutes, a blocked IP's ten minutes). Pages are small (PAGE records) so every
listing pages."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
import redis
import requests
from django.conf import settings as django_settings

from clients.models import Channel, Client, Direction, Touchpoint
from clients.selectors import days_inactive
from godview.models import AgencySettings
from integrations import tasks
from integrations.crm import sync as crm_sync
from integrations.crm.amocrm import AmoCRMAdapter
from integrations.crm.amocrm_sandbox import (
    CALL_ANSWERED,
    CALL_BUSY,
    CALL_NO_ANSWER,
    TASK_CALL,
    TASK_MEETING,
    AmoCRMSandbox,
)
from integrations.crm.connection import NotConfigured, adapter_from_settings
from integrations.crm.errors import ConnectionBroken, RateLimited, Transient
from integrations.crm.sync import sync_crm
from integrations.models import (
    ConnectionStatus,
    CrmCompany,
    CrmCursor,
    CrmOwner,
    SyncRun,
    SyncStatus,
    UnassignedActivity,
)
from tests import factories
from workflows.models import Deal, DealStatus

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "amo-sync-test-token-never-logged"
PAGE = 5
DAY = 24 * 3600


@pytest.fixture
def amo():
    today = datetime.datetime.now(datetime.UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    # Days behind the real clock: a SyncRun may not finish (real time) before it started.
    with AmoCRMSandbox(
        token=TOKEN, start=today - datetime.timedelta(days=5), requests_per_second=None
    ) as box:
        yield box


@pytest.fixture
def world(amo, settings, monkeypatch):
    """amoCRM chosen in the admin; Ann (staff) is an amoCRM user; Acme is mapped to a client
    by its id, Globex is mapped to nobody."""
    settings.AMOCRM_BASE_URL = amo.base_url
    settings.AMOCRM_ACCESS_TOKEN = TOKEN
    settings.AMOCRM_REQUESTS_PER_SECOND = 1000
    redis.Redis.from_url(django_settings.REDIS_URL).flushdb()
    agency = AgencySettings.load()
    agency.crm = "amocrm"
    agency.save()
    monkeypatch.setattr(crm_sync, "timezone", SimpleNamespace(now=lambda: amo.now))
    am = factories.staff(email="Ann.Manager@agency.test")
    ann = amo.add_user("Ann Manager", "ann.manager@agency.test")
    acme = amo.add_company("Acme", web="https://www.acme.test")
    globex = amo.add_company("Globex", web="globex.test")
    client = factories.client(account_manager=am, crm_company_id=str(acme))
    factories.engagement(client, started_on=local(amo.now) - datetime.timedelta(days=365))
    return SimpleNamespace(am=am, ann=ann, acme=acme, globex=globex, client=client)


def local(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(AgencySettings.load().zone).date()


def adapter(amo, **attributes) -> AmoCRMAdapter:
    made = adapter_from_settings()
    made.now = lambda: amo.now
    made.page_size = PAGE
    for name, value in attributes.items():
        setattr(made, name, value)
    return made


def run(amo, *, full=False, **attributes):
    """One run, as the beat's task makes it: a fresh adapter from the settings."""
    result = sync_crm(adapter(amo, **attributes), full=full)
    assert result is not None
    return result


def until_done(amo, errors, **attributes):
    """Rerun as the Celery task's retries would, until a run completes; each failure is
    counted by kind. A 429 is waited out on the sandbox's clock (its limiter's too)."""
    for _attempt in range(40):
        try:
            return run(amo, **attributes)
        except (RateLimited, Transient) as exc:
            errors.append(type(exc).__name__)
            amo.advance(1)
    raise AssertionError(f"never finished: {errors}")


def touchpoints(**filters):
    return {
        t.external_id: (t.client_id, t.channel, t.direction, t.occurred_on, t.deleted_at is None)
        for t in Touchpoint.objects.filter(source="amocrm", **filters)
    }


def state():
    """Everything the sync wrote, to compare runs."""
    deals = {
        d.external_id: (d.status, d.amount, d.closed_on, d.owner_id, d.client_id, d.deleted_at)
        for d in Deal.objects.filter(source="amocrm")
    }
    companies = {
        c.external_id: (c.name, c.domain, c.merged_into, c.deleted_at is None)
        for c in CrmCompany.objects.all()
    }
    unassigned = set(UnassignedActivity.objects.values_list("external_id", "company_external_id"))
    return deals, touchpoints(), companies, unassigned


# ------------------------------------------------------------------------- mapping


def test_owners_match_staff_by_email_and_companies_by_explicit_id_only(amo, world):
    lead = amo.add_lead("Website", price=900, company=world.acme, responsible_user_id=world.ann)
    mapped = amo.add_call("leads", lead, direction="out", responsible_user_id=world.ann)
    stray = amo.add_call("companies", world.globex, direction="out")
    amo.advance(60)

    result = run(amo)

    owner = CrmOwner.objects.get(source="amocrm", external_id=str(world.ann))
    assert owner.staff == world.am  # lower-cased email
    assert CrmOwner.objects.get(email="admin@sandbox.test").staff is None
    companies = dict(CrmCompany.objects.values_list("external_id", "domain"))
    assert companies == {str(world.acme): "acme.test", str(world.globex): "globex.test"}
    # A lead's note reaches the client through the lead's company.
    tp = Touchpoint.objects.get(external_id=f"note-{mapped}")
    assert (tp.client, tp.staff, tp.channel) == (world.client, world.am, Channel.CALL)
    # Globex is like Acme by name and domain, and still nobody's: its call is unassigned.
    assert not Touchpoint.objects.filter(external_id=f"note-{stray}").exists()
    unassigned = UnassignedActivity.objects.get(external_id=f"note-{stray}")
    assert unassigned.company_external_id == str(world.globex)
    assert result.unassigned == 1
    assert Client.objects.filter(crm_company_id=str(world.globex)).count() == 0
    sync_run = SyncRun.objects.get(source="amocrm")
    assert sync_run.status == SyncStatus.SUCCEEDED
    assert sync_run.api_calls == result.api_calls == len(amo.request_log)
    assert sync_run.stats["unassigned"] == 1


def test_mapping_a_company_later_turns_its_unassigned_activities_into_touchpoints(amo, world):
    call = amo.add_call(
        "companies", world.globex, direction="out", at=amo.now - datetime.timedelta(days=40)
    )
    run(amo)
    assert UnassignedActivity.objects.filter(external_id=f"note-{call}").exists()
    other = factories.client(crm_company_id=str(world.globex))  # confirmed in the admin
    amo.advance(DAY + 600)  # past the daily re-read

    run(amo)

    assert Touchpoint.objects.get(external_id=f"note-{call}").client == other
    assert not UnassignedActivity.objects.exists()


# ------------------------------------------------------------------------- full, incremental


def test_a_full_sync_then_an_incremental_one_reads_only_what_changed(amo, world):
    contact = amo.add_contact("Bob Buyer", company=world.acme)
    leads = [amo.add_lead(f"Lead {i}", price=100 * i, company=world.acme) for i in range(12)]
    for i in range(100):
        amo.add_call("leads", leads[i % 12], direction="out")
        amo.advance(30)
    amo.add_email("contacts", contact, incoming=False)
    amo.add_task("companies", world.acme, task_type_id=TASK_MEETING, is_completed=True)
    amo.advance(3600)  # all of it older than the next run's window

    full = run(amo)

    assert Deal.objects.filter(source="amocrm").count() == 12
    assert len(touchpoints()) == 102  # 100 calls, an email, a meeting
    assert full.inserted == 12 + 102
    assert CrmCursor.objects.filter(source="amocrm", backfill_done=True).count() == 6

    amo.advance(600)  # the beat's next tick
    amo.close_lead(leads[3], won=True)
    new_call = amo.add_call("contacts", contact, direction="in", call_status=CALL_ANSWERED)
    amo.advance(300)
    before = len(amo.request_log)

    result = run(amo)

    calls = amo.request_log[before:]
    assert (result.inserted, result.updated, result.deleted) == (1, 1, 0)
    assert Deal.objects.get(external_id=str(leads[3])).status == DealStatus.WON
    assert touchpoints()[f"note-{new_call}"][1:3] == (Channel.CALL, Direction.INBOUND)
    entities = ("/companies", "/leads", "/contacts", "/tasks")
    listings = [c for c in calls if c.path in entities or c.path.endswith("/notes")]
    # No listing is read whole again: each is a window on updated_at, a lookup by id, or the
    # notes and tasks of the one lead and one contact that changed.
    for call in listings:
        keys = set(call.query)
        assert keys & {"filter[updated_at][from]", "filter[id][]", "filter[entity_id][]"} or (
            call.query.get("with") == "only_deleted"
        ), call
    # 13 whatever changed (users, event types, merges, deletions of companies and tasks,
    # the trash, a window per object type, changed contacts), 5 for these changes (the
    # closed lead's notes, two pages, and its company; its tasks; the contact's company),
    # where the full sync needed 21 pages of lead notes alone.
    assert len(calls) == result.api_calls == 18
    assert full.api_calls > 2 * 18


# ------------------------------------------------------------------------- activity rules


def test_an_answered_inbound_call_resets_days_inactive_and_unanswered_calls_do_not(amo, world):
    now = amo.now
    at = lambda days: now - datetime.timedelta(days=days)  # noqa: E731
    amo.add_email("companies", world.acme, incoming=False, at=at(4))
    answered = amo.add_call(
        "companies", world.acme, direction="in", call_status=CALL_ANSWERED, at=at(2)
    )
    missed = amo.add_call(
        "companies", world.acme, direction="in", call_status=CALL_NO_ANSWER, at=at(1)
    )
    busy = amo.add_call("companies", world.acme, direction="out", call_status=CALL_BUSY, at=at(1))
    no_status = amo.add_note(
        "companies", world.acme, "call_out", {"duration": 0, "phone": "+7"}, at=at(1)
    )

    result = run(amo)

    assert touchpoints()[f"note-{answered}"][1:3] == (Channel.CALL, Direction.INBOUND)
    for skipped in (missed, busy, no_status):
        assert f"note-{skipped}" not in touchpoints()
    assert result.skipped_activities == 3
    today = local(now)
    assert days_inactive([world.client], on=today) == {world.client.id: 2}


def test_an_incoming_email_after_the_last_outbound_contact_leaves_days_inactive(amo, world):
    now = amo.now
    outbound = amo.add_email(
        "companies", world.acme, incoming=False, at=now - datetime.timedelta(days=6)
    )
    incoming = amo.add_email(
        "companies", world.acme, incoming=True, at=now - datetime.timedelta(days=1)
    )
    sms = amo.add_note(
        "companies", world.acme, "sms_out", {"text": "hi"}, at=now - datetime.timedelta(days=7)
    )

    run(amo)

    stored = touchpoints()
    assert stored[f"note-{incoming}"][1:3] == (Channel.EMAIL, Direction.INBOUND)  # kept
    assert stored[f"note-{outbound}"][1:3] == (Channel.EMAIL, Direction.OUTBOUND)
    assert stored[f"note-{sms}"][1:3] == (Channel.CHAT, Direction.OUTBOUND)
    assert days_inactive([world.client], on=local(now)) == {world.client.id: 6}


def test_meetings_count_once_held_and_tasks_and_notes_are_no_contact(amo, world):
    now = amo.now
    held = amo.add_task(
        "companies",
        world.acme,
        task_type_id=TASK_MEETING,
        is_completed=True,
        complete_till=now - datetime.timedelta(days=3),
        at=now - datetime.timedelta(days=5),
    )
    future = amo.add_task(
        "companies",
        world.acme,
        task_type_id=TASK_MEETING,
        is_completed=True,
        complete_till=now + datetime.timedelta(days=2),
    )
    pending = amo.add_task("companies", world.acme, task_type_id=TASK_MEETING, complete_till=now)
    call_task = amo.add_task("companies", world.acme, task_type_id=TASK_CALL, is_completed=True)
    note = amo.add_note("companies", world.acme, "common", {"text": "Client likes blue"})

    result = run(amo)

    stored = touchpoints()
    assert stored == {
        f"task-{held}": (
            world.client.id,
            Channel.MEETING,
            Direction.OUTBOUND,
            local(now - datetime.timedelta(days=3)),
            True,
        )
    }
    assert result.skipped_activities == 4  # future, pending, call task, note
    assert {f"task-{future}", f"task-{pending}", f"task-{call_task}"}.isdisjoint(stored)

    agency = AgencySettings.load()
    agency.crm_notes_count_as_contact = True  # the agency switches CRM notes on
    agency.save()
    run(amo, full=True)
    assert touchpoints()[f"note-{note}"][1:3] == (Channel.OTHER, Direction.OUTBOUND)


def test_a_contacts_note_reaches_its_company_and_a_late_company_link_is_followed(amo, world):
    contact = amo.add_contact("Bob Buyer", company=world.acme)
    email = amo.add_email("contacts", contact, incoming=False)
    lead = amo.add_lead("From a call")  # no company yet
    call = amo.add_call("leads", lead, direction="in")
    amo.advance(3600)  # older than the next run's window
    run(amo)
    assert touchpoints()[f"note-{email}"][0] == world.client.id
    assert UnassignedActivity.objects.filter(external_id=f"note-{call}").exists()

    amo.advance(600)
    amo.edit("lead", lead, company=world.acme)  # bumps the lead, not its notes
    amo.advance(300)
    run(amo)

    assert touchpoints()[f"note-{call}"][0] == world.client.id
    assert not UnassignedActivity.objects.exists()


# ------------------------------------------------------------------------- deals


def test_won_and_lost_leads_become_deals_with_amount_close_date_owner_and_client(amo, world):
    won = amo.add_lead("Retainer", price=5000, company=world.acme, responsible_user_id=world.ann)
    lost = amo.add_lead("Audit", price=700, company=world.globex, responsible_user_id=world.ann)
    still_open = amo.add_lead("Maybe", company=world.acme)
    amo.advance(DAY)
    amo.close_lead(won, won=True)
    closed_won = amo.now
    amo.advance(DAY)
    amo.close_lead(lost, won=False)
    closed_lost = amo.now
    amo.advance(600)

    run(amo)

    deal = Deal.objects.get(source="amocrm", external_id=str(won))
    assert (deal.status, deal.amount, deal.closed_on) == (
        DealStatus.WON,
        Decimal("5000.00"),
        local(closed_won),
    )
    assert (deal.owner, deal.client) == (world.am, world.client)
    deal = Deal.objects.get(source="amocrm", external_id=str(lost))
    assert (deal.status, deal.amount, deal.closed_on) == (
        DealStatus.LOST,
        Decimal("700.00"),
        local(closed_lost),
    )
    assert (deal.owner, deal.client) == (world.am, None)  # Globex is nobody's
    deal = Deal.objects.get(source="amocrm", external_id=str(still_open))
    assert (deal.status, deal.closed_on, deal.owner) == (DealStatus.OPEN, None, None)


# ------------------------------------------------------------------------- deletion, merge


def test_deletions_are_applied_only_once_amocrm_confirms_them(amo, world):
    gone = amo.add_lead("Duplicate", company=world.acme)
    kept = amo.add_lead("Real", company=world.acme)
    note = amo.add_call("leads", kept, direction="out")
    call_on_gone = amo.add_call("leads", gone, direction="out")
    meeting = amo.add_task("companies", world.acme, task_type_id=TASK_MEETING, is_completed=True)
    amo.advance(600)
    run(amo)
    amo.advance(600)
    amo.delete("lead", gone)
    amo.delete("task", meeting)
    amo.delete("company", world.globex)
    amo.delete("note", note)  # amoCRM writes no event for it: nothing confirms it
    amo.advance(300)

    # The trash listing fails (the 2nd /leads request: after the deals window): nothing is
    # taken for deleted just because it no longer shows in a listing.
    amo.fail_next(1, 503, path="/leads", after=1)
    with pytest.raises(Transient):
        run(amo)
    assert Deal.objects.get(external_id=str(gone)).deleted_at is None

    result = run(amo)

    assert Deal.objects.get(external_id=str(gone)).deleted_at is not None
    assert Deal.objects.get(external_id=str(kept)).deleted_at is None
    assert touchpoints()[f"task-{meeting}"][4] is False
    assert CrmCompany.objects.get(external_id=str(world.globex)).deleted_at is not None
    assert touchpoints()[f"note-{note}"][4] is True  # unconfirmed: kept
    assert result.deleted == 2

    # The daily re-read meets the call on the deleted lead: its company is unknown now, and
    # the call itself is not confirmed gone, so its touchpoint stays.
    amo.advance(DAY)
    run(amo)
    assert touchpoints()[f"note-{call_on_gone}"][0:3] == (
        world.client.id,
        Channel.CALL,
        Direction.OUTBOUND,
    )
    assert touchpoints()[f"note-{call_on_gone}"][4] is True

    amo.advance(600)
    amo.restore("lead", gone)
    amo.advance(300)
    run(amo)
    assert Deal.objects.get(external_id=str(gone)).deleted_at is None


def test_a_merged_company_hands_its_client_to_the_survivor(amo, world):
    survivor = amo.add_company("ACME Group", web="acme-group.test")
    old_call = amo.add_call("companies", world.acme, direction="out")
    dup_lead = amo.add_lead("Same deal", company=world.acme)
    keep_lead = amo.add_lead("Deal", company=survivor)
    amo.advance(600)
    run(amo)
    amo.advance(600)
    amo.merge("company", survivor, [world.acme])
    amo.merge("lead", keep_lead, [dup_lead])
    amo.advance(60)
    new_call = amo.add_call("companies", survivor, direction="out")
    amo.advance(300)

    run(amo)

    world.client.refresh_from_db()
    assert world.client.crm_company_id == str(survivor)
    merged = CrmCompany.objects.get(external_id=str(world.acme))
    assert (merged.merged_into, merged.deleted_at is not None) == (str(survivor), True)
    stored = touchpoints()
    assert stored[f"note-{old_call}"][0] == stored[f"note-{new_call}"][0] == world.client.id
    assert Deal.objects.get(external_id=str(dup_lead)).deleted_at is not None
    assert Deal.objects.get(external_id=str(keep_lead)).client == world.client


# ------------------------------------------------------------------------- faults


def populate(amo, world, leads=8, calls=40):
    """Leads on Acme, and calls (all answered) on them and on an Acme contact."""
    contact = amo.add_contact("Bob Buyer", company=world.acme)
    made = [amo.add_lead(f"Lead {i}", price=10 * i, company=world.acme) for i in range(leads)]
    notes = []
    for i in range(calls):
        entity, record = ("leads", made[i % leads]) if i % 3 else ("contacts", contact)
        notes.append(amo.add_call(entity, record, direction="out" if i % 2 else "in"))
        amo.advance(20)
    return made, notes


def truth(amo, leads, notes):
    """What amoCRM holds: each lead's status, and a touchpoint per call."""
    statuses = {142: DealStatus.WON, 143: DealStatus.LOST}
    return (
        {str(i): statuses.get(amo.get("lead", i)["status_id"], DealStatus.OPEN) for i in leads},
        {f"note-{n}" for n in notes},
    )


def synced():
    deals = {d.external_id: d.status for d in Deal.objects.filter(source="amocrm")}
    return deals, {key for key, value in touchpoints().items() if value[4]}


def test_5xx_429_and_timeouts_are_survived_with_the_same_final_state(amo, world):
    leads, notes = populate(amo, world)
    amo.advance(600)
    errors = []
    # A 503 from a proxy, amoCRM's 429 (no Retry-After), an answer later than the read
    # timeout: each in the middle of the backfill, each ending that run.
    amo.fail_next(1, 503, path="/leads/notes", after=2)
    amo.slow_next(1, seconds=1.0, path="/contacts/notes", after=1)
    amo.fail_next(1, 429, path="/tasks")
    until_done(amo, errors, timeout=(2, 0.5))
    assert sorted(errors) == ["RateLimited", "Transient", "Transient"]
    assert synced() == truth(amo, leads, notes)

    amo.advance(600)
    for lead in leads[:4]:
        amo.close_lead(lead, won=True)
        notes.append(amo.add_call("leads", lead, direction="out"))
    amo.advance(300)
    # Two 502s in a row in the middle of the incremental, then a slow answer.
    amo.fail_next(2, 502, path="/leads", after=1)
    amo.slow_next(1, seconds=1.0, path="/tasks")
    until_done(amo, errors, timeout=(2, 0.5))
    assert errors[3:] == ["Transient"] * 3
    assert not amo._faults  # every fault was met
    assert synced() == truth(amo, leads, notes)

    # A full re-read finds nothing to change: the faults left nothing behind.
    written = state()
    assert run(amo, full=True).changed == 0
    assert state() == written


def test_a_429_storm_then_the_403_ip_block_stop_cleanly_and_the_budget_avoids_them(
    amo, world, settings
):
    leads, notes = populate(amo, world, leads=3, calls=6)
    amo.advance(600)
    # Another process on this IP ignores the budget: amoCRM's 7 a second is exceeded.
    amo.requests_per_second, amo.block_after = 7, 3
    for _strike in range(3):
        with pytest.raises(RateLimited) as limited:
            run(amo, before_request=None)
        assert limited.value.retry_after is None  # amoCRM sends no Retry-After
    assert amo.blocked()
    with pytest.raises(ConnectionBroken, match="blocked this server's IP") as broken:
        run(amo, before_request=None)
    assert broken.value.status == 403
    failed = SyncRun.objects.filter(source="amocrm", status=SyncStatus.FAILED).first()
    assert "403" in failed.error and "IP" in failed.error and TOKEN not in failed.error

    # The connection stays stopped (no retry loop) until someone tries again.
    calls = len(amo.request_log)
    with pytest.raises(ConnectionBroken, match="Try again"):
        run(amo)
    assert len(amo.request_log) == calls
    amo.advance(amo.block_seconds + 1)  # the block lifts
    ConnectionStatus.objects.filter(source="amocrm").update(broken_at=None, reason="")
    settings.AMOCRM_REQUESTS_PER_SECOND = 4  # the shipped budget, under amoCRM's 7
    log_from = len(amo.request_log)
    run(amo, page_size=250)
    assert {r.status for r in amo.request_log[log_from:]} <= {200, 204}
    assert synced() == truth(amo, leads, notes)
    amo.requests_per_second = None  # only to check the state faster
    assert run(amo, full=True, page_size=250).changed == 0


def test_an_ip_outside_the_accounts_whitelist_stops_the_connection(amo, world):
    amo.allowed_ips = {"10.0.0.7"}
    with pytest.raises(ConnectionBroken, match="whitelist") as broken:
        run(amo)
    assert broken.value.status == 403
    assert len(amo.request_log) == 1


def test_a_revoked_token_stops_cleanly_without_a_retry_loop(amo, world):
    amo.add_lead("Website", company=world.acme)
    amo.revoke_token()

    outcome = tasks.sync_crm.apply().get()  # the beat's task, run here

    assert "401" in outcome["stopped"] and TOKEN not in outcome["stopped"]
    assert len(amo.request_log) == 1  # one refused request, no retries
    failed = SyncRun.objects.get(source="amocrm")
    assert failed.status == SyncStatus.FAILED
    assert "revoked" in failed.error and TOKEN not in failed.error
    assert not Deal.objects.filter(source="amocrm").exists()


def test_amocrm_without_its_token_or_address_is_not_configured(amo, world, settings):
    settings.AMOCRM_ACCESS_TOKEN = ""
    with pytest.raises(NotConfigured, match="AMOCRM_ACCESS_TOKEN"):
        adapter_from_settings()
    assert tasks.sync_crm.apply().get() == {
        "skipped": "amoCRM is chosen but AMOCRM_ACCESS_TOKEN or AMOCRM_BASE_URL is not set."
    }
    assert not amo.request_log


def test_429_reads_retry_after_when_amocrm_sends_it():
    made = AmoCRMAdapter(token=TOKEN, base_url="http://127.0.0.1:9")
    response = requests.Response()
    response.status_code, response._content = 429, b"<html>429</html>"
    response.headers["Retry-After"] = "3"
    assert made._error(response).retry_after == 3.0
    del response.headers["Retry-After"]
    assert made._error(response).retry_after is None


# ------------------------------------------------------------------------- windows


def test_alpha_filters_off_fall_back_to_scanning_newest_first(amo, world):
    amo.alpha_filters = False  # this account ignores filter[updated_at] on entities
    leads = [amo.add_lead(f"Lead {i}", company=world.acme) for i in range(12)]
    amo.advance(DAY)  # older than any window from now on
    run(amo)
    amo.advance(600)
    amo.close_lead(leads[2], won=True)
    amo.advance(300)
    before = len(amo.request_log)

    result = run(amo)

    assert Deal.objects.get(external_id=str(leads[2])).status == DealStatus.WON
    assert result.updated == 1
    scans = [r for r in amo.request_log[before:] if r.query.get("order[updated_at]") == "desc"]
    assert {r.path for r in scans} == {"/companies", "/leads"}
    # Newest first, down to the window: one page, not the 12 leads' three.
    assert len([r for r in scans if r.path == "/leads"]) == 1


def test_a_record_updated_mid_read_does_not_push_another_out_of_the_window(amo, world):
    run(amo)
    amo.advance(600)
    notes = []
    for _i in range(12):
        notes.append(amo.add_call("companies", world.acme, direction="out"))
        amo.advance(1)
    amo.advance(300)
    # While the first page is read, someone edits a note on it: it leaves the window, and
    # an offset-paged read would then skip the note that slid onto page one.
    amo.on_request(
        lambda box: box.touch("note", notes[1]),
        path="/companies/notes",
    )

    run(amo)

    assert {f"note-{n}" for n in notes} <= set(touchpoints())


def test_a_backfill_resumed_much_later_still_reads_what_changed_meanwhile(amo, world):
    companies = [amo.add_company(f"Company {i}") for i in range(12)]
    amo.advance(600)
    amo.fail_next(1, 503, path="/companies", after=1)  # page two of the backfill
    with pytest.raises(Transient):
        run(amo)
    amo.advance(60)
    amo.edit("company", companies[0], name="Company 0 renamed")  # on page one, already read
    amo.advance(1800)  # a 403 block, then the task's backoff
    run(amo)  # the backfill finishes
    amo.advance(600)

    run(amo)

    assert CrmCompany.objects.get(external_id=str(companies[0])).name == "Company 0 renamed"
