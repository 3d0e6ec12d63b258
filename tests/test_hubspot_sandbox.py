"""The HubSpot sandbox, driven with ``requests`` as the adapter drives it, and its answers
checked against the response schemas of HubSpot's generated Python SDK.

No database: the sandbox is a standard-library HTTP server in a thread of the test process.
"""

import gzip
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
from requests.adapters import HTTPAdapter

from integrations.crm.hubspot_sandbox import HubSpotSandbox, iso_ms, sign_v1, sign_v2, sign_v3

TOKEN = "pat-na1-sandbox-test"
START = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
# Response schemas rebuilt from hubspot-api-client 12.0.0 (see tests/data/hubspot/README.md).
SCHEMAS_PATH = Path(__file__).resolve().parent / "data" / "hubspot" / "hubspot_sdk_schemas.json.gz"
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def make_session(token=TOKEN):
    """A session as the adapter builds one: Bearer token, no hidden urllib3 retries."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=0))
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


class Client:
    """Thin helpers over a session: ``get``/``post`` a path of the sandbox."""

    def __init__(self, sandbox, token=TOKEN):
        self.sandbox, self.session = sandbox, make_session(token)

    def get(self, path, timeout=5, **params):
        return self.session.get(self.sandbox.base_url + path, params=params, timeout=timeout)

    def post(self, path, body, timeout=5):
        return self.session.post(self.sandbox.base_url + path, json=body, timeout=timeout)

    def search(self, object_type, body):
        return self.post(f"/crm/v3/objects/{object_type}/search", body)


@pytest.fixture
def hubspot():
    with HubSpotSandbox(token=TOKEN, start=START) as box:
        yield box
        assert box.errors == []  # no request hit a bug in the sandbox


@pytest.fixture
def client(hubspot):
    return Client(hubspot)


@pytest.fixture
def world(hubspot):
    ann = hubspot.add_owner("Ann@Agency.test", "Ann", "Lee", teams=[("7", "Sales", True)])
    acme = hubspot.add_company("Acme", "acme.test", owner=ann)
    globex = hubspot.add_company("Globex", "globex.test", owner=ann)
    return {"ann": ann, "acme": acme, "globex": globex}


def window(since_ms, until_ms, after_id=None, limit=200, sort="hs_object_id", extra=()):
    """The sync's search body: a modified window, sorted by id, with an id keyset."""
    filters = [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since_ms)},
        {"propertyName": "hs_lastmodifieddate", "operator": "LTE", "value": str(until_ms)},
        *extra,
    ]
    if after_id is not None:
        filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after_id})
    return {
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
        "limit": limit,
    }


def ms(moment):
    return int(moment.timestamp() * 1000)


def is_uuid(text):
    return str(uuid.UUID(text)) == text


# ------------------------------------------------------------------------- auth


def test_missing_wrong_and_revoked_tokens_get_hubspots_401_body(hubspot, client):
    anonymous = Client(hubspot, token=None).get("/crm/v3/objects/companies")
    wrong = Client(hubspot, token="pat-na1-wrong").get("/crm/v3/objects/companies")
    for response in (anonymous, wrong):
        body = response.json()
        assert response.status_code == 401
        assert set(body) == {"status", "message", "correlationId", "category"}
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found.")
        assert is_uuid(body["correlationId"])
        assert response.headers["x-hubspot-correlation-id"] == body["correlationId"]
        assert "X-HubSpot-RateLimit-Max" not in response.headers

    assert client.get("/crm/v3/objects/companies").status_code == 200
    hubspot.revoke_token()
    revoked = client.get("/crm/v3/objects/companies")
    assert revoked.status_code == 401
    assert revoked.json()["category"] == "INVALID_AUTHENTICATION"
    assert [r.status for r in hubspot.request_log] == [401, 401, 200, 401]


def test_expired_oauth_token_answers_expired_authentication_with_its_expiry(hubspot):
    hubspot.add_token("oauth-1", oauth=True, expires_at=START + timedelta(minutes=30))
    oauth = Client(hubspot, token="oauth-1")
    assert oauth.get("/crm/v3/objects/deals").status_code == 200
    hubspot.advance(30 * 60 + 5)

    response = oauth.get("/crm/v3/objects/deals")

    body = response.json()
    assert response.status_code == 401
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert body["message"] == "The OAuth token used to make this call expired 5 second(s) ago."
    assert body["context"] == {"expire time": ["2025-03-03T12:30:00.000Z"]}


def test_a_token_without_a_scope_gets_403_missing_scopes_for_that_object_only(hubspot):
    hubspot.add_token("narrow", scopes={"crm.objects.companies.read"})
    narrow = Client(hubspot, token="narrow")
    assert narrow.get("/crm/v3/objects/companies").status_code == 200

    response = narrow.get("/crm/v3/objects/deals")

    body = response.json()
    assert response.status_code == 403
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"] == [
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": ["crm.objects.deals.read"]},
        }
    ]
    assert is_uuid(body["correlationId"])
    owners = narrow.get("/crm/v3/owners")
    assert owners.json()["errors"][0]["context"]["requiredGranularScopes"] == [
        "crm.objects.owners.read"
    ]


# ------------------------------------------------------------------------- records


