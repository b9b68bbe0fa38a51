"""A broker outage degrades, never breaks: the portal's Redis stops while a worker, the refresher and beat are busy,
stays down for a while, and comes back empty.

- Every process rides it out and reconnects by itself (before, a worker busy with a message exited with kombu's
  `Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")`).
- An operation requested meanwhile answers at once, stays queued, and is delivered by the sweeper (beat -> worker)
  once the broker answers; one requested afterwards runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from portal.core.models import Operation, RefresherState
from portal.stages.models import Stage
from portal.stages.services import stage_create
from rtc_sandbox.client import SandboxControl
from tests.backing_services import missing, wait_until
from tests.conftest import login
from tests.factories import StageFactory
from tests.integration.fault_harness import CeleryBeat, CeleryWorker, DrillConfig, RedisServer, worker_environment

pytestmark = [pytest.mark.serial, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 20
# The refresher's first cycle lists every stage, and the worker creates one: both are in the middle of their call
# when Redis stops (the listing is caught first, and outlasts the creation's start).
LISTING_LATENCY_MS = 15000
CREATION_LATENCY_MS = 6000


@pytest.fixture
def outage_config() -> Iterator[DrillConfig]:
    """Time limits well above a slow call; the sweeper delivers a queued operation 1 s after it was requested."""
    config = DrillConfig(stuck_after_seconds=120)
    with config.settings():
        yield config


@pytest.fixture
def portal_processes(
    transactional_db: None, drill_redis: RedisServer, outage_config: DrillConfig, aws_endpoint: str, tmp_path: Path
) -> Iterator[dict[str, CeleryWorker | CeleryBeat]]:
    """The worker, the refresher and beat as the Procfile runs them, on the test database and the drill's Redis."""
    from django.db import connection

    if connection.vendor != "postgresql":
        missing("The portal's processes share the test database: they need PostgreSQL")

    def environment(name: str) -> dict[str, str]:
        folder = tmp_path / name
        folder.mkdir()
        variables = worker_environment(
            broker_url=drill_redis.url, aws_endpoint=aws_endpoint, var_dir=folder, config=outage_config
        )
        return {**variables, "OPERATION_REDELIVER_AFTER_SECONDS": "1", "LOG_LEVEL": "INFO"}

    with (
        CeleryWorker(environment("worker"), queues="celery") as worker,
        CeleryWorker(environment("refresher"), queues="refresh") as refresher,
        CeleryBeat(environment("beat")) as beat,
    ):
        yield {"worker": worker, "refresher": refresher, "beat": beat}


@pytest.fixture
def slow_ivs(sandbox: SandboxControl) -> SandboxControl:
    """Slow IVS calls from the start, so that the refresher's first cycle is in the middle of its listing."""
    sandbox.quotas(enabled=False)
    sandbox.inject_fault("ivs-realtime:ListStages", latency_ms=LISTING_LATENCY_MS)
    sandbox.inject_fault("ivs-realtime:CreateStage", latency_ms=CREATION_LATENCY_MS)
    return sandbox


def _status(operation: Operation) -> str:
    operation.refresh_from_db()
    return operation.status


def _refresher_busy() -> bool:
    return RefresherState.objects.filter(name="stages", lease_until__gt=timezone.now()).exists()


def test_workers_refresher_and_beat_ride_out_a_broker_outage_and_deliver_what_was_asked_meanwhile(
    admin, slow_ivs, drill_redis, portal_processes
):
    wait_until(_refresher_busy, timeout=60, interval=0.1)
    before = stage_create(actor=admin, name="before-the-outage", tags={}, tokens=[])
    wait_until(lambda: _status(before) == Operation.Status.RUNNING, timeout=30, interval=0.1)
    assert _refresher_busy()

    drill_redis.crash()
    during = stage_create(actor=admin, name="during-the-outage", tags={}, tokens=[])
    time.sleep(OUTAGE_SECONDS)
    for name, process in portal_processes.items():
        assert process.process.poll() is None, f"The {name} exited during the outage:\n{process.log_path.read_text()}"
    assert _status(during) == Operation.Status.QUEUED
    slow_ivs.clear_faults()
    drill_redis.start()
    back = timezone.now()

    after = stage_create(actor=admin, name="after-the-outage", tags={}, tokens=[])
    ended = (Operation.Status.SUCCEEDED, Operation.Status.FAILED)
    wait_until(lambda: all(_status(o) in ended for o in (before, during, after)), timeout=120, interval=0.5)
    assert [_status(o) for o in (before, during, after)] == [Operation.Status.SUCCEEDED] * 3
    assert sorted(Stage.objects.exclude(arn="").values_list("name", flat=True)) == [
        "after-the-outage",
        "before-the-outage",
        "during-the-outage",
    ]
    wait_until(lambda: RefresherState.objects.get(name="stages").last_started_at > back, timeout=60, interval=0.5)
    for name, process in portal_processes.items():
        assert process.process.poll() is None, f"The {name} exited after the outage:\n{process.log_path.read_text()}"
        assert "Unrecoverable error" not in process.log_path.read_text(errors="replace"), name


def test_starting_an_operation_while_the_broker_is_down_answers_queued_at_once(admin, broker_down):
    stage = StageFactory(name="town-hall")
    client = login(admin)
    assert client.get(f"/stages/{stage.pk}/").status_code == 200  # a process's first request imports the URLs
    started = time.monotonic()
    response = client.post(f"/stages/{stage.pk}/rename/", {"name": "while-redis-is-down"})
    elapsed = time.monotonic() - started
    operation = Operation.objects.get(kind="stages.rename")
    assert (response.status_code, response["Location"]) == (303, f"/operations/{operation.pk}/")
    assert operation.status == Operation.Status.QUEUED
    assert elapsed < 1, f"The request waited {elapsed:.1f} s for a broker that is down"


def test_beat_says_in_one_line_that_it_could_not_send_while_the_broker_is_down(broker_down, caplog):
    from celery.beat import ScheduleEntry, Scheduler
    from celery.signals import beat_init

    from portal import celery_app

    beat_init.send(sender=None)
    scheduler = Scheduler(app=celery_app, lazy=True)
    entry = ScheduleEntry(name="operations-sweep", task="portal.core.tasks.operations_sweep", app=celery_app)
    caplog.set_level(logging.INFO, logger="celery.beat")
    scheduler.apply_entry(entry)
    (failure,) = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert failure.exc_info is None
    assert failure.getMessage().startswith("Message Error: Couldn't apply scheduled task operations-sweep: ")
    assert "\n" not in failure.getMessage()
