"""URLs other services call; included under ``integrations/`` by godview/urls.py."""

from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("asana/webhooks/<int:pk>/", views.asana_webhook, name="asana-webhook"),
]
