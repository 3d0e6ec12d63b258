"""The amoCRM sandbox, driven over HTTP with ``requests`` as the CRM adapter will drive it.

No database: the sandbox is a standard-library HTTP server in a thread of the test process.
"""

import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
import requests

from integrations.crm.amocrm_sandbox import (
    CALL_ANSWERED,
    CALL_NO_ANSWER,
    LOST_STATUS,
    TASK_CALL,
    TASK_MEETING,
    WON_STATUS,
    AmoCRMSandbox,
)

TOKEN = "amo-test-token"
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
T0 = int(START.timestamp())


@pytest.fixture
def amo():
    with AmoCRMSandbox(token=TOKEN, start=START, requests_per_second=None) as box:
        yield box


class Client:
    """What the adapter does: a Session with a Bearer token and explicit timeouts."""

    def __init__(self, sandbox, token=TOKEN, host=None):
        self.sandbox = sandbox
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        if host:
            self.session.headers["Host"] = host

    def get(self, path, timeout=5, **params):
        return self.session.get(self.sandbox.api_url + path, params=params, timeout=timeout)

    def walk(self, path, **params):
        """Follow ``_links.next.href`` from the first page until a 204 or no next link."""
        response = self.get(path, **params)
        pages = []
        while response.status_code == 200:
            body = response.json()
            pages.append(body)
            following = body["_links"].get("next")
            if not following:
                break
            response = self.session.get(following["href"], timeout=5)
        assert response.status_code in (200, 204)
        return pages, response


@pytest.fixture
def client(amo):
    return Client(amo)


def ids(response_or_body, key):
    body = response_or_body if isinstance(response_or_body, dict) else response_or_body.json()
    return [record["id"] for record in body["_embedded"][key]]


def problem(response):
    assert response.headers["Content-Type"] == "application/problem+json"
    return response.json()


# ------------------------------------------------------------------------- auth


def test_bearer_auth_answers_401_problem_json_and_a_revoked_token_stops_working(amo, client):
    for anonymous in (Client(amo, token=None), Client(amo, token="nope")):
        response = anonymous.get("/leads")
        assert response.status_code == 401
        assert problem(response) == {
            "title": "Unauthorized",
            "type": "https://httpstatus.es/401",
            "status": 401,
            "detail": "Unauthorized",
        }

    assert client.get("/users").status_code == 200
    amo.add_token("second-integration")
    amo.revoke_token()
    assert client.get("/users").status_code == 401
    assert Client(amo, token="second-integration").get("/users").status_code == 200
    assert [r.status for r in amo.calls("/users")] == [200, 401, 200]


def test_an_ip_outside_the_whitelist_gets_403_whatever_the_token():
    with AmoCRMSandbox(token=TOKEN, allowed_ips={"10.0.0.7"}, requests_per_second=None) as box:
        response = Client(box).get("/leads")
        assert response.status_code == 403
        assert problem(response)["status"] == 403
        assert "whitelist" in problem(response)["detail"]


def test_any_host_is_served_and_links_are_full_urls_on_that_host(amo):
    amo.add_lead("One")
    body = Client(amo, host="agency.amocrm.ru").get("/leads", limit=1).json()
    assert body["_links"]["self"]["href"] == "http://agency.amocrm.ru/api/v4/leads?limit=1&page=1"
    assert body["_links"]["next"]["href"] == "http://agency.amocrm.ru/api/v4/leads?limit=1&page=2"
    (lead,) = body["_embedded"]["leads"]
    assert lead["_links"]["self"]["href"].startswith("http://agency.amocrm.ru/api/v4/leads/")


# ------------------------------------------------------------------------- HAL paging


