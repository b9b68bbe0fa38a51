"""Where the suite finds the real services it needs (PostgreSQL, Redis, Chromium), and what to do without one."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

# One of each for the sandbox's tests and the portal's.
from rtc_sandbox.testing import free_port as free_port
from rtc_sandbox.testing import in_ci as in_ci
from rtc_sandbox.testing import missing as missing

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
_REDIS_URL = urlparse(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
# Under pytest-xdist each worker has a Redis database of its own (gw0 the given one, gw1 the one below, ...): the
# tests' real Celery workers take tasks from it, and would take each other's.
_XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_REDIS_DB = (int(_REDIS_URL.path.strip("/") or 0) - _XDIST_WORKER) % 16
TEST_REDIS_URL = _REDIS_URL._replace(path=f"/{_REDIS_DB}").geturl()
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 0), timeout=0.5):
            return True
    except OSError:
        return False


def page_answers(url: str) -> bool:
    """The URL answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"Condition not met within {timeout} s")


@contextmanager
def celery_app_sending_to(broker_url: str, transport_options: dict[str, str] | None = None) -> Iterator[None]:
    """Send the portal's tasks (and control commands) to a real broker instead of running them eagerly; a Redis
    broker with the portal's options unless `transport_options` are given."""
    from django.conf import settings

    from portal import celery_app

    keys = ("broker_url", "task_always_eager", "broker_transport_options", "worker_enable_remote_control")
    saved = {key: celery_app.conf[key] for key in keys}

    def reset_producers() -> None:
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.update(
        broker_url=broker_url,
        task_always_eager=False,
        broker_transport_options=transport_options
        or (settings.BROKER_REDIS_TRANSPORT_OPTIONS if broker_url.startswith(("redis://", "rediss://")) else {}),
        worker_enable_remote_control=not broker_url.startswith("filesystem"),
    )
    reset_producers()
    try:
        yield
    finally:
        celery_app.conf.update(saved)
        reset_producers()
