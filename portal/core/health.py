"""Health: web's /healthz and /readyz, and the heartbeat files of the processes that serve no HTTP.

- `GET /healthz`: the web process answers (200, nothing else is asked). `GET /readyz`: 200 when the database and the
  broker both answer within READY_TIMEOUT_SECONDS, else 503 with a line per dependency that did not. Both are
  answered by `HealthProbeMiddleware`, first in MIDDLEWARE, before the host check (CommonMiddleware's), the HTTPS
  redirect, sessions and login: a probe speaks plain HTTP to the container's own address with whatever Host header
  it likes, and neither answer holds anything a forged Host or plain HTTP could abuse (no URL, no cookie, no data).
- Workers, the refresher, beat and the meeting events consumer each touch `PORTAL_VAR_DIR/heartbeats/<name>` while
  their loop turns (portal/celery.py wires the Celery ones); `python -m portal.core.health <name>` exits 0 when that
  file was touched within HEARTBEAT_STALE_SECONDS, else 1, for compose's health checks. It reads Django's settings
  but does not set Django up: 0.4 s of CPU where a `manage.py` command takes 2 s, every 30 s in every container.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import kombu
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

READY_TIMEOUT_SECONDS = 2.0
HEARTBEAT_SECONDS = 5.0
HEARTBEAT_STALE_SECONDS = 30.0
PROBES = ("/healthz", "/readyz")
HEARTBEATS = ("worker", "refresher", "beat", "meeting-events")


def database_answer() -> None:
    """A new connection to the default database runs `SELECT 1` (not the pool's: a pool waits for a free one)."""
    probe = dict(settings.DATABASES[DEFAULT_DB_ALIAS])
    options = {key: value for key, value in probe.get("OPTIONS", {}).items() if key != "pool"}
    if probe["ENGINE"] == "django.db.backends.postgresql":
        options["connect_timeout"] = max(1, int(READY_TIMEOUT_SECONDS))
    probe["OPTIONS"] = options
    configured = connections.configure_settings({DEFAULT_DB_ALIAS: probe})[DEFAULT_DB_ALIAS]
    database = load_backend(configured["ENGINE"]).DatabaseWrapper(configured, "readiness")
    try:
        with database.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        database.close()


def broker_answer() -> None:
    """A connection to the broker Celery uses is established (kombu raises when it cannot be)."""
    options = {"socket_timeout": READY_TIMEOUT_SECONDS, "socket_connect_timeout": READY_TIMEOUT_SECONDS}
    options |= getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    url = settings.CELERY_BROKER_URL
    with kombu.Connection(url, connect_timeout=READY_TIMEOUT_SECONDS, transport_options=options) as broker:
        broker.ensure_connection(max_retries=0)


READINESS_CHECKS: dict[str, Callable[[], None]] = {"database": database_answer, "broker": broker_answer}


def readiness_problems() -> dict[str, str]:
    """What did not answer within READY_TIMEOUT_SECONDS, and how; empty when all did. The checks run side by side."""
    problems = {}
    pool = ThreadPoolExecutor(max_workers=len(READINESS_CHECKS), thread_name_prefix="readiness")
    futures = {name: pool.submit(check) for name, check in READINESS_CHECKS.items()}
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            problems[name] = f"no answer within {READY_TIMEOUT_SECONDS:g} s"
        except Exception as error:  # any failure of a dependency is what readiness reports
            problems[name] = " ".join(f"{type(error).__name__}: {error}".split())  # one line
    pool.shutdown(wait=False, cancel_futures=True)  # a check still waiting ends by itself, past its own timeout
    return problems


def _plain(text: str, status: int) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


class HealthProbeMiddleware:
    """Answers /healthz and /readyz (GET, HEAD) before any other middleware runs: see the module's docstring."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/")
        if path not in PROBES:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if path == "/healthz":
            return _plain("ok\n", 200)
        problems = readiness_problems()
        if problems:
            return _plain("".join(f"{name}: {problem}\n" for name, problem in problems.items()), 503)
        return _plain("ready: database, broker\n", 200)


def heartbeat_path(name: str) -> Path:
    return Path(settings.VAR_DIR) / "heartbeats" / name


def heartbeat(name: str) -> None:
    """The process called `name` (a Procfile name) is turning its loop now."""
    path = heartbeat_path(name)
    path.parent.mkdir(exist_ok=True)
    path.touch()


def heartbeat_age(name: str) -> float | None:
    """Seconds since `name` last said it was alive; None when it never did."""
    try:
        return time.time() - heartbeat_path(name).stat().st_mtime
    except FileNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    """`python -m portal.core.health NAME [--max-age SECONDS]`: 0 when NAME's heartbeat is fresh, else 1 and why."""
    parser = argparse.ArgumentParser(prog="python -m portal.core.health", description=main.__doc__)
    parser.add_argument("name", choices=HEARTBEATS)
    parser.add_argument("--max-age", type=float, default=HEARTBEAT_STALE_SECONDS, help="seconds (default: 30)")
    arguments = parser.parse_args(argv)
    name, age = arguments.name, heartbeat_age(arguments.name)
    if age is None:
        print(f"{name}: no heartbeat yet ({heartbeat_path(name)} does not exist).", file=sys.stderr)
        return 1
    if age > arguments.max_age:
        print(f"{name}: last heartbeat {age:.0f} s ago (more than {arguments.max_age:g} s).", file=sys.stderr)
        return 1
    print(f"{name}: last heartbeat {age:.1f} s ago.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