def test_hal_pages_follow_next_until_an_empty_page_answers_204_with_no_body(amo, client):
    created = [amo.add_lead(f"Lead {i}") for i in range(4)]

    pages, last = client.walk("/leads", limit=2)

    assert [page["_page"] for page in pages] == [1, 2]
    assert [i for page in pages for i in ids(page, "leads")] == created
    assert last.status_code == 204 and last.content == b"" and "Content-Type" not in last.headers
    first, second = pages
    assert first["_links"]["next"]["href"].endswith("/api/v4/leads?limit=2&page=2")
    assert "prev" not in first["_links"]
    assert second["_links"]["prev"]["href"].endswith("page=1")
    response = client.get("/leads", limit=2)
    assert response.headers["Content-Type"] == "application/hal+json"


def test_exact_next_links_stop_on_the_last_page_and_a_missing_record_is_204():
    with AmoCRMSandbox(token=TOKEN, next_link="exact", requests_per_second=None) as box:
        for i in range(4):
            box.add_lead(f"Lead {i}")
        pages, last = Client(box).walk("/leads", limit=2)
        assert len(pages) == 2 and last.status_code == 200
        assert "next" not in pages[-1]["_links"]
        assert Client(box).get("/leads/1").status_code == 204


def test_limit_over_the_maximum_is_clamped_or_refused_by_switch(amo, client):
    for i in range(260):
        amo.add_lead(f"Lead {i}")
        amo.add_note("leads", amo.add_lead(f"Noted {i}"), "common", {"text": "x"})
    assert len(ids(client.get("/leads", limit=1000), "leads")) == 250
    assert len(ids(client.get("/events", limit=250), "events")) == 100
    for bad in ("0", "x"):
        response = client.get("/leads", limit=bad)
        assert response.status_code == 400
        assert problem(response)["validation-errors"][0]["errors"][0]["path"] == "limit"

    with AmoCRMSandbox(token=TOKEN, over_limit="error", requests_per_second=None) as strict:
        response = Client(strict).get("/leads", limit=251)
        assert response.status_code == 400
        body = problem(response)
        assert body["detail"] == "Request validation failed"
        assert body["validation-errors"][0]["errors"][0]["path"] == "limit"
        assert Client(strict).get("/events", limit=101).status_code == 400


# ------------------------------------------------------------------------- filters and order


def test_updated_at_filter_takes_unix_seconds_both_ways_and_order_sorts(amo, client):
    leads = []
    for i in range(5):
        leads.append(amo.add_lead(f"Lead {i}"))
        amo.advance(60)
    amo.edit("lead", leads[0], price=10)  # now the most recently updated

    window = {"filter[updated_at][from]": T0 + 60, "filter[updated_at][to]": T0 + 180}
    assert ids(client.get("/leads", **window), "leads") == leads[1:4]  # bounds inclusive
    assert ids(client.get("/leads", **{"filter[updated_at]": T0 + 240}), "leads") == [
        leads[0],
        leads[4],
    ]
    ascending = client.get("/leads", **{"order[updated_at]": "asc"})
    assert ids(ascending, "leads") == leads[1:] + leads[:1]
    descending = client.get(
        "/leads", **{"order[updated_at]": "desc", "filter[updated_at][from]": T0}
    )
    assert ids(descending, "leads") == leads[:1] + leads[1:][::-1]
    assert ids(client.get("/leads", **{"order[id]": "desc"}), "leads") == leads[::-1]
    assert client.get("/leads", **{"filter[updated_at][from]": T0 + 9999}).status_code == 204

    response = client.get("/leads", **{"order[price]": "asc"})
    assert response.status_code == 400
    assert client.get("/leads", **{"filter[updated_at][from]": "yesterday"}).status_code == 400


def test_alpha_filters_off_ignores_updated_at_so_a_client_must_scan_by_order():
    with AmoCRMSandbox(
        token=TOKEN, start=START, alpha_filters=False, requests_per_second=None
    ) as box:
        client = Client(box)
        old = box.add_lead("Old")
        box.advance(3600)
        new = box.add_lead("New")
        filtered = client.get("/leads", **{"filter[updated_at][from]": T0 + 1800})
        assert ids(filtered, "leads") == [old, new]  # the filter is silently ignored
        newest_first = client.get("/leads", **{"order[updated_at]": "desc"})
        assert ids(newest_first, "leads") == [new, old]
        box.alpha_filters = True
        assert ids(client.get("/leads", **{"filter[updated_at][from]": T0 + 1800}), "leads") == [
            new
        ]


