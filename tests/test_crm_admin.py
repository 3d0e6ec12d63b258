"""The admin pages where a person maps what the CRM sync would not guess: unmapped companies
(with suggestions, never applied), unmatched owners, unassigned activities."""

import pytest
from django.utils import timezone

from integrations.models import CrmCompany, CrmOwner, UnassignedActivity
from tests import factories

pytestmark = pytest.mark.django_db


def company(external_id, name, domain=""):
    return CrmCompany.objects.create(
        source="hubspot", external_id=external_id, name=name, domain=domain, seen_at=timezone.now()
    )


def test_unmapped_companies_are_listed_with_suggestions_that_change_nothing(client, superuser):
    mapped = factories.client(name="Acme Dental", crm_company_id="11")
    harbor = factories.client(name="Harbor Home")
    company("11", "Acme Dental")
    company("12", "Harbor Home Ltd", domain="harbor-home.test")
    company("13", "Zyxw Unrelated")
    client.force_login(superuser)

    html = client.get("/admin/integrations/crmcompany/", {"mapped": "no"}).content.decode()

    assert "Harbor Home Ltd" in html and "Zyxw Unrelated" in html
    rows = {
        row.split("</th>")[0].rsplit(">", 2)[-2].split("<")[0]: row
        for row in html.split('id="result_list"')[1].split("<tr")[1:]
        if "</th>" in row
    }
    assert f"/admin/clients/client/{harbor.pk}/change/" in rows["Harbor Home Ltd"]  # suggested
    assert "/admin/clients/client/" not in rows["Zyxw Unrelated"]  # nothing close
    mapped_html = client.get("/admin/integrations/crmcompany/", {"mapped": "yes"}).content
    assert b"Zyxw" not in mapped_html and str(mapped).encode() in mapped_html
    assert not type(mapped).objects.filter(crm_company_id__in=["12", "13"]).exists()


def test_unmatched_owners_and_unassigned_activities_are_listed(client, superuser):
    am = factories.staff(email="ann@agency.test")
    CrmOwner.objects.create(
        source="hubspot", external_id="1", email="ann@agency.test", staff=am, seen_at=timezone.now()
    )
    CrmOwner.objects.create(
        source="hubspot", external_id="2", email="ghost@elsewhere.test", seen_at=timezone.now()
    )
    UnassignedActivity.objects.create(
        source="hubspot",
        external_id="call-9",
        kind="call",
        company_external_id="12",
        occurred_at=timezone.now(),
        channel="call",
        direction="outbound",
        seen_at=timezone.now(),
    )
    client.force_login(superuser)
    owners = client.get("/admin/integrations/crmowner/", {"matched": "no"}).content.decode()
    assert "ghost@elsewhere.test" in owners and "ann@agency.test" not in owners
    activities = client.get("/admin/integrations/unassignedactivity/").content.decode()
    assert "call" in activities and "12" in activities
