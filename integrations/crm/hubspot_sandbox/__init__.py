"""A local HubSpot: an HTTP server speaking HubSpot's CRM wire format for what the sync reads.

Standard library only and no Django, so it runs in a thread of a test or as its own process.
It follows the fake-server contract of the CRM notes (``shared/docs/notes/crm-api.md`` 4.1):
v3 objects (companies, deals, contacts, calls, emails, meetings, notes, communications) with
list, read, search and batch read; owners; deal pipelines; v4 associations; the ``2026-03``
date-versioned paths as aliases; Bearer auth with HubSpot's 401 and 403 bodies; the
10-second, daily and search rate limits with their headers and 429 bodies; fault injection;
webhook deliveries signed v1/v2/v3.

    with HubSpotSandbox(token="t", retry_after=False) as hubspot:
        ann = hubspot.add_owner("ann@agency.test", "Ann", "Lee")
        acme = hubspot.add_company("Acme", "acme.test", owner=ann)
        hubspot.add_deal("Retainer", amount="1200.50", stage="closedwon", company=acme)
        hubspot.advance(60)
        hubspot.add_call(acme, direction="INBOUND")
        # point the adapter's HUBSPOT_BASE_URL at hubspot.base_url

Parts: ``wire`` (types, timestamps, error bodies), ``search`` (the lagging index), ``store``
(records, clock, arrange helpers), ``api`` (endpoints), ``server`` (auth, limits, faults,
HTTP), ``webhooks`` (signed deliveries). Everything lives in memory on the instance; the arrange
helpers and the HTTP handler share one lock. Times come from a settable clock (``now``,
``advance``; ``start=None`` follows the wall clock).
"""

from .arrange import DEFAULT_STAGES
from .server import HubSpotSandbox, LoggedRequest, serve
from .store import DEFAULT_START
from .webhooks import sign_v1, sign_v2, sign_v3
from .wire import iso_ms

__all__ = [
    "DEFAULT_STAGES",
    "DEFAULT_START",
    "HubSpotSandbox",
    "LoggedRequest",
    "iso_ms",
    "serve",
    "sign_v1",
    "sign_v2",
    "sign_v3",
]