def test_leads_filter_by_pipeline_status_and_owner(amo, client):
    ann = amo.add_user("Ann", "ann@agency.test")
    other = amo.add_pipeline("Upsell")
    mine = amo.add_lead("Mine", responsible_user_id=ann)
    upsell = amo.add_lead("Upsell", pipeline_id=other)
    amo.close_lead(upsell, won=True)

    assert ids(client.get("/leads", **{"filter[responsible_user_id]": ann}), "leads") == [mine]
    assert ids(client.get("/leads", **{"filter[pipeline_id][]": other}), "leads") == [upsell]
    won = {"filter[statuses][0][pipeline_id]": other, "filter[statuses][0][status_id]": 142}
    assert ids(client.get("/leads", **won), "leads") == [upsell]
    assert ids(client.get("/leads", **{"filter[id]": f"{mine},{upsell}"}), "leads") == [
        mine,
        upsell,
    ]


# ------------------------------------------------------------------------- records


def test_leads_carry_the_documented_fields_and_close_as_142_or_143(amo, client):
    ann = amo.add_user("Ann", "ann@agency.test")
    acme = amo.add_company("Acme")
    bob = amo.add_contact("Bob Smith", company=acme)
    won = amo.add_lead("Won", price=5000, company=acme, contacts=[bob], responsible_user_id=ann)
    lost = amo.add_lead("Lost", price=700)
    amo.advance(86400)
    amo.close_lead(won, won=True)
    amo.close_lead(lost, won=False, loss_reason_id=7)

    leads = {lead["id"]: lead for lead in client.get("/leads").json()["_embedded"]["leads"]}
    lead = leads[won]
    assert {
        k: lead[k]
        for k in ("name", "price", "responsible_user_id", "status_id", "created_at", "updated_at")
    } == {
        "name": "Won",
        "price": 5000,
        "responsible_user_id": ann,
        "status_id": WON_STATUS,
        "created_at": T0,
        "updated_at": T0 + 86400,
    }
    assert lead["closed_at"] == T0 + 86400 and lead["pipeline_id"] == amo.main_pipeline
    assert lead["is_deleted"] is False
    assert [c["id"] for c in lead["_embedded"]["companies"]] == [acme]
    assert "contacts" not in lead["_embedded"]
    assert leads[lost]["status_id"] == LOST_STATUS and leads[lost]["loss_reason_id"] == 7
    assert leads[lost]["_embedded"]["companies"] == []  # always present, even when empty

    (with_contacts,) = client.get("/leads", **{"filter[id]": won, "with": "contacts"}).json()[
        "_embedded"
    ]["leads"]
    assert [(c["id"], c["is_main"]) for c in with_contacts["_embedded"]["contacts"]] == [
        (bob, True)
    ]
    assert client.get(f"/leads/{won}").json()["status_id"] == WON_STATUS


def test_every_pipeline_holds_statuses_142_and_143(amo, client):
    amo.add_pipeline("Upsell", statuses=("Offer",))
    pipelines = client.get("/leads/pipelines").json()["_embedded"]["pipelines"]
    assert len(pipelines) == 2
    for pipeline in pipelines:
        statuses = {s["id"]: s for s in pipeline["_embedded"]["statuses"]}
        assert {WON_STATUS, LOST_STATUS} <= set(statuses)
        assert statuses[WON_STATUS]["pipeline_id"] == pipeline["id"]
        assert not statuses[WON_STATUS]["is_editable"]


