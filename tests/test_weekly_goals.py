"""Weekly goals through workflows.services: set, edit, close, remove; the edit window and the
optimistic lock that keeps two editors from overwriting each other."""

import datetime

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from clients.models import GoalStatus
from godview.models import AgencySettings, Role
from godview.services import METRICS_REFRESH_PENDING_KEY
from tests import factories
from workflows.models import WeeklyGoal
from workflows.services import (
    GoalConflict,
    close_weekly_goal,
    delete_weekly_goal,
    may_edit_week,
    set_weekly_goal,
    update_weekly_goal,
    week_start_of,
)

pytestmark = pytest.mark.django_db

D = datetime.date
MONDAY = D(2026, 3, 16)
TODAY = D(2026, 3, 18)  # a Wednesday


@pytest.fixture
def acme():
    return factories.client(name="Acme")


def field_errors(excinfo) -> dict:
    return excinfo.value.message_dict


def test_setting_a_goal_records_who_and_asks_for_a_metrics_refresh(acme):
    cache.delete(METRICS_REFRESH_PENDING_KEY)
    am = acme.account_manager

    goal = set_weekly_goal(
        client=acme, week_start=MONDAY, description="  Launch   spring ads ", by=am, today=TODAY
    )

    assert (goal.staff, goal.updated_by, goal.version) == (am, am, 1)
    assert goal.description == "Launch spring ads"  # spacing tidied
    assert goal.status == GoalStatus.OPEN
    assert cache.get(METRICS_REFRESH_PENDING_KEY) == 1
    cache.delete(METRICS_REFRESH_PENDING_KEY)


def test_a_director_sets_goals_on_behalf_of_the_account_manager(acme):
    director = factories.staff(role=Role.DIRECTOR)

    goal = set_weekly_goal(
        client=acme, week_start=MONDAY, description="Audit", by=director, today=TODAY
    )

    assert goal.staff == acme.account_manager and goal.updated_by == director


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"description": "   "}, "description", "Describe the goal."),
        ({"description": "x" * 501}, "description", "under 500 characters"),
        ({"week_start": D(2026, 3, 17)}, "week_start", "starts on a Monday"),
    ],
)
def test_bad_goals_name_the_field_and_write_nothing(acme, fields, field, message):
    values = {"week_start": MONDAY, "description": "Audit", **fields}
    with pytest.raises(ValidationError) as excinfo:
        set_weekly_goal(client=acme, by=acme.account_manager, today=TODAY, **values)

    assert message in field_errors(excinfo)[field][0]
    assert not WeeklyGoal.objects.exists()


def test_a_quarterly_goal_of_another_client_is_refused(acme):
    other = factories.client_goal(factories.client())

    with pytest.raises(ValidationError) as excinfo:
        set_weekly_goal(
            client=acme,
            week_start=MONDAY,
            description="Audit",
            client_goal=other,
            by=acme.account_manager,
            today=TODAY,
        )

    assert "another client" in field_errors(excinfo)["client_goal"][0]


def test_the_same_goal_twice_in_a_week_is_a_clear_error(acme):
    am = acme.account_manager
    set_weekly_goal(client=acme, week_start=MONDAY, description="Audit", by=am, today=TODAY)

    with pytest.raises(ValidationError) as excinfo:
        set_weekly_goal(client=acme, week_start=MONDAY, description="Audit", by=am, today=TODAY)

    assert "already has that goal" in field_errors(excinfo)["description"][0]
    assert WeeklyGoal.objects.count() == 1


def test_closing_a_goal_as_missed_keeps_the_note_and_bumps_the_version(acme):
    am = acme.account_manager
    goal = set_weekly_goal(client=acme, week_start=MONDAY, description="Audit", by=am, today=TODAY)

    closed = close_weekly_goal(
        goal=goal, version=1, status="missed", note="Client away", by=am, today=TODAY
    )

    goal.refresh_from_db()
    assert (goal.status, goal.note, goal.version) == ("missed", "Client away", 2)
    assert closed.version == 2


def test_a_week_that_has_not_started_cannot_be_closed(acme):
    am = acme.account_manager
    goal = set_weekly_goal(
        client=acme,
        week_start=MONDAY + datetime.timedelta(weeks=1),
        description="Plan",
        by=am,
        today=TODAY,
    )

    with pytest.raises(ValidationError) as excinfo:
        close_weekly_goal(goal=goal, version=1, status="met", note="", by=am, today=TODAY)

    assert "not started" in field_errors(excinfo)["status"][0]


def test_the_second_editor_gets_who_changed_it_instead_of_overwriting(acme):
    am = acme.account_manager
    director = factories.staff(role=Role.DIRECTOR, name="Dana Director")
    goal = set_weekly_goal(client=acme, week_start=MONDAY, description="Audit", by=am, today=TODAY)
    # Both opened the goal at version 1; the director saves first.
    update_weekly_goal(goal=goal, version=1, description="Audit site", by=director, today=TODAY)

    with pytest.raises(GoalConflict, match="changed by Dana Director at .*reload"):
        update_weekly_goal(goal=goal, version=1, description="Audit ads", by=am, today=TODAY)
    with pytest.raises(GoalConflict):
        close_weekly_goal(goal=goal, version=1, status="met", note="", by=am, today=TODAY)

    goal.refresh_from_db()
    assert (goal.description, goal.status, goal.version) == ("Audit site", "open", 2)


def test_a_removed_goal_is_a_conflict_too(acme):
    am = acme.account_manager
    goal = set_weekly_goal(client=acme, week_start=MONDAY, description="Audit", by=am, today=TODAY)
    delete_weekly_goal(goal=goal, version=1, by=am, today=TODAY)

    with pytest.raises(GoalConflict, match="removed by someone else"):
        close_weekly_goal(goal=goal, version=1, status="met", note="", by=am, today=TODAY)


def test_a_closed_week_is_editable_for_the_window_then_only_by_directors(acme):
    am = acme.account_manager
    director = factories.staff(role=Role.DIRECTOR)
    goal = set_weekly_goal(client=acme, week_start=MONDAY, description="Audit", by=am, today=TODAY)
    sunday = MONDAY + datetime.timedelta(days=6)
    last_day = sunday + datetime.timedelta(days=7)

    assert may_edit_week(week_start=MONDAY, by=am, today=last_day)
    assert not may_edit_week(week_start=MONDAY, by=am, today=last_day + datetime.timedelta(1))
    with pytest.raises(ValidationError, match="is closed; only a director"):
        close_weekly_goal(
            goal=goal,
            version=1,
            status="met",
            note="",
            by=am,
            today=last_day + datetime.timedelta(days=1),
        )
    close_weekly_goal(
        goal=goal,
        version=1,
        status="met",
        note="",
        by=director,
        today=last_day + datetime.timedelta(days=1),
    )
    assert WeeklyGoal.objects.get().status == "met"


def test_the_window_is_a_setting(acme):
    settings = AgencySettings.load()
    settings.closed_week_edit_days = 0
    settings.save()
    am = acme.account_manager
    monday_after = MONDAY + datetime.timedelta(weeks=1)

    assert not may_edit_week(week_start=MONDAY, by=am, today=monday_after)
    with pytest.raises(ValidationError, match="is closed"):
        set_weekly_goal(
            client=acme, week_start=MONDAY, description="Late", by=am, today=monday_after
        )


def test_week_start_of_is_the_monday():
    assert week_start_of(D(2026, 3, 22)) == MONDAY  # a Sunday
    assert week_start_of(MONDAY) == MONDAY