def test_records_have_string_ids_string_properties_and_iso_times_the_server_maintains(
    hubspot, client, world
):
    deal = hubspot.add_deal(
        "Retainer",
        amount=1200.5,
        stage="closedwon",
        close_date="2025-02-28T17:00:00Z",
        owner=world["ann"],
        company=world["acme"],
    )
    hubspot.advance(90)
    hubspot.edit(deal, amount="1300")

    response = client.get(
        f"/crm/v3/objects/deals/{deal}",
        properties=["dealname", "amount,closedate", "hs_is_closed_won", "no_such_property"],
    )

    record = response.json()
    assert response.status_code == 200
    assert record["id"] == deal and isinstance(record["id"], str)
    assert record["properties"] == {
        "amount": "1300",
        "closedate": "2025-02-28T17:00:00.000Z",
        "dealname": "Retainer",
        "hs_is_closed_won": "true",
    }
    assert record["createdAt"] == "2025-03-03T12:00:00.000Z"
    assert record["updatedAt"] == "2025-03-03T12:01:30.000Z"
    assert record["archived"] is False
    default = client.get(f"/crm/v3/objects/deals/{deal}").json()["properties"]
    assert default["hs_lastmodifieddate"] == "2025-03-03T12:01:30.000Z"
    assert default["createdate"] == "2025-03-03T12:00:00.000Z"
    assert default["hs_object_id"] == deal
    assert default["pipeline"] == "default"
    # Known but unset properties come back null; the 2026-03 and 0-3 paths are aliases.
    asked = client.get(f"/crm/v3/objects/deals/{deal}", properties="closed_lost_reason")
    assert asked.json()["properties"] == {"closed_lost_reason": None}
    assert (
        client.get(f"/crm/objects/2026-03/0-3/{deal}").json()
        == client.get(f"/crm/v3/objects/0-3/{deal}").json()
    )


def test_deal_closed_flags_follow_the_stage_and_activities_carry_what_the_sync_reads(
    hubspot, client, world
):
    won = hubspot.add_deal("Won", amount="10", stage="closedwon")
    lost = hubspot.add_deal("Lost", stage="closedlost")
    open_deal = hubspot.add_deal("Open", stage="contractsent")
    flags = ["hs_is_closed", "hs_is_closed_won", "hs_is_closed_lost"]
    read = {
        d: client.get(f"/crm/v3/objects/deals/{d}", properties=flags).json()["properties"]
        for d in (won, lost, open_deal)
    }
    assert read[won] == {
        "hs_is_closed": "true",
        "hs_is_closed_won": "true",
        "hs_is_closed_lost": "false",
    }
    assert read[lost] == {
        "hs_is_closed": "true",
        "hs_is_closed_won": "false",
        "hs_is_closed_lost": "true",
    }
    assert read[open_deal]["hs_is_closed"] == "false"
    hubspot.edit(open_deal, dealstage="closedwon")
    after = client.get(f"/crm/v3/objects/deals/{open_deal}", properties="hs_is_closed_won")
    assert after.json()["properties"]["hs_is_closed_won"] == "true"

    start = START + timedelta(days=2)
    meeting = hubspot.add_meeting(world["acme"], start=start, outcome="CANCELED")
    call = hubspot.add_call(world["acme"], at=START, direction="INBOUND", status="NO_ANSWER")
    email = hubspot.add_email(world["acme"], at=START, direction="INCOMING_EMAIL")
    m = client.get(
        f"/crm/v3/objects/meetings/{meeting}",
        properties="hs_timestamp,hs_meeting_start_time,hs_meeting_outcome",
    ).json()["properties"]
    assert m == {
        "hs_meeting_outcome": "CANCELED",
        "hs_meeting_start_time": "2025-03-05T12:00:00.000Z",
        "hs_timestamp": "2025-03-05T12:00:00.000Z",  # defaults to the start time
    }
    c = client.get(
        f"/crm/v3/objects/calls/{call}", properties=["hs_call_direction", "hs_call_status"]
    )
    assert c.json()["properties"] == {"hs_call_direction": "INBOUND", "hs_call_status": "NO_ANSWER"}
    e = client.get(f"/crm/v3/objects/emails/{email}", properties="hs_email_direction")
    assert e.json()["properties"] == {"hs_email_direction": "INCOMING_EMAIL"}


# ------------------------------------------------------------------------- lists


def test_lists_page_with_opaque_cursors_and_no_paging_on_the_last_page(hubspot, client):
    ids = [hubspot.add_company(f"Client {i}") for i in range(25)]

    seen, pages, after = [], 0, None
    while True:
        params = {"limit": 10, **({"after": after} if after else {})}
        body = client.get("/crm/v3/objects/companies", **params).json()
        seen += [r["id"] for r in body["results"]]
        pages += 1
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
        assert not after.isdigit()  # opaque: the sync must pass it back, not compute it
        assert body["paging"]["next"]["link"].startswith(hubspot.base_url)

    assert seen == ids and pages == 3
    assert len(client.get("/crm/v3/objects/companies").json()["results"]) == 10  # default
    assert len(client.get("/crm/v3/objects/companies", limit=500).json()["results"]) == 25
    assert client.get("/crm/v3/objects/companies", after="not-a-cursor").status_code == 400