def test_users_companies_contacts_and_links(amo, client):
    ann = amo.add_user("Ann", "Ann@Agency.test")
    gone = amo.add_user("Gone", "gone@agency.test", is_active=False)
    acme = amo.add_company("Acme", web="acme.test", email="hi@acme.test")
    bob = amo.add_contact("Bob Smith", company=acme, email="bob@acme.test")
    lead = amo.add_lead("Deal", company=acme, contacts=[bob])

    users = {u["id"]: u for u in client.get("/users").json()["_embedded"]["users"]}
    assert users[ann]["email"] == "Ann@Agency.test" and users[ann]["name"] == "Ann"
    assert users[ann]["rights"]["is_active"] is True
    assert users[gone]["rights"]["is_active"] is False
    assert users[amo.admin]["rights"]["is_admin"] is True

    (company,) = client.get("/companies").json()["_embedded"]["companies"]
    assert company["name"] == "Acme" and company["updated_at"] == T0
    fields = {f["field_code"]: f["values"][0]["value"] for f in company["custom_fields_values"]}
    assert fields == {"WEB": "acme.test", "EMAIL": "hi@acme.test"}
    (contact,) = client.get("/contacts").json()["_embedded"]["contacts"]
    assert [c["id"] for c in contact["_embedded"]["companies"]] == [acme]

    links = client.get("/contacts/links", **{"filter[entity_id][]": bob}).json()["_embedded"]
    assert {(x["to_entity_type"], x["to_entity_id"]) for x in links["links"]} == {
        ("companies", acme),
        ("leads", lead),
    }
    narrowed = client.get(f"/leads/{lead}/links", **{"filter[to_entity_type]": "contacts"}).json()[
        "_embedded"
    ]["links"]
    assert narrowed == [
        {
            "entity_id": lead,
            "entity_type": "leads",
            "to_entity_id": bob,
            "to_entity_type": "contacts",
            "metadata": {"main_contact": True},
        }
    ]
    assert client.get("/contacts/links").status_code == 400


# ------------------------------------------------------------------------- deletions and merges


def test_a_deleted_lead_shows_only_with_only_deleted_and_in_a_delete_event(amo, client):
    keep = amo.add_lead("Keep")
    gone = amo.add_lead("Gone")
    amo.advance(120)
    amo.delete("lead", gone)

    assert ids(client.get("/leads"), "leads") == [keep]
    deleted = client.get("/leads", **{"with": "only_deleted"}).json()["_embedded"]["leads"]
    assert deleted == [{"id": gone, "updated_at": T0 + 120, "is_deleted": True}]
    assert client.get(f"/leads/{gone}").status_code == 204
    (event,) = client.get("/events", **{"filter[type]": "lead_deleted"}).json()["_embedded"][
        "events"
    ]
    assert (event["entity_type"], event["entity_id"], event["created_at"]) == (
        "lead",
        gone,
        T0 + 120,
    )
    assert isinstance(event["id"], str)

    amo.restore("lead", gone)
    assert client.get("/leads", **{"with": "only_deleted"}).status_code == 204
    assert set(ids(client.get("/leads"), "leads")) == {keep, gone}


def test_a_deleted_company_leaves_lists_and_its_leads_with_only_an_event(amo, client):
    acme = amo.add_company("Acme")
    lead = amo.add_lead("Deal", company=acme)
    amo.delete("company", acme)
    assert client.get("/companies").status_code == 204
    assert client.get("/companies", **{"with": "only_deleted"}).status_code == 204
    assert client.get(f"/leads/{lead}").json()["_embedded"]["companies"] == []
    types = {e["type"] for e in client.get("/events").json()["_embedded"]["events"]}
    assert "company_deleted" in types


