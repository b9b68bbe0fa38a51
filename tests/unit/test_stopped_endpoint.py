"""With AWS (the sandbox) stopped, the refresh and the sweeper each say so in one log line, never a traceback, and a
refresh cycle leaves nothing running on the worker's loop (what would die with tracebacks at shutdown)."""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from portal.aws.clients import aws_runtime, aws_runtime_close
from portal.core.models import Operation, RefresherState
from portal.core.services import operations_requeue_stuck
from portal.stages.refresh import stages_refresh
from tests.factories import OperationFactory, StageFactory

pytestmark = pytest.mark.django_db


def _one_line_each(records: list[logging.LogRecord]) -> None:
    for record in records:
        assert record.exc_info is None, record.getMessage()
        assert "\n" not in record.getMessage(), record.getMessage()


def test_a_refresh_on_a_stopped_endpoint_says_so_in_one_line(closed_endpoint, caplog, capfd):
    StageFactory.create_batch(3)  # the listing and each stage's observation all fail
    caplog.set_level(logging.INFO)
    stages_refresh()
    assert not asyncio.all_tasks(aws_runtime().loop)  # every call of the cycle ended with it
    aws_runtime_close()  # as the worker does at shutdown
    gc.collect()
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.name == "portal.core.refresh"
    assert record.getMessage().startswith("Refresh stages: ConnectionError: Could not connect to the endpoint URL")
    _one_line_each(caplog.records)
    assert "Traceback" not in capfd.readouterr().err
    assert RefresherState.objects.get(name="stages").last_error.startswith("ConnectionError:")


def test_the_sweeper_with_the_broker_down_says_so_in_one_line_per_operation(broker_down, caplog):
    operation = OperationFactory()
    long_ago = timezone.now() - timedelta(seconds=settings.OPERATION_REDELIVER_AFTER_SECONDS + 1)
    Operation.objects.update(updated_at=long_ago)
    caplog.set_level(logging.INFO)
    assert operations_requeue_stuck() == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [message.split(" (", 1)[0] for message in warnings] == [
        f"Operation {operation.pk} is recorded but not queued",
        f"Re-queued 1 operation(s), oldest first: [{operation.pk}]",
    ]
    _one_line_each(caplog.records)
