"""Counting rows at every level: the agency, each department, pod, staff member and client.

Attribution (DOMAIN.md): a row with a client counts for that client, the client's current pod
and that pod's department; a row with a person counts for that person; rows without a client
(training, deals) count for the person's pod and department. Every level is a DataFrame indexed
by object id (the agency's one row is indexed AGENCY), reindexed over all the level's objects so
that a department with no rows gets zeros (and so null rates), never a missing entry.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.registry import AGENCY, CLIENT, DEPARTMENT, POD, STAFF


@dataclass
class Scope:
    """Who is listed at each level, and how clients and people attach to pods and departments."""

    ids: dict[str, list]  # level -> object ids listed at that level
    client_map: pd.DataFrame  # index client id: pod_id, department_id, am_id
    staff_map: pd.DataFrame  # index staff id: pod_id, department_id, role, active

    def attach(self, rows: pd.DataFrame, *, via: str, person: str | None = None) -> pd.DataFrame:
        """rows with pod_id and department_id added, through the client or the person."""
        source = self.client_map if via == "client" else self.staff_map
        key = rows["client_id" if via == "client" else person]
        return rows.assign(
            pod_id=key.map(source.pod_id), department_id=key.map(source.department_id)
        )


def sum_by_level(
    rows: pd.DataFrame,
    measures: list[str],
    scope: Scope,
    *,
    via: str,
    person: str | None,
    levels=(AGENCY, DEPARTMENT, POD, STAFF, CLIENT),
) -> dict[str, pd.DataFrame]:
    """Sums of the measure columns per object at each level (0 where there are no rows)."""
    rows = (
        scope.attach(rows, via=via, person=person)
        if len(rows)
        else rows.assign(pod_id=pd.Series(dtype=float), department_id=pd.Series(dtype=float))
    )
    group_columns = {DEPARTMENT: "department_id", POD: "pod_id", STAFF: person, CLIENT: "client_id"}
    result = {}
    for level in levels:
        if level == AGENCY:
            totals = rows[measures].sum() if len(rows) else pd.Series(0, index=measures)
            result[level] = pd.DataFrame([totals.to_numpy()], index=[AGENCY], columns=measures)
            continue
        column = group_columns[level]
        if column is None:
            continue
        grouped = rows.groupby(column)[measures].sum() if len(rows) else None
        frame = (
            grouped.reindex(scope.ids[level], fill_value=0)
            if grouped is not None
            else pd.DataFrame(0, index=pd.Index(scope.ids[level]), columns=measures)
        )
        result[level] = frame.astype(float)
    result[AGENCY] = result[AGENCY].astype(float)
    return result


def rate(numerator: pd.Series, denominator: pd.Series, scale: float = 100.0) -> pd.Series:
    """numerator / denominator x scale, NaN (null) where the denominator is 0."""
    denominator = denominator.astype(float)
    return (numerator.astype(float) / denominator.where(denominator != 0, np.nan)) * scale
