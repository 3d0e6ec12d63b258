"""Reads of computed metrics, scoped to what the user may see (DOMAIN.md, Access)."""

from clients.selectors import clients_visible_to
from godview.access import pods_visible_to, sees_everything, staff_of, staff_visible_to

DATES = ("as_of", "start", "end")
LISTS = ("departments", "pods", "staff", "clients")


def metrics_visible_to(*, user, result: dict) -> dict:
    """A copy of an export-shaped result (DATA_FORMAT.md) keeping what user may see: all of it
    for leadership, directors and superusers; for other active staff the agency figures plus,
    for someone in a pod, that pod, its people and its clients (no department: its figures
    include other pods); only the dates for anyone else. Every top-level key stays, empty
    where nothing is visible."""
    dates = {name: result[name] for name in DATES}
    if sees_everything(user):
        return {
            **dates,
            "agency": dict(result["agency"]),
            **{name: [dict(entry) for entry in result[name]] for name in LISTS},
        }
    staff = staff_of(user)
    if staff is None or not staff.active:
        return {**dates, "agency": {}, **{name: [] for name in LISTS}}
    visible_keys = {
        "departments": set(),
        "pods": set(pods_visible_to(user).values_list("key", flat=True)),
        "staff": set(staff_visible_to(user).values_list("key", flat=True)),
        "clients": set(clients_visible_to(user).values_list("key", flat=True)),
    }
    return {
        **dates,
        "agency": dict(result["agency"]),
        **{
            name: [dict(entry) for entry in result[name] if entry["key"] in visible_keys[name]]
            for name in LISTS
        },
    }
