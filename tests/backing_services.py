"""Where the suite finds the real services it needs (PostgreSQL, Redis, Chromium), and what to do without one."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from urllib.parse import urlparse

import pytest

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 0), timeout=0.5):
            return True
    except OSError:
        return False


def missing(reason: str) -> None:
    """Outside CI a missing service skips the test with a visible reason; in CI it fails it."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: nothing may be skipped for a missing service)")
    pytest.skip(reason)


def wait_until(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"Condition not met within {timeout} s")
