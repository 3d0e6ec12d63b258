"""Benchmark: server time of the god-view and drill-down pages at the reference and large
scales of QUALITY.md, read from stored results (Django test client, one process, warm).

Prints p50/p95 per page, query count, HTML size and the largest chart JSON gzipped.
Targets (issue 4): p95 <= 50 ms, large/reference <= 1.3, chart JSON <= 50 KB gzipped.
"""

import datetime
import gzip
import json
import re
import statistics
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext

from clients.models import Client
from godview.models import Pod, Role, Staff
from metrics.services import backfill, backfill_weeks, refresh_current
from metrics.views import pages as views

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = datetime.date(2026, 11, 25)
REQUESTS = 40


HTMX = {"HX-Request": "true"}


def pages() -> dict[str, tuple[str, dict]]:
    """name -> (url, headers): every page and the panels loaded after them."""
    pod = Pod.objects.order_by("key").first()
    person = Staff.objects.filter(role=Role.ACCOUNT_MANAGER, active=True).order_by("key").first()
    client = Client.objects.order_by("key").first()
    return {
        "god-view": ("/", {}),
        "god-view charts panel": ("/?panel=charts", HTMX),
        "god-view at-risk page 2": ("/?panel=at-risk&page=2", HTMX),
        "department": (f"/departments/{pod.department.key}/", {}),
        "pod": (f"/pods/{pod.key}/", {}),
        "person": (f"/people/{person.key}/", {}),
        "client": (f"/clients/{client.key}/", {}),
        "client warning panel": (f"/clients/{client.key}/warning/", HTMX),
        "clients list": ("/clients/", {}),
        "leaderboard": ("/leaderboard/", {}),
        "tactics": ("/tactics/", {}),
        "training": ("/training/", {}),
    }


def measure(clients: int, monkeypatch) -> dict:
    call_command(
        "seed_demo", "--clients", str(clients), "--today", TODAY.isoformat(), "--seed", "5"
    )
    backfill(since=TODAY - datetime.timedelta(weeks=26), until=TODAY, every_days=7)
    backfill_weeks(since=TODAY - datetime.timedelta(weeks=26), until=TODAY)
    refresh_current(today=TODAY)
    monkeypatch.setattr(views, "agency_today", lambda: TODAY)
    browser = BrowserClient()
    browser.force_login(Staff.objects.get(email="leader@demo-agency.test").user)
    figures = {}
    for name, (url, headers) in pages().items():
        browser.get(url, headers=headers)  # warm
        times = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                response = browser.get(url, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        html = response.content.decode()
        charts = re.findall(
            r'<script id="chart-[^"]+" type="application/json">(.*?)</script>', html
        )
        largest = max((len(gzip.compress(json.dumps(c).encode())) for c in charts), default=0)
        times.sort()
        figures[name] = {
            "p50": statistics.median(times),
            "p95": times[int(len(times) * 0.95) - 1],
            "queries": len(queries),
            "html_kb": len(response.content) / 1024,
            "chart_kb": largest / 1024,
        }
    return figures


def test_bench_pages(monkeypatch):
    reference = measure(200, monkeypatch)
    call_command("flush", "--noinput")
    large = measure(1000, monkeypatch)
    for scale, figures in (("200 clients", reference), ("1000 clients", large)):
        for name, f in figures.items():
            print(
                f"\n{scale:>12} {name:<24} p50 {f['p50']:6.1f} ms  p95 {f['p95']:6.1f} ms  "
                f"{f['queries']:2d} queries  html {f['html_kb']:6.1f} KB  "
                f"largest chart {f['chart_kb']:4.1f} KB gz",
                end="",
            )
    print()
    for name in reference:
        ratio = large[name]["p95"] / reference[name]["p95"]
        print(f"{name}: large/reference p95 ratio {ratio:.2f}")
        assert large[name]["queries"] == reference[name]["queries"], name
