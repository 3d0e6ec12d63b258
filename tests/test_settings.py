"""Agency settings: defaults from DOMAIN.md, validated where an admin types them."""

import pytest
from django.core.exceptions import ValidationError

from godview.models import AgencySettings, default_leaderboard_kpis

pytestmark = pytest.mark.django_db


def test_defaults_are_domain_md_defaults():
    settings_row = AgencySettings.load()
    assert settings_row.sla_days == 10
    assert settings_row.max_clients_per_am == 12
    assert str(settings_row.pace_at_risk_margin) == "0.25"
    assert settings_row.risk_weights() == {
        "sla_breach": 25,
        "missed_deadlines": 20,
        "weekly_goals_slipping": 15,
        "goal_off_track": 15,
        "fee_decrease": 10,
        "tactic_losing_streak": 10,
        "onboarding": 5,
    }
    assert settings_row.leaderboard_kpis["account_manager"]["avg_days_inactive"] == {
        "target": 7,
        "direction": "lower",
        "weight": 25,
    }


@pytest.mark.parametrize(
    ("kpis", "message"),
    [
        ({"boss": {}}, "'boss' is not a role"),
        ({"sales": {"deal_win_rate": {"target": 30, "weight": 60}}}, "needs exactly"),
        (
            {"sales": {"deal_win_rate": {"target": 30, "weight": 60, "direction": "up"}}},
            "direction must be",
        ),
        (
            {"sales": {"deal_win_rate": {"target": -1, "weight": 60, "direction": "higher"}}},
            "target must be a number >= 0",
        ),
    ],
)
def test_bad_leaderboard_kpis_are_refused_with_a_message(kpis, message):
    settings_row = AgencySettings.load()
    settings_row.leaderboard_kpis = kpis
    with pytest.raises(ValidationError, match=message):
        settings_row.full_clean()


def test_an_unknown_time_zone_is_refused():
    settings_row = AgencySettings.load()
    settings_row.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError, match="not a time zone"):
        settings_row.full_clean()
    settings_row.time_zone = "Europe/London"
    settings_row.leaderboard_kpis = default_leaderboard_kpis()
    settings_row.full_clean()
