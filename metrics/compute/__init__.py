"""Computing every metric of DOMAIN.md for an as-of date D and a period [start, D].

    compute_metrics(as_of=D, start=None) -> dict in the export shape of DATA_FORMAT.md

Frames are loaded with a fixed number of queries (see frames.py), each metric group computes
its columns with pandas at every level, and the result is assembled once, rounded as DOMAIN.md
says, leaving out metrics that do not apply to a level and showing undefined values as null.
"""

import datetime

import pandas as pd

from godview.models import AgencySettings
from metrics.registry import AGENCY, CLIENT, DEPARTMENT, LEADERBOARD, METRICS, POD, STAFF

from . import clients, leaderboard, outcomes, risk, work
from .base import LEVEL_LISTS, Context, is_null, present, quarter_start
from .frames import load_frames
from .levels import Scope


def default_start(as_of: datetime.date) -> datetime.date:
    """The default period: the calendar quarter that contains as_of, ending at as_of."""
    return quarter_start(as_of)


def compute_metrics(*, as_of: datetime.date, start: datetime.date | None = None) -> dict:
    """Every metric at every level for [start, as_of] (start defaults to the quarter's first
    day), as of as_of: nothing dated after it counts."""
    start = start or default_start(as_of)
    if start > as_of:
        raise ValueError("start must be on or before as_of")
    settings = AgencySettings.load()
    frames = load_frames(as_of=as_of, start=start, zone=settings.zone)
    ctx = Context(
        as_of=as_of,
        start=start,
        settings=settings,
        frames=frames,
        scope=_scope(frames, start, as_of),
    )
    state = clients.client_state(ctx)
    clients.compute(ctx, state)
    work_risk = work.compute(ctx, state)
    ended_tactics = outcomes.compute(ctx)
    risk.compute(ctx, state, work_risk, ended_tactics)
    leaderboard.compute(ctx)
    return _assemble(ctx, frames)


def _scope(frames, start: datetime.date, as_of: datetime.date) -> Scope:
    engagements = frames.engagements
    in_period = engagements.ended_on.isna() | (engagements.ended_on >= pd.Timestamp(start))
    listed_clients = sorted(set(engagements.client_id[in_period]))
    staff_map = frames.staff.set_index("id")[["key", "role", "pod_id", "department_id", "active"]]
    return Scope(
        ids={
            DEPARTMENT: list(frames.departments.id),
            POD: list(frames.pods.id),
            STAFF: list(staff_map.index[staff_map.active]),
            CLIENT: listed_clients,
        },
        client_map=frames.clients.set_index("id")[["key", "pod_id", "department_id", "am_id"]],
        staff_map=staff_map,
    )


def _assemble(ctx: Context, frames) -> dict:
    keys = {
        DEPARTMENT: dict(zip(frames.departments.id, frames.departments.key, strict=True)),
        POD: dict(zip(frames.pods.id, frames.pods.key, strict=True)),
        STAFF: ctx.scope.staff_map.key.to_dict(),
        CLIENT: ctx.scope.client_map.key.to_dict(),
    }
    roles = ctx.scope.staff_map.role.to_dict()
    ranked_roles = set(ctx.settings.leaderboard_kpis)

    def entry(level: str, object_id) -> dict:
        values = ctx.results[level]
        role = roles.get(object_id) if level == STAFF else None
        result = {}
        for metric in METRICS:
            if not metric.applies_to(level, role):
                continue
            if metric.group == LEADERBOARD and role not in ranked_roles:
                continue
            value = values.at[object_id, metric.key] if metric.key in values.columns else None
            result[metric.key] = None if _missing(value) else present(metric.key, value)
        return result

    output = {
        "as_of": ctx.as_of.isoformat(),
        "start": ctx.start.isoformat(),
        "end": ctx.end.isoformat(),
        "agency": entry(AGENCY, AGENCY),
    }
    for level, name in LEVEL_LISTS.items():
        output[name] = [
            {"key": keys[level][object_id], **entry(level, object_id)}
            for object_id in ctx.scope.ids[level]
        ]
    return output


def _missing(value) -> bool:
    return not isinstance(value, list | dict) and is_null(value)
