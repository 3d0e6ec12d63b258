"""The leaderboard (DOMAIN.md): plan vs fact per KPI of each person's role, score and rank."""

import pandas as pd

from metrics.registry import STAFF

from .base import Context, is_null, round_half_up

MAX_ATTAINMENT = 1.5


def attainment(fact: float, target: float, direction: str) -> float:
    """fact / target when higher is better, target / fact when lower is better (1.5 for a
    fact of 0), clamped to [0, 1.5]."""
    if direction == "higher":
        value = fact / target if target else MAX_ATTAINMENT
    else:
        value = target / fact if fact else MAX_ATTAINMENT
    return min(max(value, 0.0), MAX_ATTAINMENT)


def compute(ctx: Context) -> None:
    kpis_by_role = ctx.settings.leaderboard_kpis
    staff = ctx.scope.staff_map.loc[ctx.scope.ids[STAFF]]
    facts = ctx.results[STAFF]
    scores, parts = {}, {}
    for staff_id, person in staff.iterrows():
        kpis = kpis_by_role.get(person.role)
        if not kpis:
            continue
        person_parts, weighted, weights = [], 0.0, 0.0
        for kpi, spec in kpis.items():
            fact = facts.at[staff_id, kpi] if kpi in facts.columns else None
            fact = None if is_null(fact) else float(fact)
            achieved = None if fact is None else attainment(fact, spec["target"], spec["direction"])
            if achieved is not None:
                weighted += achieved * spec["weight"]
                weights += spec["weight"]
            person_parts.append(
                {
                    "kpi": kpi,
                    "fact": None if fact is None else round_half_up(fact, 2),
                    "target": spec["target"],
                    "direction": spec["direction"],
                    "attainment": None if achieved is None else round_half_up(achieved, 2),
                    "weight": spec["weight"],
                }
            )
        scores[staff_id] = round_half_up(100 * weighted / weights, 2) if weights else None
        parts[staff_id] = person_parts
    ranks = {}
    roles = staff.role
    for role in set(roles[list(scores)]):
        ranked = sorted(
            (score, staff_id)
            for staff_id, score in scores.items()
            if roles[staff_id] == role and score is not None
        )
        ranked.reverse()
        for score, staff_id in ranked:
            # Competition ranking: 1 + the number of people with a strictly higher score.
            ranks[staff_id] = 1 + sum(other > score for other, _ in ranked)
    ctx.put(
        STAFF,
        {
            "leaderboard_score": pd.Series(scores, dtype=object),
            "leaderboard_rank": pd.Series(
                {staff_id: ranks.get(staff_id) for staff_id in scores}, dtype=object
            ),
            "leaderboard_parts": pd.Series(parts, dtype=object),
        },
    )
