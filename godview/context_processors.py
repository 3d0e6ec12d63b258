from .access import staff_of


def agency(request):
    """The signed-in person's staff record, for the navigation bar."""
    return {"current_staff": staff_of(request.user) if hasattr(request, "user") else None}
