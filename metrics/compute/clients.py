"""Clients and revenue, communication and capacity (DOMAIN.md), from engagements and contact."""

import numpy as np
import pandas as pd

from metrics.registry import AGENCY, CLIENT, DEPARTMENT, POD, STAFF

from .base import Context
from .levels import rate, sum_by_level

MONTH_DAYS = 30.4375
AM_ROLE = "account_manager"


def mrr_on(engagements: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    """client id -> sum of the monthly fees of its engagements covering day (active clients)."""
    covering = (engagements.started_on <= day) & (
        engagements.ended_on.isna() | (engagements.ended_on >= day)
    )
    return engagements[covering].groupby("client_id").monthly_fee.sum()


def service_period_starts(engagements: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    """client id -> first day of the run of gapless engagements that covers day."""
    if engagements.empty:
        return pd.Series(dtype="datetime64[ns]")
    ordered = engagements.sort_values(["client_id", "started_on"])
    previous_end = ordered.groupby("client_id").ended_on.shift()
    new_run = (previous_end.isna()) | (ordered.started_on != previous_end + pd.Timedelta(days=1))
    run = new_run.cumsum()
    run_start = ordered.groupby(run).started_on.transform("min")
    covering = (ordered.started_on <= day) & (ordered.ended_on.isna() | (ordered.ended_on >= day))
    return pd.Series(run_start[covering].to_numpy(), index=ordered.client_id[covering].to_numpy())


def client_state(ctx: Context) -> pd.DataFrame:
    """Per client: activity and MRR on the period's start, on D and on D-90, the current service
    period's start, days inactive, and, for former clients, the days they were served."""
    f = ctx.frames
    d, start = pd.Timestamp(ctx.as_of), pd.Timestamp(ctx.start)
    engagements = f.engagements
    state = pd.DataFrame(index=pd.Index(f.clients.id, name="client_id"))
    for name, day in (("start", start), ("end", d), ("d90", d - pd.Timedelta(days=90))):
        fees = mrr_on(engagements, day)
        state[f"active_{name}"] = state.index.isin(fees.index)
        state[f"mrr_{name}"] = fees.reindex(state.index).fillna(0.0)
    state["period_start"] = service_period_starts(engagements, d).reindex(state.index)
    last_contact = f.last_contact.set_index("client_id").last_on.reindex(state.index)
    reference = pd.concat([last_contact, state.period_start], axis=1).max(axis=1)
    state["days_inactive"] = np.where(state.active_end, (d - reference).dt.days, np.nan)
    served = (engagements.ended_on.fillna(d).clip(upper=d) - engagements.started_on).dt.days + 1
    state["served_days"] = served.groupby(engagements.client_id).sum().reindex(state.index)
    state["former"] = state.served_days.notna() & ~state.active_end
    state = state.join(ctx.scope.client_map)
    return state


def compute(ctx: Context, state: pd.DataFrame) -> None:
    sla = ctx.settings.sla_days
    s, e = state.active_start, state.active_end
    rows = pd.DataFrame(
        {
            "client_id": state.index,
            "am_id": state.am_id.to_numpy(),
            "starting": s.to_numpy(dtype=float),
            "active": e.to_numpy(dtype=float),
            "acquired": (e & ~s).to_numpy(dtype=float),
            "lost": (s & ~e).to_numpy(dtype=float),
            "retained": (s & e).to_numpy(dtype=float),
            "mrr": state.mrr_end.to_numpy(),
            "mrr_start_of_starting": state.mrr_start.where(s, 0).to_numpy(),
            "mrr_end_of_starting": state.mrr_end.where(s, 0).to_numpy(),
            "mrr_capped_of_starting": np.minimum(state.mrr_end, state.mrr_start)
            .where(s, 0)
            .to_numpy(),
            "former": state.former.to_numpy(dtype=float),
            "former_months": (state.served_days / MONTH_DAYS).where(state.former, 0).to_numpy(),
            "inactive_days": state.days_inactive.fillna(0).to_numpy(),
            "breaches": (state.days_inactive > sla).to_numpy(dtype=float),
        }
    )
    measures = [column for column in rows.columns if column not in ("client_id", "am_id")]
    sums = sum_by_level(rows, measures, ctx.scope, via="client", person="am_id")
    maxima = _max_days_inactive(ctx, rows)
    for level, totals in sums.items():
        if level == CLIENT:
            days = state.days_inactive.reindex(totals.index)
            ctx.put(CLIENT, {"mrr": totals.mrr, "days_inactive": days})
            continue
        retention = rate(totals.retained, totals.starting)
        arpa = rate(totals.mrr, totals.active, scale=1)
        lifetime = rate(totals.former_months, totals.former, scale=1)
        ctx.put(
            level,
            {
                "active_clients": totals.active,
                "mrr": totals.mrr,
                "retention_rate": retention,
                "churn_rate": 100 - retention,
                "clients_acquired": totals.acquired,
                "clients_lost": totals.lost,
                "nrr": rate(totals.mrr_end_of_starting, totals.mrr_start_of_starting),
                "grr": rate(totals.mrr_capped_of_starting, totals.mrr_start_of_starting),
                "arpa": arpa,
                "avg_lifetime_months": lifetime,
                "clv": arpa * lifetime,
                "avg_days_inactive": rate(totals.inactive_days, totals.active, scale=1),
                "max_days_inactive": maxima[level].reindex(totals.index),
                "sla_breaches": totals.breaches,
            },
        )
    _capacity(ctx, sums)


def _max_days_inactive(ctx: Context, rows: pd.DataFrame) -> dict[str, pd.Series]:
    active = ctx.scope.attach(rows[rows.active == 1], via="client")
    days = active.inactive_days
    return {
        AGENCY: pd.Series([days.max() if len(days) else np.nan], index=[AGENCY]),
        DEPARTMENT: days.groupby(active.department_id).max(),
        POD: days.groupby(active.pod_id).max(),
        STAFF: days.groupby(active.am_id).max(),
    }


def _capacity(ctx: Context, sums: dict[str, pd.DataFrame]) -> None:
    """Clients per account manager, over capacity and account managers over capacity."""
    limit = ctx.settings.max_clients_per_am
    staff = ctx.scope.staff_map
    ams = staff[(staff.role == AM_ROLE) & staff.active].copy()
    ams["clients"] = sums[STAFF].active.reindex(ams.index).fillna(0)
    ams["over"] = (ams.clients > limit).astype(float)
    ams["one"] = 1.0
    per_level = {
        AGENCY: ams[["one", "over"]].sum().to_frame(AGENCY).T,
        DEPARTMENT: ams.groupby("department_id")[["one", "over"]].sum(),
        POD: ams.groupby("pod_id")[["one", "over"]].sum(),
    }
    for level, counts in per_level.items():
        counts = counts.reindex(sums[level].index, fill_value=0)
        ctx.put(
            level,
            {
                "clients_per_am": rate(sums[level].active, counts.one, scale=1),
                "ams_over_capacity": counts.over,
            },
        )
    ctx.put(
        STAFF,
        {
            "clients_per_am": ams.clients,
            "over_capacity": ams.clients > limit,
        },
    )