def test_list_limit_is_capped_at_100_or_rejected_when_strict(hubspot, client):
    hubspot.add_many("calls", 150)
    assert len(client.get("/crm/v3/objects/calls", limit=150).json()["results"]) == 100
    hubspot.strict_list_limit = True
    response = client.get("/crm/v3/objects/calls", limit=150)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_archived_records_are_listed_only_with_archived_true_until_purged(hubspot, client, world):
    call = hubspot.add_call(world["acme"])
    kept = hubspot.add_call(world["acme"])
    hubspot.advance(60)
    hubspot.archive(call)

    live = client.get("/crm/v3/objects/calls").json()["results"]
    archived = client.get("/crm/v3/objects/calls", archived="true").json()["results"]

    assert [r["id"] for r in live] == [kept]
    assert [(r["id"], r["archived"], r["archivedAt"]) for r in archived] == [
        (call, True, "2025-03-03T12:01:00.000Z")
    ]
    missing = client.get(f"/crm/v3/objects/calls/{call}")
    assert missing.status_code == 404 and missing.content == b""
    assert client.get(f"/crm/v3/objects/calls/{call}", archived="true").status_code == 200
    hubspot.advance(91 * 86400)
    assert client.get("/crm/v3/objects/calls", archived="true").json()["results"] == []
    assert client.get(f"/crm/v3/objects/calls/{call}", archived="true").status_code == 404
    links = client.get(f"/crm/v4/objects/companies/{world['acme']}/associations/calls")
    assert [r["toObjectId"] for r in links.json()["results"]] == [kept]


# ------------------------------------------------------------------------- search


