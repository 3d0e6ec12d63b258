"""The Celery application: `celery -A godview worker` and `celery -A godview beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "godview.settings")

app = Celery("godview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
