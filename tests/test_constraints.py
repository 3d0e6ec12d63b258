"""The database itself rejects rows that break DOMAIN.md's rules."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from godview.models import AgencySettings, Staff
from tests import factories
from workflows.models import Tactic, TrainingModule, TrainingResult

pytestmark = pytest.mark.django_db

D = datetime.date


def rejects(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_weekly_goal_week_must_start_on_a_monday():
    client = factories.client()
    rejects(lambda: factories.weekly_goal(client, client.account_manager, D(2026, 3, 3)))
    goal = factories.weekly_goal(client, client.account_manager, D(2026, 3, 2))
    assert goal.week_start.weekday() == 0


def test_engagement_cannot_end_before_it_starts():
    client = factories.client()
    rejects(lambda: factories.engagement(client, D(2026, 3, 1), D(2026, 2, 28)))
    factories.engagement(client, D(2026, 3, 1), D(2026, 3, 1))  # one day is fine


def test_engagements_of_one_client_cannot_overlap():
    client = factories.client()
    factories.engagement(client, D(2025, 1, 1), D(2025, 6, 30))
    rejects(lambda: factories.engagement(client, D(2025, 6, 30), None))
    factories.engagement(client, D(2025, 7, 1), None)  # a fee change the day after
    rejects(lambda: factories.engagement(client, D(2026, 1, 1), D(2026, 2, 1)))
    other = factories.client()
    factories.engagement(other, D(2025, 1, 1), None)  # another client may overlap


def test_scores_and_confidence_stay_within_0_and_100():
    client = factories.client()
    module = TrainingModule.objects.create(key="m", name="Module", pass_score=80)
    rejects(lambda: TrainingModule.objects.create(key="m2", name="Bad", pass_score=101))
    rejects(
        lambda: TrainingResult.objects.create(
            staff=client.account_manager, module=module, completed_on=D(2026, 1, 1), score=101
        )
    )
    rejects(
        lambda: Tactic.objects.create(
            key="t",
            client=client,
            name="Test",
            kind="cro_test",
            started_on=D(2026, 1, 1),
            ended_on=D(2026, 2, 1),
            outcome="win",
            confidence=100.5,
        )
    )


def test_a_decided_tactic_needs_an_end_date_and_a_running_one_has_none():
    client = factories.client()
    rejects(
        lambda: Tactic.objects.create(
            key="t1", client=client, name="No end", started_on=D(2026, 1, 1), outcome="win"
        )
    )
    rejects(
        lambda: Tactic.objects.create(
            key="t2",
            client=client,
            name="Ended but running",
            started_on=D(2026, 1, 1),
            ended_on=D(2026, 1, 5),
            outcome="running",
        )
    )


def test_there_is_only_one_agency_settings_row():
    settings_row = AgencySettings.load()
    assert settings_row.pk == 1
    assert AgencySettings.load().pk == 1
    rejects(lambda: AgencySettings.objects.create(id=2))
    assert AgencySettings.objects.count() == 1


def test_staff_email_is_unique_ignoring_case():
    factories.staff(email="Ann@Agency.test")
    with pytest.raises(IntegrityError), transaction.atomic():
        user = get_user_model().objects.create_user(username="other")
        Staff.objects.create(key="x", name="X", email="ann@agency.test", role="other", user=user)
