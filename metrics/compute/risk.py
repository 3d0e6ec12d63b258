"""Early warning (DOMAIN.md): which signals fire for each client active on D, and why."""

import pandas as pd

from metrics.registry import CLIENT

from .base import Context, round_half_up

SIGNALS = (
    "sla_breach",
    "missed_deadlines",
    "weekly_goals_slipping",
    "goal_off_track",
    "fee_decrease",
    "tactic_losing_streak",
    "onboarding",
)
ONBOARDING_DAYS = 90
STREAK = 3


def losing_streaks(tactics: pd.DataFrame) -> pd.Series:
    """client id -> True when its three most recently ended tactics (by ended_on, then
    started_on; wins, losses and inconclusive ones) were all losses."""
    if tactics.empty:
        return pd.Series(dtype=bool)
    latest = (
        tactics.sort_values(["client_id", "ended_on", "started_on"])
        .groupby("client_id")
        .tail(STREAK)
    )
    grouped = latest.groupby("client_id").outcome
    return (grouped.size() == STREAK) & grouped.agg(lambda s: bool((s == "loss").all()))


def money(value: float) -> str:
    return f"{round_half_up(value, 2):,.2f}"


def compute(ctx: Context, state: pd.DataFrame, work_risk: dict, tactics: pd.DataFrame) -> None:
    weights = ctx.settings.risk_weights()
    sla = ctx.settings.sla_days
    d = pd.Timestamp(ctx.as_of)
    listed = pd.Index(ctx.scope.ids[CLIENT])
    clients = state.reindex(listed)
    missed_recent = work_risk["missed_recent"].reindex(listed).fillna(0).astype(int)
    slipping = work_risk["slipping"].reindex(listed).fillna(False)
    off_track = work_risk["off_track"].groupby("client_id").title.agg(list)
    streaks = losing_streaks(tactics).reindex(listed).fillna(False)

    scores, signals, reasons = {}, {}, {}
    for client_id, row in clients.iterrows():
        if not row.active_end:
            scores[client_id] = signals[client_id] = reasons[client_id] = None
            continue
        fired: list[tuple[str, str]] = []
        days = int(row.days_inactive)
        if days > sla:
            fired.append(("sla_breach", f"{days} days since last contact; standard is {sla}"))
        if missed_recent[client_id] >= 2:
            fired.append(
                (
                    "missed_deadlines",
                    f"{missed_recent[client_id]} tasks due in the last 14 days were missed",
                )
            )
        if slipping[client_id]:
            fired.append(
                (
                    "weekly_goals_slipping",
                    "Weekly goals missed, not closed or not set in each of the last 2 weeks",
                )
            )
        titles = off_track.get(client_id)
        if titles:
            fired.append(
                ("goal_off_track", f"{len(titles)} client goal(s) off track: {'; '.join(titles)}")
            )
        if row.active_d90 and row.mrr_end < row.mrr_d90:
            fired.append(
                (
                    "fee_decrease",
                    f"MRR fell from {money(row.mrr_d90)} to {money(row.mrr_end)} in 90 days",
                )
            )
        if streaks[client_id]:
            fired.append(("tactic_losing_streak", f"The last {STREAK} tactics were all losses"))
        served = (d - row.period_start).days
        if served < ONBOARDING_DAYS:
            fired.append(("onboarding", f"Onboarding: service began {served} days ago"))
        fired.sort(key=lambda item: SIGNALS.index(item[0]))
        signals[client_id] = [code for code, _ in fired]
        reasons[client_id] = [reason for _, reason in fired]
        scores[client_id] = min(100, sum(weights[code] for code, _ in fired))
    ctx.put(
        CLIENT,
        {
            "risk_score": pd.Series(scores, dtype=object),
            "risk_signals": pd.Series(signals, dtype=object),
            "risk_reasons": pd.Series(reasons, dtype=object),
        },
    )