def test_a_merge_moves_notes_and_links_to_the_survivor_and_writes_entity_merged(amo, client):
    keep = amo.add_company("Acme")
    dup = amo.add_company("ACME Ltd")
    bob = amo.add_contact("Bob", company=dup)
    lead = amo.add_lead("Deal", company=dup)
    note = amo.add_call("companies", dup)
    amo.advance(60)
    amo.merge("company", keep, [dup])

    assert ids(client.get("/companies"), "companies") == [keep]
    assert client.get(f"/leads/{lead}").json()["_embedded"]["companies"][0]["id"] == keep
    assert client.get(f"/contacts/{bob}").json()["_embedded"]["companies"][0]["id"] == keep
    (moved,) = client.get(f"/companies/{keep}/notes").json()["_embedded"]["notes"]
    assert (moved["id"], moved["entity_id"], moved["updated_at"]) == (note, keep, T0 + 60)
    (merged,) = client.get("/events", **{"filter[type]": "entity_merged"}).json()["_embedded"][
        "events"
    ]
    assert merged["entity_id"] == keep and merged["entity_type"] == "company"
    assert merged["value_before"] == [{"entity": {"id": dup}}]


# ------------------------------------------------------------------------- notes and tasks


def test_notes_are_listed_per_entity_type_with_their_params_and_filters(amo, client):
    acme = amo.add_company("Acme")
    lead = amo.add_lead("Deal", company=acme)
    other = amo.add_lead("Other")
    answered = amo.add_call("leads", lead, direction="in", duration=95, call_status=CALL_ANSWERED)
    missed = amo.add_call("leads", other, direction="in", duration=0, call_status=CALL_NO_ANSWER)
    amo.advance(60)
    inbound = amo.add_email("companies", acme, incoming=True, subject="Question")
    outbound = amo.add_email("companies", acme, incoming=False, subject="Answer")
    sms = amo.add_note("leads", lead, "sms_out", {"text": "Hi", "phone": "+7999"})
    amo.add_note("contacts", amo.add_contact("Bob"), "common", {"text": "met at a fair"})

    lead_notes = client.get("/leads/notes").json()["_embedded"]["notes"]
    assert [n["id"] for n in lead_notes] == [answered, missed, sms]
    call = lead_notes[0]
    assert call["note_type"] == "call_in" and call["entity_id"] == lead
    assert call["params"]["duration"] == 95 and call["params"]["call_status"] == CALL_ANSWERED
    assert {"phone", "call_result", "call_status", "duration"} <= set(call["params"])
    assert (call["created_at"], call["updated_at"]) == (T0, T0)

    mails = client.get("/companies/notes").json()["_embedded"]["notes"]
    assert [(n["id"], n["params"]["income"]) for n in mails] == [(inbound, True), (outbound, False)]
    assert ids(client.get("/contacts/notes"), "notes") != []

    by_type = client.get("/leads/notes", **{"filter[note_type][]": ["call_in", "call_out"]})
    assert ids(by_type, "notes") == [answered, missed]
    assert ids(client.get("/leads/notes", **{"filter[entity_id]": other}), "notes") == [missed]
    assert ids(client.get(f"/leads/{lead}/notes"), "notes") == [answered, sms]
    recent = client.get("/leads/notes", **{"filter[updated_at][from]": T0 + 60})
    assert ids(recent, "notes") == [sms]
    assert client.get(f"/leads/{lead}/notes/{answered}").json()["id"] == answered

    amo.advance(60)
    amo.edit("note", missed, params={"call_status": CALL_ANSWERED, "duration": 30})
    newest = client.get("/leads/notes", **{"order[updated_at]": "desc"})
    assert ids(newest, "notes")[0] == missed


def test_tasks_carry_type_completion_and_deadline_and_filter(amo, client):
    lead = amo.add_lead("Deal")
    call = amo.add_task("leads", lead, task_type_id=TASK_CALL, complete_till=T0 + 3600)
    meeting = amo.add_task("leads", lead, task_type_id=TASK_MEETING, text="Kick-off")
    amo.advance(7200)
    amo.complete_task(meeting, result="Took place")

    tasks = {t["id"]: t for t in client.get("/tasks").json()["_embedded"]["tasks"]}
    assert tasks[call]["task_type_id"] == 1 and tasks[call]["is_completed"] is False
    assert tasks[call]["complete_till"] == T0 + 3600 and tasks[call]["result"] == []
    assert tasks[call]["entity_type"] == "leads" and tasks[call]["entity_id"] == lead
    assert tasks[meeting]["is_completed"] is True
    assert tasks[meeting]["result"] == {"text": "Took place"}
    assert tasks[meeting]["updated_at"] == T0 + 7200

    done = client.get("/tasks", **{"filter[is_completed]": 1, "filter[task_type][]": 2})
    assert ids(done, "tasks") == [meeting]
    changed = client.get("/tasks", **{"filter[updated_at][from]": T0 + 60})
    assert ids(changed, "tasks") == [meeting]


