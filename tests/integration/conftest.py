"""Fixtures for fault drills (fault_harness.py): a Redis of the drill's own and a real Celery worker subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backing_services import celery_app_sending_to, missing
from tests.integration.fault_harness import (
    REDIS_SERVER,
    CeleryWorker,
    DrillConfig,
    RedisServer,
    worker_environment,
)


@pytest.fixture
def drill_config() -> Iterator[DrillConfig]:
    """The drill's pipeline timing, applied to this process too (requests and the sweeper run here)."""
    config = DrillConfig()
    with config.settings():
        yield config


@pytest.fixture
def drill_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own on a free port; this process sends its tasks there meanwhile."""
    if not Path(REDIS_SERVER).exists():
        missing(f"No redis-server at {REDIS_SERVER}")
    with RedisServer() as server, celery_app_sending_to(server.url):
        yield server


@pytest.fixture
def drill_worker(
    transactional_db: None, drill_redis: RedisServer, drill_config: DrillConfig, aws_endpoint: str, tmp_path: Path
) -> Iterator[CeleryWorker]:
    """`celery -A portal worker -c 2 --pool prefork` on the test database, the drill's Redis and the sandbox."""
    from django.db import connection

    if connection.vendor != "postgresql":
        missing("A drill's worker process shares the test database: it needs PostgreSQL")
    environment = worker_environment(
        broker_url=drill_redis.url, aws_endpoint=aws_endpoint, var_dir=tmp_path, config=drill_config
    )
    with CeleryWorker(environment) as worker:
        yield worker
