"""The site's own views: logging in lands each person where their work is."""

from django.contrib.auth import views as auth_views
from django.urls import reverse

from .access import staff_of
from .models import Role

# Whose daily work is the weekly workspace (My week); everyone else starts on the god-view.
WORKSPACE_ROLES = frozenset({Role.ACCOUNT_MANAGER, Role.DESIGNER})


class LoginView(auth_views.LoginView):
    """Django's login, landing account managers and designers on My week and leadership,
    directors and everyone else on the god-view; a ?next= address still wins."""

    def get_default_redirect_url(self):
        staff = staff_of(self.request.user)
        if staff is not None and staff.active and staff.role in WORKSPACE_ROLES:
            return reverse("my-week")
        return super().get_default_redirect_url()