# ------------------------------------------------------------------------- events


def test_events_filter_by_type_entity_and_the_three_created_at_forms(amo, client):
    lead = amo.add_lead("Deal")  # lead_added at T0
    amo.advance(100)
    amo.edit("lead", lead, status_id=amo.open_status())  # same status: no event
    amo.close_lead(lead, won=True)  # lead_status_changed at T0+100
    amo.advance(100)
    amo.add_call("leads", lead, direction="out")  # outgoing_call at T0+200
    company = amo.add_company("Acme")  # company_added at T0+200

    everything = client.get("/events").json()["_embedded"]["events"]
    assert [e["created_at"] for e in everything] == sorted(
        (e["created_at"] for e in everything), reverse=True
    )
    status = client.get("/events", **{"filter[type]": "lead_status_changed"}).json()
    (changed,) = status["_embedded"]["events"]
    assert changed["value_after"] == [
        {"lead_status": {"id": WON_STATUS, "pipeline_id": amo.main_pipeline}}
    ]

    def types(**params):
        return sorted(
            e["type"] for e in client.get("/events", **params).json()["_embedded"]["events"]
        )

    assert types(**{"filter[created_at]": T0 + 100}) == [
        "company_added",
        "lead_status_changed",
        "outgoing_call",
    ]
    assert types(**{"filter[created_at]": f"{T0},{T0 + 100}"}) == [
        "lead_added",
        "lead_status_changed",
    ]
    assert types(**{"filter[created_at][from]": T0 + 150, "filter[created_at][to]": T0 + 200}) == [
        "company_added",
        "outgoing_call",
    ]
    assert types(**{"filter[entity]": "company"}) == ["company_added"]
    assert types(**{"filter[entity]": "lead", "filter[entity_id]": lead}) == [
        "lead_added",
        "lead_status_changed",
        "outgoing_call",
    ]
    assert types(**{"filter[type]": "lead_added,company_added"}) == ["company_added", "lead_added"]
    assert client.get("/events", **{"filter[entity_id]": company}).status_code == 400
    assert client.get("/events", **{"filter[type]": "lead_deleted"}).status_code == 204

    keys = {t["key"] for t in client.get("/events/types").json()["_embedded"]["events_types"]}
    assert {"lead_deleted", "company_deleted", "entity_merged", "incoming_call"} <= keys


def test_events_are_paged_at_most_100_with_string_ids(amo, client):
    for i in range(150):
        amo.add_lead(f"Lead {i}")
    pages, last = client.walk("/events", limit=100)
    assert [len(page["_embedded"]["events"]) for page in pages] == [100, 50]
    seen = [e["id"] for page in pages for e in page["_embedded"]["events"]]
    assert len(set(seen)) == 150 and all(isinstance(i, str) and len(i) == 26 for i in seen)


# ------------------------------------------------------------------------- rate limit, IP block


def test_more_than_7_requests_a_second_get_429_then_repeats_block_the_ip_for_its_time():
    with AmoCRMSandbox(token=TOKEN, block_after=3, block_seconds=600) as box:
        client = Client(box)
        statuses = [client.get("/users").status_code for _ in range(10)]
        assert statuses == [200] * 7 + [429] * 3
        response = client.get("/users")
        assert response.status_code == 403
        assert box.blocked()
        # Every request now: another path, no token, a bad token.
        assert client.get("/leads").status_code == 403
        assert Client(box, token=None).get("/users").status_code == 403
        assert Client(box, token="nope").get("/leads/pipelines").status_code == 403
        box.advance(599)
        assert client.get("/users").status_code == 403
        box.advance(2)
        assert client.get("/users").status_code == 200
        assert not box.blocked()


