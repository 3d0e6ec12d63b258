from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from clients import views as client_views
from godview import views as site_views
from integrations import admin_views as integration_admin_views
from integrations import status_views
from metrics import api as metrics_api
from metrics.views import pages as metric_views
from metrics.views import reviews as review_views
from workflows.views import lists as workflow_views
from workflows.views import meetings as meeting_views
from workflows.views import postponements as postponement_views
from workflows.views import tactics as tactic_views
from workflows.views import week as week_views

urlpatterns = [
    path("", metric_views.godview, name="home"),
    # My week: the account managers' workspace, and one small POST view per change in it.
    path("my-week/", week_views.my_week, name="my-week"),
    path("my-week/clients/<str:key>/goals/", week_views.add_goal, name="my-week-add-goal"),
    path(
        "my-week/clients/<str:key>/touchpoints/",
        week_views.log_client_touchpoint,
        name="my-week-log-touchpoint",
    ),
    path("my-week/goals/<int:pk>/", week_views.goal_row, name="my-week-goal"),
    path("my-week/goals/<int:pk>/edit/", week_views.edit_goal, name="my-week-edit-goal"),
    path("my-week/goals/<int:pk>/close/", week_views.close_goal, name="my-week-close-goal"),
    path("my-week/goals/<int:pk>/delete/", week_views.delete_goal, name="my-week-delete-goal"),
    path("glossary/", metric_views.glossary, name="glossary"),
    path("leaderboard/", metric_views.leaderboard, name="leaderboard"),
    path("tactics/", metric_views.tactics, name="tactics"),
    path("training/", metric_views.training, name="training"),
    path("pods/<str:key>/", metric_views.pod_detail, name="pod-detail"),
    # The pod's routines: the weekly meeting, the growth review and its history on the client.
    path("pods/<str:key>/meeting/", meeting_views.pod_meeting, name="pod-meeting"),
    path("pods/<str:key>/growth-review/", review_views.growth_review, name="growth-review"),
    path("clients/<str:key>/reviews/", meeting_views.client_reviews, name="client-reviews"),
    path("departments/<str:key>/", metric_views.department_detail, name="department-detail"),
    path("people/<str:key>/", metric_views.person_detail, name="person-detail"),
    path("people/<str:key>/tasks/", workflow_views.person_tasks, name="person-tasks"),
    path(
        "people/<str:key>/weekly-goals/",
        workflow_views.person_weekly_goals,
        name="person-weekly-goals",
    ),
    path(
        "people/<str:key>/postponements/",
        workflow_views.person_postponements,
        name="person-postponements",
    ),
    path("people/<str:key>/tactics/", workflow_views.person_tactics, name="person-tactics"),
    path("clients/", client_views.client_list, name="client-list"),
    path("clients/<str:key>/", client_views.client_detail, name="client-detail"),
    path("clients/<str:key>/warning/", metric_views.client_panel, name="client-warning"),
    path("clients/<str:key>/goals/", metric_views.client_goals, name="client-goals"),
    path("clients/<str:key>/tasks/", workflow_views.client_tasks, name="client-tasks"),
    path(
        "clients/<str:key>/weekly-goals/",
        workflow_views.client_weekly_goals,
        name="client-weekly-goals",
    ),
    path("clients/<str:key>/tactics/", workflow_views.client_tactics, name="client-tactics"),
    path(
        "clients/<str:key>/touchpoints/",
        client_views.client_touchpoints,
        name="client-touchpoints",
    ),
    # Postponements (asked from a task, decided in the queue) and tactics (logged, closed).
    path("tasks/<str:key>/postpone/", postponement_views.task_postpone, name="task-postpone"),
    path("postponements/", postponement_views.postponement_queue, name="postponements"),
    path(
        "postponements/<int:pk>/decide/",
        postponement_views.postponement_decide,
        name="postponement-decide",
    ),
    path("clients/<str:key>/tactics/new/", tactic_views.tactic_new, name="tactic-new"),
    path("tactics/<str:key>/close/", tactic_views.tactic_close, name="tactic-close"),
    path("sync/", status_views.sync_status, name="sync-status"),
    path("api/v1/metrics", metrics_api.metrics, name="api-metrics"),
    path("integrations/", include("integrations.urls")),
    path("login/", site_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset: also how a newly imported person sets a first password.
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "admin/import-bundle/",
        admin.site.admin_view(integration_admin_views.import_bundle_view),
        name="admin-import-bundle",
    ),
    path("admin/", admin.site.urls),
]
