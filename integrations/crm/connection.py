"""The active CRM's adapter, from the admin's choice (Agency settings) and the environment."""

from __future__ import annotations

import redis
from django.conf import settings

from godview.models import AgencySettings

from ..ratelimit import RequestBudget, budget_key
from .amocrm import AmoCRMAdapter
from .errors import CrmError
from .hubspot import HubSpotAdapter


class NotConfigured(CrmError):
    """No CRM chosen, or its token or address is missing from the environment."""


def adapter_from_settings(*, acquire_timeout: float = 30.0):
    """The adapter of the CRM chosen in the admin, under one request budget per account
    shared by every worker (Redis)."""
    agency = AgencySettings.load()
    store = redis.Redis.from_url(settings.REDIS_URL)
    if agency.crm == "hubspot":
        token = settings.HUBSPOT_ACCESS_TOKEN
        if not token:
            raise NotConfigured("HubSpot is chosen but HUBSPOT_ACCESS_TOKEN is not set.")
        budget = RequestBudget(
            store,
            budget_key("hubspot", token),
            settings.HUBSPOT_REQUESTS_PER_10S,
            window=10.0,
        )
        return HubSpotAdapter(
            token=token,
            base_url=settings.HUBSPOT_BASE_URL,
            before_request=lambda: budget.acquire(acquire_timeout),
            notes_count=agency.crm_notes_count_as_contact,
        )
    if agency.crm == "amocrm":
        token, base_url = settings.AMOCRM_ACCESS_TOKEN, settings.AMOCRM_BASE_URL
        if not token or not base_url:
            raise NotConfigured(
                "amoCRM is chosen but AMOCRM_ACCESS_TOKEN or AMOCRM_BASE_URL is not set."
            )
        budget = RequestBudget(
            store,
            budget_key("amocrm", token),
            settings.AMOCRM_REQUESTS_PER_SECOND,
            window=1.0,
        )
        return AmoCRMAdapter(
            token=token,
            base_url=base_url,
            before_request=lambda: budget.acquire(acquire_timeout),
            notes_count=agency.crm_notes_count_as_contact,
        )
    raise NotConfigured("No CRM is chosen: pick one in the admin under Agency settings.")
