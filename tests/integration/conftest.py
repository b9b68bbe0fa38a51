from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from portal import celery_app
from tests.services import TEST_REDIS_URL, missing, reachable


def _reset_producers() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def real_worker(transactional_db: None) -> Callable[..., object]:
    """Start a real Celery worker thread on the given broker; the app stops running tasks eagerly meanwhile."""
    started: list[object] = []
    saved = {
        key: celery_app.conf[key]
        for key in ("broker_url", "task_always_eager", "broker_transport_options", "worker_enable_remote_control")
    }

    def start(broker_url: str, transport_options: dict[str, str] | None = None) -> object:
        celery_app.conf.update(
            broker_url=broker_url,
            task_always_eager=False,
            broker_transport_options=transport_options or {},
            worker_enable_remote_control=not broker_url.startswith("filesystem"),
        )
        _reset_producers()
        context = start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING")
        worker = context.__enter__()
        started.append(context)
        return worker

    yield start
    for context in reversed(started):
        context.__exit__(None, None, None)
    celery_app.conf.update(saved)
    _reset_producers()


@pytest.fixture
def redis_broker() -> Iterator[str]:
    if not reachable(TEST_REDIS_URL):
        missing(f"Redis at {TEST_REDIS_URL} does not answer")
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()


@pytest.fixture
def filesystem_broker(tmp_path: Path) -> tuple[str, dict[str, str]]:
    folder = tmp_path / "broker"
    (folder / "in").mkdir(parents=True)
    (folder / "processed").mkdir()
    options = {
        "data_folder_in": str(folder / "in"),
        "data_folder_out": str(folder / "in"),
        "processed_folder": str(folder / "processed"),
    }
    return "filesystem://", options


def wait_until(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"Condition not met within {timeout} s")