def test_the_429_body_is_not_json_by_default_and_a_switch_makes_it_problem_json():
    with AmoCRMSandbox(token=TOKEN) as box:
        client = Client(box)
        responses = [client.get("/users") for _ in range(8)]
        limited = responses[-1]
        assert limited.status_code == 429 and "Retry-After" not in limited.headers
        assert limited.headers["Content-Type"] == "text/html"
        assert b"429 Too Many Requests" in limited.content
        box.advance(1.5)  # a second later the window has room again
        assert client.get("/users").status_code == 200

    with AmoCRMSandbox(token=TOKEN, rate_limit_body="json") as box:
        client = Client(box)
        limited = [client.get("/users") for _ in range(8)][-1]
        assert limited.status_code == 429 and problem(limited)["status"] == 429

    with AmoCRMSandbox(token=TOKEN, rate_limit_body="empty") as box:
        client = Client(box)
        limited = [client.get("/users") for _ in range(8)][-1]
        assert limited.status_code == 429 and limited.content == b""


def test_block_ip_switch_blocks_at_once(amo, client):
    amo.block_ip(seconds=60)
    assert client.get("/users").status_code == 403
    amo.advance(61)
    assert client.get("/users").status_code == 200


# ------------------------------------------------------------------------- faults


def test_fail_next_answers_5xx_on_a_path_after_letting_some_through(amo, client):
    amo.add_lead("Deal")
    amo.fail_next(2, 503, path="/leads", after=1)
    assert client.get("/users").status_code == 200  # another path is untouched
    assert [client.get("/leads").status_code for _ in range(4)] == [200, 503, 503, 200]
    amo.fail_next(1, 502)
    response = client.get("/users")
    assert response.status_code == 502 and response.headers["Content-Type"] == "text/html"
    amo.fail_next(1, 500)
    assert problem(client.get("/users"))["status"] == 500


def test_a_slow_response_trips_the_clients_read_timeout(amo, client):
    amo.slow_next(1, seconds=0.6)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.get("/users", timeout=0.2)
    assert time.monotonic() - started < 0.5
    assert client.get("/users").status_code == 200


def test_a_record_updated_mid_sync_shifts_pages_so_a_naive_walk_misses_one(amo, client):
    leads = []
    for i in range(6):
        leads.append(amo.add_lead(f"Lead {i}"))
        amo.advance(1)
    # After the first page is answered, lead 0 (already read) is edited: it moves to the end.
    amo.on_request(lambda box: box.edit("lead", leads[0], price=1), path="/leads")

    pages, _ = client.walk("/leads", limit=2, **{"order[updated_at]": "asc"})

    seen = [i for page in pages for i in ids(page, "leads")]
    assert leads[2] not in seen  # shifted from page 2 onto page 1, already read
    assert seen == [leads[0], leads[1], leads[3], leads[4], leads[5], leads[0]]
    # Re-reading from the watermark of the first page finds it.
    again = client.get("/leads", **{"filter[updated_at][from]": T0 + 1, "limit": 250})
    assert leads[2] in ids(again, "leads")


