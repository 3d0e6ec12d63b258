"""Tactics and CRO tests, training, and sales (DOMAIN.md)."""

import numpy as np
import pandas as pd

from metrics.registry import AGENCY, DEPARTMENT, POD, STAFF

from .base import Context, round_half_up
from .levels import rate, sum_by_level

CONFIDENCE_BUCKETS = (  # (label, lowest confidence included, highest excluded)
    (">=99", 99, np.inf),
    ("95-99", 95, 99),
    ("90-95", 90, 95),
    ("<90", -np.inf, 90),
)
OUTCOMES = ("win", "loss", "inconclusive")


def compute(ctx: Context) -> pd.DataFrame:
    """Record tactic, training and sales metrics; return ended tactics (for the risk streak)."""
    _tactics(ctx)
    _training(ctx)
    _deals(ctx)
    return ctx.frames.tactics


def _tactics(ctx: Context) -> None:
    start, d = pd.Timestamp(ctx.start), pd.Timestamp(ctx.as_of)
    tactics = ctx.frames.tactics
    ended = tactics[tactics.ended_on.between(start, d)].copy()
    cro = ended.kind == "cro_test"
    for outcome in OUTCOMES:
        ended[outcome] = (ended.outcome == outcome).astype(float)
        ended[f"cro_{outcome}"] = ended[outcome].where(cro, 0.0)
        for label, low, high in CONFIDENCE_BUCKETS:
            in_bucket = cro & (ended.confidence >= low) & (ended.confidence < high)
            ended[f"{label}:{outcome}"] = ended[outcome].where(in_bucket, 0.0)
    measures = [column for column in ended.columns if column.endswith(OUTCOMES)]
    for level, sums in sum_by_level(
        ended, measures, ctx.scope, via="client", person="owner_id"
    ).items():
        buckets = pd.Series(
            [_buckets(row) for _, row in sums.iterrows()], index=sums.index, dtype=object
        )
        ctx.put(
            level,
            {
                "tactic_wins": sums.win,
                "tactic_losses": sums.loss,
                "tactic_inconclusive": sums.inconclusive,
                "tactic_win_rate": rate(sums.win, sums.win + sums.loss),
                "win_loss_ratio": rate(sums.win, sums.loss, scale=1),
                "cro_wins": sums.cro_win,
                "cro_losses": sums.cro_loss,
                "cro_inconclusive": sums.cro_inconclusive,
                "cro_win_rate": rate(sums.cro_win, sums.cro_win + sums.cro_loss),
                "cro_by_confidence": buckets,
            },
        )


def _buckets(row: pd.Series) -> dict:
    result = {}
    for label, _, _ in CONFIDENCE_BUCKETS:
        wins, losses = int(row[f"{label}:win"]), int(row[f"{label}:loss"])
        decided = wins + losses
        result[label] = {
            "wins": wins,
            "losses": losses,
            "inconclusive": int(row[f"{label}:inconclusive"]),
            "win_rate": None if decided == 0 else _one_decimal(wins / decided * 100),
        }
    return result


def _one_decimal(value: float) -> float:
    return round_half_up(value, 1)


def _training(ctx: Context) -> None:
    """Latest result per (person, module) on or before D, over active staff."""
    f = ctx.frames
    staff = ctx.scope.staff_map
    active = staff[staff.active]
    results = f.training_results.sort_values("completed_on")
    latest = results.groupby(["staff_id", "module_id"]).last().reset_index()
    latest = latest[latest.staff_id.isin(active.index)]
    modules = f.modules.set_index("id")
    latest["passed"] = latest.score >= latest.module_id.map(modules.pass_score)

    required = modules[modules.required]
    pairs = [
        (staff_id, module_id)
        for staff_id, department_id in active.department_id.items()
        for module_id, module_department in required.department_id.items()
        if pd.isna(module_department) or module_department == department_id
    ]
    required_pairs = pd.DataFrame(pairs, columns=["staff_id", "module_id"])
    required_pairs = required_pairs.merge(
        latest[["staff_id", "module_id", "passed"]], on=["staff_id", "module_id"], how="left"
    )
    required_pairs["required"] = 1.0
    required_pairs["passed"] = required_pairs.passed.fillna(False).astype(float)
    scores = latest.assign(score_sum=latest.score.astype(float), scored=1.0)

    levels = (AGENCY, DEPARTMENT, POD, STAFF)
    completion = sum_by_level(
        required_pairs,
        ["required", "passed"],
        ctx.scope,
        via="person",
        person="staff_id",
        levels=levels,
    )
    averages = sum_by_level(
        scores,
        ["score_sum", "scored"],
        ctx.scope,
        via="person",
        person="staff_id",
        levels=levels,
    )
    for level in levels:
        ctx.put(
            level,
            {
                "training_completion_rate": rate(
                    completion[level].passed, completion[level].required
                ),
                "avg_training_score": rate(
                    averages[level].score_sum, averages[level].scored, scale=1
                ),
            },
        )


def _deals(ctx: Context) -> None:
    deals = ctx.frames.deals
    rows = deals.assign(
        won=(deals.status == "won").astype(float),
        lost=(deals.status == "lost").astype(float),
        revenue=deals.amount.fillna(0).where(deals.status == "won", 0.0).astype(float),
    )
    for level, sums in sum_by_level(
        rows,
        ["won", "lost", "revenue"],
        ctx.scope,
        via="person",
        person="owner_id",
        levels=(AGENCY, DEPARTMENT, POD, STAFF),
    ).items():
        ctx.put(
            level,
            {
                "deals_won": sums.won,
                "deals_lost": sums.lost,
                "deal_win_rate": rate(sums.won, sums.won + sums.lost),
                "revenue_won": sums.revenue,
            },
        )