def test_search_windows_on_last_modified_in_ms_or_iso_with_total_and_paging(hubspot, client, world):
    hubspot.search_per_second = 50  # not what this test is about
    early = hubspot.add_call(world["acme"])
    hubspot.advance(60)
    middle = [hubspot.add_call(world["acme"]) for _ in range(5)]
    hubspot.advance(60)
    late = hubspot.add_call(world["acme"])
    low, high = START + timedelta(seconds=30), START + timedelta(seconds=90)

    by_ms = client.search("calls", window(ms(low), ms(high), limit=2)).json()
    iso = window(0, 0, limit=200)
    iso["filterGroups"][0]["filters"][0]["value"] = low.isoformat()
    iso["filterGroups"][0]["filters"][1]["value"] = "2025-03-03T12:01:30Z"

    assert by_ms["total"] == 5
    assert [r["id"] for r in by_ms["results"]] == middle[:2]
    assert by_ms["paging"] == {"next": {"after": "2"}}
    assert [r["id"] for r in client.search("calls", iso).json()["results"]] == middle
    last = client.search("calls", {**window(ms(low), ms(high), limit=2), "after": "4"}).json()
    assert [r["id"] for r in last["results"]] == middle[4:] and "paging" not in last
    gt = {"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": str(ms(high))}
    after_high = client.search("calls", {"filterGroups": [{"filters": [gt]}]}).json()
    assert [r["id"] for r in after_high["results"]] == [late]
    eq = {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": str(ms(START))}
    assert [
        r["id"]
        for r in client.search("calls", {"filterGroups": [{"filters": [eq]}]}).json()["results"]
    ] == [early]
    lt = {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": iso_ms(ms(low))}
    assert client.search("calls", {"filterGroups": [{"filters": [lt]}]}).json()["total"] == 1


def test_search_honours_only_the_first_sort_and_excludes_archived_records(hubspot, client):
    first = hubspot.add_company("B")
    hubspot.advance(1)
    second = hubspot.add_company("A")
    hubspot.advance(1)
    gone = hubspot.add_company("C")
    hubspot.archive(gone)

    body = {
        "sorts": [
            {"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"},
            {"propertyName": "name", "direction": "ASCENDING"},
        ],
        "properties": ["name"],
    }
    results = client.search("companies", body).json()["results"]

    assert [r["id"] for r in results] == [second, first]
    assert results[0]["properties"] == {"name": "A"}
    by_name = client.search(
        "companies", {"sorts": [{"propertyName": "name", "direction": "ASCENDING"}]}
    )
    assert [r["id"] for r in by_name.json()["results"]] == [second, first]


def test_search_limit_is_200_and_paging_past_10000_answers_400(hubspot, client):
    hubspot.search_per_second = 50
    assert client.search("calls", {"limit": 201}).status_code == 400
    hubspot.add_many("calls", 10_050)
    assert client.search("calls", {"limit": 200, "after": "9900"}).json()["paging"] == {
        "next": {"after": "10000"}
    }

    response = client.search("calls", {"limit": 200, "after": "10000"})

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_more_than_10000_records_on_one_millisecond_need_an_id_keyset(hubspot, client):
    """HubSpot's bulk updates put >10k records on one hs_lastmodifieddate: a timestamp cursor
    cannot move past them, an id keyset inside the millisecond can."""
    hubspot.search_per_second = 1000  # the search limit has its own test
    stamp = START + timedelta(hours=1)
    ids = hubspot.add_many("calls", 10_500, at=stamp)
    same_ms = window(ms(stamp), ms(stamp))
    assert client.search("calls", same_ms).json()["total"] == 10_500

    collected, after_id = [], None
    while True:
        page = client.search("calls", window(ms(stamp), ms(stamp), after_id=after_id)).json()
        collected += [r["id"] for r in page["results"]]
        if "paging" not in page:
            break
        after_id = collected[-1]

    assert collected == ids
    assert all(r.path.endswith("/search") for r in hubspot.calls("/crm/v3/objects/calls"))


def test_bulk_touch_moves_existing_records_onto_one_timestamp(hubspot, client):
    ids = hubspot.add_many("companies", 300)
    stamp = START + timedelta(days=30)
    hubspot.touch_many(ids[:250], at=stamp)

    body = client.search("companies", window(ms(stamp), ms(stamp))).json()

    assert body["total"] == 250
    record = client.get(f"/crm/v3/objects/companies/{ids[0]}").json()
    assert record["updatedAt"] == iso_ms(ms(stamp))


def test_search_lags_behind_writes_by_the_configured_indexing_delay(client, hubspot, world):
    hubspot.search_lag = 30.0
    call = hubspot.add_call(world["acme"], direction="OUTBOUND")
    everything = {"properties": ["hs_call_direction"]}
    assert client.search("calls", everything).json()["total"] == 0
    assert client.get(f"/crm/v3/objects/calls/{call}").status_code == 200  # reads are current

    hubspot.advance(30)
    assert client.search("calls", everything).json()["total"] == 1
    hubspot.edit(call, hs_call_direction="INBOUND")
    stale = client.search("calls", everything).json()["results"][0]
    assert stale["properties"]["hs_call_direction"] == "OUTBOUND"
    hubspot.advance(30)
    fresh = client.search("calls", everything).json()["results"][0]
    assert fresh["properties"]["hs_call_direction"] == "INBOUND"


def test_search_has_its_own_5_per_second_limit_and_no_rate_limit_headers(hubspot, client):
    answers = [client.search("deals", {}) for _ in range(6)]

    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert not [h for h in answers[0].headers if h.lower().startswith("x-hubspot-ratelimit")]
    body = answers[-1].json()
    assert body["message"] == "You have reached your secondly limit."
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "SECONDLY"
    assert "Retry-After" not in answers[-1].headers
    assert client.get("/crm/v3/objects/deals").status_code == 200  # other calls unaffected
    hubspot.advance(1)
    assert client.search("deals", {}).status_code == 200


# ------------------------------------------------------------------------- batch read


def test_batch_read_answers_207_with_errors_for_unknown_ids(hubspot, client, world):
    body = {"inputs": [{"id": world["acme"]}, {"id": "999"}], "properties": ["domain"]}

    response = client.post("/crm/v3/objects/companies/batch/read", body)

    answer = response.json()
    assert response.status_code == 207
    assert [r["properties"] for r in answer["results"]] == [{"domain": "acme.test"}]
    assert answer["numErrors"] == 1
    assert answer["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert answer["errors"][0]["context"] == {"ids": ["999"]}
    ok = client.post("/crm/v3/objects/companies/batch/read", {"inputs": [{"id": world["acme"]}]})
    assert ok.status_code == 200 and ok.json()["status"] == "COMPLETE"
    too_many = {"inputs": [{"id": str(i)} for i in range(101)]}
    assert client.post("/crm/v3/objects/companies/batch/read", too_many).status_code == 400


# ------------------------------------------------------------------------- owners, pipelines


def test_owners_have_the_full_field_set_and_filter_by_email_and_archived(hubspot, client, world):
    gone = hubspot.add_owner("gone@agency.test", "Gone", "Away")
    hubspot.archive_owner(gone)
    queue = hubspot.add_owner("", "Support queue", queue=True)

    owners = client.get("/crm/v3/owners").json()["results"]
    by_email = client.get("/crm/v3/owners", email="ann@agency.TEST").json()["results"]
    archived = client.get("/crm/v3/owners", archived="true").json()["results"]

    assert [o["id"] for o in owners] == [world["ann"], queue]
    ann = owners[0]
    assert set(ann) == {
        "id", "email", "firstName", "lastName", "userId", "userIdIncludingInactive", "type",
        "teams", "archived", "createdAt", "updatedAt",
    }  # fmt: skip
    assert ann["type"] == "PERSON" and isinstance(ann["userId"], int)
    assert ann["teams"] == [{"id": "7", "name": "Sales", "primary": True}]
    assert owners[1]["type"] == "QUEUE"
    assert [o["id"] for o in by_email] == [world["ann"]]
    assert [(o["id"], o["archived"]) for o in archived] == [(gone, True)]
    paged = client.get("/crm/v3/owners", limit=1).json()
    assert len(paged["results"]) == 1 and "after" in paged["paging"]["next"]


def test_deal_pipeline_stages_carry_is_closed_and_probability_as_strings(hubspot, client):
    hubspot.add_pipeline("Renewals", [("101", "Open", "0.5", False), ("102", "Won", "1.0", True)])

    pipelines = client.get("/crm/v3/pipelines/deals").json()["results"]

    assert [p["label"] for p in pipelines] == ["Sales Pipeline", "Renewals"]
    stages = {s["id"]: s["metadata"] for s in pipelines[0]["stages"]}
    assert stages["closedwon"] == {"isClosed": "true", "probability": "1.0"}
    assert stages["closedlost"] == {"isClosed": "true", "probability": "0.0"}
    assert stages["appointmentscheduled"] == {"isClosed": "false", "probability": "0.2"}
    assert "paging" not in client.get("/crm/v3/pipelines/deals").json()
    assert client.get("/crm/v3/pipelines/deals/default").json()["id"] == "default"
    assert client.get("/crm/v3/pipelines/deals/nope").status_code == 404


# ------------------------------------------------------------------------- associations


def test_v4_batch_read_has_the_exact_shape_and_pages_each_input(hubspot, client, world):
    hubspot.association_page_size = 2
    deal = hubspot.add_deal("D", company=world["acme"])
    calls = [hubspot.add_call(world["acme"]) for _ in range(3)]
    bare = hubspot.add_call()

    first = client.post(
        "/crm/v4/associations/deals/companies/batch/read", {"inputs": [{"id": deal}]}
    )
    assert first.status_code == 200
    assert first.json()["results"] == [
        {
            "from": {"id": deal},
            "to": [
                {
                    "toObjectId": world["acme"],
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
                        {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None},
                    ],
                }
            ],
        }
    ]

    body = {"inputs": [{"id": world["acme"]}, {"id": "12345"}, {"id": bare}]}
    answer = client.post("/crm/v4/associations/companies/calls/batch/read", body)
    payload = answer.json()
    assert answer.status_code == 207
    (result,) = payload["results"]
    assert [t["toObjectId"] for t in result["to"]] == calls[:2]
    assert result["to"][0]["associationTypes"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": 181, "label": None}
    ]
    after = result["paging"]["next"]["after"]
    assert payload["numErrors"] == 2
    assert [e["subCategory"] for e in payload["errors"]] == [
        "crm.associations.NO_ASSOCIATIONS_FOUND"
    ] * 2
    assert payload["errors"][0]["message"] == "No call is associated with company 12345."
    assert payload["errors"][1]["context"]["fromObjectId"] == [bare]
    rest = client.post(
        "/crm/v4/associations/companies/calls/batch/read",
        {"inputs": [{"id": world["acme"], "after": after}]},
    ).json()["results"][0]
    assert [t["toObjectId"] for t in rest["to"]] == [calls[2]] and "paging" not in rest


def test_per_record_associations_page_with_limit_and_after_on_v4_and_2026_03(
    hubspot, client, world
):
    calls = [hubspot.add_call(world["acme"]) for _ in range(3)]
    path = f"/crm/v4/objects/companies/{world['acme']}/associations/calls"

    first = client.get(path, limit=2).json()
    rest = client.get(path, limit=2, after=first["paging"]["next"]["after"]).json()

    assert [r["toObjectId"] for r in first["results"] + rest["results"]] == calls
    assert "paging" not in rest
    versioned = client.get(f"/crm/objects/2026-03/0-2/{world['acme']}/associations/0-48").json()
    assert [r["toObjectId"] for r in versioned["results"]] == calls
    assert client.get(path, limit=501).status_code == 400
    hubspot.association_ids_as_numbers = True  # what HubSpot's guide shows
    assert client.get(path).json()["results"][0]["toObjectId"] == int(calls[0])


def test_an_association_added_later_does_not_bump_the_activity(hubspot, client, world):
    call = hubspot.add_call()  # logged without a company
    hubspot.advance(3600)
    hubspot.associate(call, world["globex"])
    since = START + timedelta(minutes=30)

    changed = client.search("calls", window(ms(since), ms(hubspot.now))).json()
    record = client.get(f"/crm/v3/objects/calls/{call}").json()
    links = client.post(
        "/crm/v4/associations/calls/companies/batch/read", {"inputs": [{"id": call}]}
    ).json()

    assert changed["total"] == 0  # a window sync after the first run never sees it
    assert record["updatedAt"] == iso_ms(ms(START))
    assert [t["toObjectId"] for t in links["results"][0]["to"]] == [world["globex"]]


# ------------------------------------------------------------------------- rate limits


@pytest.mark.parametrize("burst", [100, 190, 250])
def test_rate_limit_headers_count_down_the_ten_second_window_and_the_day(burst):
    with HubSpotSandbox(token=TOKEN, start=START, requests_per_10s=burst) as hubspot:
        client = Client(hubspot)
        first = client.get("/crm/v3/objects/companies").headers
        second = client.get("/crm/v3/objects/companies").headers

    assert first["X-HubSpot-RateLimit-Max"] == str(burst)
    assert first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert [h["X-HubSpot-RateLimit-Remaining"] for h in (first, second)] == [
        str(burst - 1),
        str(burst - 2),
    ]
    assert first["X-HubSpot-RateLimit-Daily"] == "250000"
    assert second["X-HubSpot-RateLimit-Daily-Remaining"] == "249998"
    assert first["X-HubSpot-RateLimit-Secondly"] == str(burst // 10)
    assert is_uuid(first["x-hubspot-correlation-id"])


def test_the_ten_second_window_answers_429_with_the_group_and_retry_after_as_a_switch():
    with HubSpotSandbox(token=TOKEN, start=START, requests_per_10s=3) as hubspot:
        client = Client(hubspot)
        answers = [client.get("/crm/v3/objects/deals") for _ in range(4)]
        limited = answers[-1]
        hubspot.retry_after = True
        with_header = client.get("/crm/v3/objects/deals")
        hubspot.advance(10)
        recovered = client.get("/crm/v3/objects/deals")

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    body = limited.json()
    assert body == {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": body["correlationId"],
        "policyName": "TEN_SECONDLY_ROLLING",
        "groupName": "publicapi:private_app-api-calls-ten-secondly:1000001:4100001",
    }
    assert "Retry-After" not in limited.headers
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert with_header.status_code == 429
    assert 1 <= int(with_header.headers["Retry-After"]) <= 10
    assert recovered.status_code == 200


def test_apps_have_their_own_window_but_share_the_daily_quota_which_resets_at_local_midnight():
    late_evening = datetime(2025, 3, 4, 4, 30, tzinfo=UTC)  # 23:30 in New York
    with HubSpotSandbox(
        token=TOKEN,
        start=late_evening,
        timezone="America/New_York",
        requests_per_10s=2,
        daily_limit=3,
        retry_after=True,
    ) as hubspot:
        hubspot.add_token("other-app", app_id=2_000_002)
        ours, theirs = Client(hubspot), Client(hubspot, token="other-app")
        statuses = [ours.get("/crm/v3/objects/deals").status_code for _ in range(2)]
        statuses.append(theirs.get("/crm/v3/objects/deals").status_code)
        hubspot.advance(10)
        daily = theirs.get("/crm/v3/objects/deals")
        hubspot.advance(30 * 60)
        next_day = ours.get("/crm/v3/objects/deals")

    assert statuses == [200, 200, 200]
    body = daily.json()
    assert daily.status_code == 429
    assert (body["policyName"], body["message"]) == ("DAILY", "You have reached your daily limit.")
    assert daily.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert int(daily.headers["Retry-After"]) == 30 * 60 - 10
    assert next_day.status_code == 200


def test_oauth_tokens_get_no_daily_headers(hubspot):
    hubspot.add_token("oauth-2", oauth=True)
    headers = Client(hubspot, token="oauth-2").get("/crm/v3/objects/deals").headers
    assert "X-HubSpot-RateLimit-Max" in headers
    assert "X-HubSpot-RateLimit-Daily" not in headers
    assert "X-HubSpot-RateLimit-Daily-Remaining" not in headers


# ------------------------------------------------------------------------- faults


@pytest.mark.parametrize("status", [502, 503, 504])
def test_fail_next_answers_5xx_on_the_chosen_path_after_letting_some_through(
    hubspot, client, status
):
    hubspot.fail_next(2, status, path="/crm/v3/objects/calls", after=1)

    answers = [client.get("/crm/v3/objects/calls").status_code for _ in range(4)]

    assert answers == [200, status, status, 200]
    assert client.get("/crm/v3/objects/deals").status_code == 200
    hubspot.fail_next(1, 429, retry_after=2)
    storm = client.get("/crm/v3/objects/deals")
    assert storm.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert storm.headers["Retry-After"] == "2"


def test_slow_next_outlasts_the_client_timeout_and_the_next_request_is_answered(hubspot, client):
    hubspot.slow_next(1, seconds=1.5, path="/crm/v3/objects/deals")

    with pytest.raises(requests.exceptions.ReadTimeout):
        client.get("/crm/v3/objects/deals", timeout=0.3)

    assert client.get("/crm/v3/objects/deals").status_code == 200


def test_before_request_updates_a_record_between_two_pages(hubspot, client):
    deals = [hubspot.add_deal(f"Deal {i}") for i in range(4)]
    hubspot.advance(120)

    def edit_mid_sync(box):
        box.edit(deals[0], amount="500")

    hubspot.before_request(edit_mid_sync, path="/crm/v3/objects/deals", after=1)
    first = client.get("/crm/v3/objects/deals", limit=2).json()
    assert first["results"][0]["updatedAt"] == iso_ms(ms(START))
    client.get("/crm/v3/objects/deals", limit=2, after=first["paging"]["next"]["after"])

    moved = client.search("deals", window(ms(START) + 1, ms(hubspot.now))).json()
    assert [r["id"] for r in moved["results"]] == [deals[0]]


# ------------------------------------------------------------------------- merges


def test_merge_lists_the_old_id_on_the_survivor_and_moves_its_associations(hubspot, client, world):
    call = hubspot.add_call(world["globex"])
    hubspot.advance(60)
    hubspot.merge(world["acme"], world["globex"])

    survivor = client.get(
        f"/crm/v3/objects/companies/{world['acme']}", properties="hs_merged_object_ids,name"
    ).json()
    via_old_id = client.get(f"/crm/v3/objects/companies/{world['globex']}").json()
    listed = [r["id"] for r in client.get("/crm/v3/objects/companies").json()["results"]]
    searched = client.search("companies", {}).json()
    links = client.post(
        "/crm/v4/associations/calls/companies/batch/read", {"inputs": [{"id": call}]}
    ).json()

    assert survivor["properties"]["hs_merged_object_ids"] == world["globex"]
    assert survivor["updatedAt"] == iso_ms(ms(hubspot.now))
    assert via_old_id["id"] == world["acme"]
    assert listed == [world["acme"]] and searched["total"] == 1
    assert [t["toObjectId"] for t in links["results"][0]["to"]] == [world["acme"]]
    hubspot.merged_reads = "404"
    assert client.get(f"/crm/v3/objects/companies/{world['globex']}").status_code == 404


# ------------------------------------------------------------------------- webhooks


def test_signatures_match_the_notes_test_vectors():
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    uri = "https://www.example.com/webhook_uri"
    assert sign_v2(secret, "GET", uri, b"") == (
        "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    )
    body = '[{"eventId":1}]'
    assert sign_v3(secret, "POST", uri, body, 1708986599647) == (
        "6GTeHslhNz2K+2NkeAT4cnQ1GwTWPixUmDjC61KzEDE="
    )
    assert sign_v1(secret, body) == sign_v1(secret, body.encode())


class Receiver:
    """A local webhook endpoint answering the statuses it is told to, recording requests."""

    def __init__(self, statuses=()):
        self.statuses, self.received = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append((headers, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hubspot/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhooks_arrive_signed_in_arrays_of_100_and_failed_batches_are_retried(hubspot, world):
    receiver = Receiver(statuses=[500])
    secret = "client-secret"
    try:
        hubspot.webhooks.subscribe(
            receiver.url, secret, types=("object.creation",), versions=("v2", "v3")
        )
        for i in range(120):
            hubspot.add_call(world["acme"], properties={"hs_call_title": f"Call {i}"})
        failed = hubspot.webhooks.deliver(timestamp_ms=1_700_000_000_000)
        first = hubspot.webhooks.deliver(timestamp_ms=1_700_000_000_000)
        second = hubspot.webhooks.deliver()
    finally:
        receiver.close()

    assert [d.status for d in failed + first + second] == [500, 200, 200]
    headers, body = receiver.received[1]
    events = json.loads(body)
    assert len(events) == 100
    assert {e["attemptNumber"] for e in events} == {1}  # the retried batch
    assert events[0]["subscriptionType"] == "object.creation"
    assert events[0]["objectTypeId"] == "0-48" and isinstance(events[0]["objectId"], int)
    assert headers["x-hubspot-signature-v3"] == sign_v3(
        secret, "POST", receiver.url, body, 1_700_000_000_000
    )
    assert headers["x-hubspot-request-timestamp"] == "1700000000000"
    assert headers["x-hubspot-signature"] == sign_v2(secret, "POST", receiver.url, body)
    assert headers["x-hubspot-signature-version"] == "v2"
    assert len(json.loads(receiver.received[2][1])) == 20


def test_webhooks_can_duplicate_and_reorder_and_give_up_after_ten_attempts(hubspot, world):
    receiver = Receiver(statuses=[200] + [503] * 10)
    try:
        sub = hubspot.webhooks.subscribe(receiver.url, "s", types=("deal.propertyChange",))
        deal = hubspot.add_deal("D")
        for amount in ("1", "2", "3"):
            hubspot.edit(deal, amount=amount)
        hubspot.webhooks.deliver(duplicate=1, shuffle=True, seed=3)
        hubspot.edit(deal, amount="4")
        rounds = [hubspot.webhooks.deliver() for _ in range(11)]
    finally:
        receiver.close()

    delivered = json.loads(receiver.received[0][1])
    assert len(delivered) == 4 and len({e["eventId"] for e in delivered}) == 3
    assert [e["propertyValue"] for e in delivered] != ["1", "1", "2", "3"]
    assert [len(r) for r in rounds] == [1] * 10 + [0]
    assert [e["propertyValue"] for e in sub.dropped] == ["4"]


# ------------------------------------------------------------------------- scale


def test_a_portal_of_100000_activities_answers_pages_and_windows_quickly(hubspot, client):
    started = time.perf_counter()
    hubspot.add_many("calls", 100_000, at=START - timedelta(days=30))
    recent = [hubspot.add_call(at=START) for _ in range(50)]
    built = time.perf_counter() - started

    started = time.perf_counter()
    for _ in range(5):
        page = client.search("calls", window(ms(START), ms(START))).json()
    after = None
    for _ in range(20):
        listed = client.get(
            "/crm/v3/objects/calls", limit=100, **({"after": after} if after else {})
        )
        after = listed.json()["paging"]["next"]["after"]
    answered = time.perf_counter() - started

    assert [r["id"] for r in page["results"]] == recent
    assert built < 10 and answered < 2, (built, answered)


# ------------------------------------------------------------------------- OpenAPI shapes


@pytest.fixture(scope="module")
def specs():
    if not SCHEMAS_PATH.exists():  # fail, not skip: a skipped shape check would hide drift
        pytest.fail(f"HubSpot's response schemas are missing at {SCHEMAS_PATH}")
    with gzip.open(SCHEMAS_PATH, "rt", encoding="utf-8") as handle:
        return {api: Shapes(doc) for api, doc in json.load(handle).items()}


class Shapes:
    """A strict structural validator for one OpenAPI 3.0 document.

    Objects may carry only properties the schema defines and must carry the required ones;
    scalars are checked for type and enum; date-times must be HubSpot's ISO form with
    milliseconds and ``Z``. ``nullable`` names properties HubSpot sends as null although the
    spec does not say so (property values, association labels).
    """

    def __init__(self, spec):
        self.spec = spec
        self.schemas = spec["components"]["schemas"]

    def resolve(self, schema):
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def response(self, path, status, method="get"):
        operation = self.spec["paths"][path][method]["responses"][str(status)]
        return operation["content"]["application/json"]["schema"]

    def errors(self, value, schema, where="$", nullable=frozenset(), extra=frozenset()):
        s = self.resolve(schema)
        if value is None:
            name = where.rsplit(".", 1)[-1]
            return [] if name in nullable or "*" in nullable else [f"{where}: null"]
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        }
        kind = s.get("type")
        if kind and not checks[kind](value):
            return [f"{where}: {value!r} is not {kind}"]
        problems = []
        if "enum" in s and value not in s["enum"]:
            problems.append(f"{where}: {value!r} not in {s['enum']}")
        if s.get("format") == "date-time" and not ISO_Z.match(value):
            problems.append(f"{where}: {value!r} is not HubSpot's date-time")
        if isinstance(value, dict) and "properties" in s:
            for key in s.get("required", []):
                if key not in value:
                    problems.append(f"{where}.{key}: required but missing")
            for key, item in value.items():
                if key in s["properties"]:
                    problems += self.errors(
                        item, s["properties"][key], f"{where}.{key}", nullable, extra
                    )
                elif key not in extra:
                    problems.append(f"{where}.{key}: not in the schema")
        if isinstance(value, dict) and isinstance(s.get("additionalProperties"), dict):
            inner = nullable | {"*"} if where.endswith(".properties") else nullable
            for key, item in value.items():
                problems += self.errors(
                    item, s["additionalProperties"], f"{where}.{key}", inner, extra
                )
        if isinstance(value, list) and "items" in s:
            for i, item in enumerate(value):
                problems += self.errors(item, s["items"], f"{where}[{i}]", nullable, extra)
        return problems


def test_the_validator_rejects_what_hubspot_does_not_define(specs):
    deals = specs["deals"]
    record = {"$ref": "#/components/schemas/SimplePublicObject"}
    good = {"id": "1", "properties": {"a": "x", "b": None}, "createdAt": "2025-01-01T00:00:00.000Z",
            "updatedAt": "2025-01-01T00:00:00.000Z", "archived": False}  # fmt: skip
    assert deals.errors(good, record) == []
    assert deals.errors({**good, "colour": "red"}, record) == ["$.colour: not in the schema"]
    assert deals.errors({**good, "id": 1}, record) == ["$.id: 1 is not string"]
    assert deals.errors({**good, "properties": {"amount": 5}}, record)
    assert deals.errors({**good, "updatedAt": "2025-01-01T00:00:00Z"}, record)
    assert deals.errors({k: v for k, v in good.items() if k != "id"}, record) == [
        "$.id: required but missing"
    ]


class Case(NamedTuple):
    """One request and the spec operation whose response schema its answer must match."""

    api: str
    method: str
    path: str
    spec_path: str
    status: int = 200
    params: dict | None = None
    body: dict | None = None


def test_responses_match_hubspots_published_schemas(specs, hubspot, client, world):
    deal = hubspot.add_deal("D", amount="99.90", stage="closedwon", company=world["acme"])
    call = hubspot.add_call(world["acme"], direction="INBOUND")
    meeting = hubspot.add_meeting(world["acme"], start=START, outcome="NO_SHOW")
    email = hubspot.add_email(world["acme"], direction="EMAIL")
    note = hubspot.add_note(world["acme"], body="hi")
    chat = hubspot.add_communication(world["acme"])
    archived = hubspot.add_call(world["acme"])
    hubspot.archive(archived)
    hubspot.edit(deal, amount="100")
    hubspot.add_owner("", "Queue", queue=True)
    hubspot.search_per_second = 100
    acme = world["acme"]
    records = {
        "companies": (acme, "name,domain,hubspot_owner_id"),
        "deals": (deal, "dealname,amount,closedate,dealstage,pipeline,hs_is_closed_won"),
        "calls": (call, "hs_timestamp,hs_call_status,hs_call_direction,hubspot_owner_id"),
        "meetings": (meeting, "hs_timestamp,hs_meeting_outcome,hs_meeting_start_time"),
        "emails": (email, "hs_timestamp,hs_email_direction"),
        "notes": (note, "hs_timestamp,hs_note_body"),
        "communications": (chat, "hs_timestamp,hs_communication_channel_type"),
    }
    v4_batch = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read"
    v4_page = "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}"
    cases = [
        Case("owners", "GET", "/crm/v3/owners", "/crm/v3/owners/", params={"limit": 1}),
        Case("owners", "GET", f"/crm/v3/owners/{world['ann']}", "/crm/v3/owners/{ownerId}"),
        Case("pipelines", "GET", "/crm/v3/pipelines/deals", "/crm/v3/pipelines/{objectType}"),
        Case("associations_v4", "POST", "/crm/v4/associations/deals/companies/batch/read",
             v4_batch, body={"inputs": [{"id": deal}]}),
        Case("associations_v4", "POST", "/crm/v4/associations/companies/calls/batch/read",
             v4_batch, 207, body={"inputs": [{"id": acme}, {"id": "1"}]}),
        Case("associations_v4", "GET", f"/crm/v4/objects/companies/{acme}/associations/calls",
             v4_page, params={"limit": 1}),
        Case("calls", "GET", "/crm/v3/objects/calls", "/crm/v3/objects/calls",
             params={"archived": "true"}),
    ]  # fmt: skip
    for name, (rid, props) in records.items():
        base = f"/crm/v3/objects/{name}"
        by_id = base + "/{" + {"companies": "company"}.get(name, name[:-1]) + "Id}"
        listed = props.split(",")
        batch = base + "/batch/read"
        cases += [
            Case(name, "GET", base, base, params={"limit": 1, "properties": props}),
            Case(name, "GET", f"{base}/{rid}", by_id,
                 params={"properties": props, "propertiesWithHistory": "hs_object_id"}),
            Case(name, "POST", f"{base}/search", f"{base}/search",
                 body={"limit": 1, "properties": listed}),
            Case(name, "POST", batch, batch,
                 body={"inputs": [{"id": rid}], "properties": listed}),
            Case(name, "POST", batch, batch, 207, body={"inputs": [{"id": "1"}]}),
        ]  # fmt: skip
    for api, method, path, spec_path, status, params, body in cases:
        response = client.session.request(
            method, hubspot.base_url + path, params=params, json=body, timeout=5
        )
        assert response.status_code == status, (path, response.text)
        schema = specs[api].response(spec_path, status, method.lower())
        # Records carry ``archived`` (required by HubSpot's newer specs); batch errors omit
        # ``errors``/``links`` as HubSpot's captured bodies do.
        problems = specs[api].errors(response.json(), schema, nullable={"label"})
        problems = [p for p in problems if not re.search(r"\.(errors|links): required", p)]
        assert problems == [], (path, problems)
        for record in response.json().get("results", []):
            if "properties" in record:
                assert isinstance(record["archived"], bool)
    stages = client.get("/crm/v3/pipelines/deals").json()["results"][0]["stages"]
    assert all("metadata" in s for s in stages)  # required by the newer spec


def test_error_bodies_carry_the_error_envelopes_required_fields(specs, hubspot, client):
    error = {"$ref": "#/components/schemas/Error"}
    hubspot.add_token("narrow", scopes=set())
    bodies = [
        Client(hubspot, token=None).get("/crm/v3/objects/deals").json(),
        Client(hubspot, token="narrow").get("/crm/v3/objects/deals").json(),
        client.search("deals", {"limit": 500}).json(),
        client.get("/crm/v3/owners/1").json(),
    ]
    for body in bodies:
        # "status": "error" is on every real body but not in the spec's Error schema.
        assert specs["deals"].errors(body, error, extra={"status"}) == [], body