def test_webhook_deliveries_are_form_encoded_unsigned_and_retried_on_the_sandbox_clock(amo):
    received, answers = [], [500, 500, 200]

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - stdlib name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), dict(parse_qsl(body.decode()))))
            self.send_response(answers.pop(0) if answers else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = amo.add_webhook(
            f"http://127.0.0.1:{server.server_address[1]}/hook", ["add_lead", "status_lead"]
        )
        lead = amo.add_lead("Deal", price=100)
        amo.add_company("Not subscribed")
        assert amo.deliver_webhooks() == [(hook, 500)]
        assert amo.deliver_webhooks() == []  # the retry waits 5 minutes
        amo.advance(299)
        assert amo.deliver_webhooks() == []
        amo.advance(1)
        assert amo.deliver_webhooks() == [(hook, 500)]
        amo.advance(900)
        assert amo.deliver_webhooks() == [(hook, 200)]
        assert amo.pending_deliveries() == 0
        amo.close_lead(lead, won=True)
        assert amo.deliver_webhooks() == [(hook, 200)]
    finally:
        server.shutdown()
        server.server_close()

    headers, form = received[0]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert not any("signature" in name.lower() for name in headers)
    assert form["leads[add][0][id]"] == str(lead) and form["leads[add][0][price]"] == "100"
    assert form["account[subdomain]"] == "sandbox" and "account[id]" in form
    status = received[-1][1]
    assert status["leads[status][0][status_id]"] == str(WON_STATUS)
    assert status["leads[status][0][old_status_id]"] == str(amo.open_status())


def test_a_webhook_is_disabled_after_more_than_100_failures_and_slow_answers_fail(amo):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    hook = amo.add_webhook(f"http://127.0.0.1:{closed_port}/", ["add_company"])
    for i in range(100):
        amo.add_company(f"Company {i}")
    assert {status for _, status in amo.deliver_webhooks()} == {None}
    assert not amo.webhooks[hook].disabled
    amo.add_company("One more")
    amo.deliver_webhooks()
    assert amo.webhooks[hook].disabled
    amo.add_company("After")
    assert amo.deliver_webhooks() == []

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - stdlib name
            time.sleep(0.5)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        amo.webhook_timeout = 0.1  # the 2 s timeout, compressed
        slow = amo.add_webhook(f"http://127.0.0.1:{server.server_address[1]}/", ["add_lead"])
        amo.add_lead("Deal")
        assert amo.deliver_webhooks() == [(slow, None)]
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------- scale


def test_100000_notes_page_through_filters_without_scanning_per_page():
    with AmoCRMSandbox(token=TOKEN, start=START, requests_per_second=None) as box:
        leads = [box.add_lead(f"Lead {i}") for i in range(200)]
        started = time.perf_counter()
        for i in range(100_000):
            if i % 1000 == 0:
                box.advance(60)
            box.add_note("leads", leads[i % 200], "common", {"text": "x"})
        assert time.perf_counter() - started < 15

        client = Client(box)
        started = time.perf_counter()
        pages, last = client.walk(
            "/leads/notes",
            limit=250,
            **{"filter[updated_at][from]": T0, "order[updated_at]": "asc"},
        )
        walked = time.perf_counter() - started
        assert len(pages) == 400 and last.status_code == 204
        assert len({n for page in pages for n in ids(page, "notes")}) == 100_000
        assert walked < 20

        # A window at the end costs what one at the start does: a bisect and a slice.
        timings = []
        for offset in (60, 60 * 100):
            started = time.perf_counter()
            response = client.get(
                "/leads/notes", limit=250, **{"filter[updated_at][from]": T0 + offset}
            )
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200
        assert max(timings) < 0.5
        one_lead = client.get(f"/leads/{leads[7]}/notes", limit=250)
        assert len(ids(one_lead, "notes")) == 250


def test_webhooks_are_created_listed_and_deleted_through_the_api(amo, client):
    url = amo.api_url + "/webhooks"
    assert client.session.get(url, timeout=5).status_code == 204
    created = client.session.post(
        url, json={"destination": "https://godview.test/hooks/amo", "settings": ["add_lead"]}
    )
    assert created.status_code == 200 and created.json()["settings"] == ["add_lead"]
    listed = client.session.get(url, timeout=5).json()["_embedded"]["webhooks"]
    assert [h["destination"] for h in listed] == ["https://godview.test/hooks/amo"]
    assert client.session.post(url, json={"destination": "x"}).status_code == 400
    gone = client.session.delete(url, json={"destination": "https://godview.test/hooks/amo"})
    assert gone.status_code == 204 and amo.webhooks == {}
