"""Who may see what (DOMAIN.md, Access).

Leadership, directors and superusers see everything. Account managers and designers
(and anyone else with a pod) see, in detail, only their own pod. A logged-in user with no
staff record and no superuser flag sees nothing. Every selector that returns clients, tasks
or people filters through `visible_pod_ids`; objects outside it answer 404.
"""

from .models import Pod, Staff

EVERYTHING = None  # the sentinel `visible_pod_ids` returns for "no restriction"


def staff_of(user) -> Staff | None:
    """The user's staff record (with pod and department), fetched once per user object."""
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_godview_staff"):
        user._godview_staff = (
            Staff.objects.select_related("pod", "department").filter(user=user).first()
        )
    return user._godview_staff


def sees_everything(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    staff = staff_of(user)
    return staff is not None and staff.active and staff.sees_everything


def visible_pod_ids(user) -> frozenset[int] | None:
    """The ids of the pods whose details the user may see, or EVERYTHING (None)."""
    if sees_everything(user):
        return EVERYTHING
    staff = staff_of(user)
    if staff is None or not staff.active or staff.pod_id is None:
        return frozenset()
    return frozenset({staff.pod_id})


def scope_by_pod(queryset, user, pod_path: str):
    """Filter queryset to rows whose pod (reached through pod_path) the user may see."""
    pod_ids = visible_pod_ids(user)
    if pod_ids is EVERYTHING:
        return queryset
    return queryset.filter(**{f"{pod_path}__in": pod_ids})


def pods_visible_to(user):
    return scope_by_pod(Pod.objects.select_related("department"), user, "id")


def staff_visible_to(user):
    return scope_by_pod(Staff.objects.select_related("pod", "department"), user, "pod")
