"""The Celery app is wired to Redis from the environment and a real worker answers it."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from godview.celery import app

ROOT = Path(__file__).resolve().parents[1]


def test_celery_reads_broker_and_reliability_settings_from_django():
    assert app.conf.broker_url == settings.REDIS_URL
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit
    assert app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


@pytest.mark.slow
def test_a_real_worker_starts_and_answers_a_ping():
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "godview",
            "worker",
            "--pool",
            "solo",
            "--hostname",
            "test-worker@%h",
            "--loglevel",
            "warning",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "godview.settings"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        replies = []
        deadline = time.monotonic() + 30
        while not replies and time.monotonic() < deadline and worker.poll() is None:
            replies = app.control.ping(timeout=0.5)
        assert worker.poll() is None, worker.stdout.read().decode()
        assert any(name.startswith("test-worker@") for reply in replies for name in reply)
    finally:
        worker.terminate()
        worker.wait(10)
