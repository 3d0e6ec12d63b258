"""Helpers for the Asana kill-and-rerun tests (tests/test_asana_kill_rerun.py): a real Celery
worker subprocess, a private redis-server that a test may kill, and a hook the worker imports
(``--include tests.asana_worker_env``) to end its pool child with ``os._exit`` mid-page.

The hook is inert unless the worker's environment sets ``GODVIEW_TEST_EXIT_AT_PAGE``; the test
process imports this module only for the helper classes."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXIT_AT_PAGE = "GODVIEW_TEST_EXIT_AT_PAGE"
EXIT_MARKER = "GODVIEW_TEST_EXIT_MARKER"

# Celery's log line for each finished execution (celery.app.trace, level INFO/ERROR).
_OUTCOME = re.compile(
    r"Task (?P<name>[\w.]+)\[(?P<id>[0-9a-f-]+)\] (?:succeeded in [\d.]+s: (?P<value>.*)"
    r"|raised unexpected: (?P<error>.*)|retry: (?P<retry>.*))$"
)


# ----------------------------------------------------------------------- the worker-side hook
def _install_exit_hook(**_kwargs) -> None:
    """In a pool child: after the k-th page upsert of a listing (rows written, transaction not
    yet committed) end the process with ``os._exit(1)``, once (a marker file disarms it, so the
    message Celery requeues after the loss does not die again)."""
    at_page = int(os.environ[EXIT_AT_PAGE])
    marker = Path(os.environ[EXIT_MARKER])
    from integrations.asana import sync

    original = sync._ProjectRun._upsert
    pages = {"n": 0}

    def upsert(self, records, stories):
        original(self, records, stories)
        pages["n"] += 1
        if pages["n"] == at_page and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)

    sync._ProjectRun._upsert = upsert


if os.environ.get(EXIT_AT_PAGE):
    from celery.signals import worker_process_init

    worker_process_init.connect(_install_exit_hook, weak=False)


# ----------------------------------------------------------------------- test-side helpers
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL (as godview.settings reads it) for the database in ``settings_dict``:
    the test database pytest-django created, so a worker subprocess writes where the test
    reads. A host that is a directory is a Unix socket; dj-database-url wants it encoded."""
    quote = urllib.parse.quote
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    auth = user + (f":{quote(password, safe='')}" if password else "")
    host = quote(settings_dict.get("HOST") or "localhost", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{quote(settings_dict['NAME'], safe='')}"


@dataclass
class Outcome:
    """How one execution of a task ended, read from the worker's log."""

    task_id: str
    value: dict | None = None  # the return value (succeeded)
    error: str = ""  # raised unexpected
    retry: str = ""

    @property
    def succeeded(self) -> bool:
        return self.value is not None

    @property
    def skipped(self) -> bool:
        return bool(self.value and "skipped" in self.value)


class Worker:
    """``celery -A godview worker`` with the prefork pool (one child), on its own queue, in its
    own process group (so the group can be killed at once), logging to ``log_path``."""

    def __init__(self, env: dict[str, str], log_path: Path, *, include: str | None = None):
        self.env = env
        self.log_path = log_path
        self.queue = f"killtest-{uuid.uuid4().hex[:10]}"
        self.hostname = f"{self.queue}@%h"
        self.include = include
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 40) -> Worker:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "godview",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--queues",
            self.queue,
            "--hostname",
            self.hostname,
            "--loglevel",
            "info",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
        if self.include:
            command += ["--include", self.include]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while " ready." not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the worker did not start:\n{self.tail()}")
            time.sleep(0.1)
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def pool_children(self) -> list[int]:
        import psutil

        assert self.process is not None
        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def wait_dead(self, pid: int, timeout: float = 10) -> None:
        """Until ``pid`` is gone or a zombie (dead, not yet reaped by the main process)."""
        import psutil

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    return
            except psutil.NoSuchProcess:
                return
            time.sleep(0.005)
        raise AssertionError(f"process {pid} is still running")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill_group(self) -> None:
        """SIGKILL the main process and its pool children at once (a dead machine)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def stop(self, timeout: float = 20) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL to whatever is left of the group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        self.kill_group()

    def outcomes(self, task_id: str) -> list[Outcome]:
        found = []
        for line in self.log().splitlines():
            match = _OUTCOME.search(line)
            if not match or match["id"] != task_id:
                continue
            if match["value"] is not None:
                found.append(Outcome(task_id, value=ast.literal_eval(match["value"])))
            elif match["error"] is not None:
                found.append(Outcome(task_id, error=match["error"]))
            else:
                found.append(Outcome(task_id, retry=match["retry"]))
        return found

    def wait_for(self, task_id: str, *, count: int = 1, timeout: float = 60) -> Outcome:
        """The ``count``-th finished execution of ``task_id``."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.outcomes(task_id)
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline or not self.alive():
                raise AssertionError(
                    f"task {task_id} did not finish ({len(found)} of {count} executions):\n"
                    f"{self.tail()}"
                )
            time.sleep(0.05)


class PrivateRedis:
    """A redis-server of the test's own (no persistence), on a fixed port, so it can be killed
    and restarted on the same address."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> PrivateRedis:
        from godview.localservices import redis_binary

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
