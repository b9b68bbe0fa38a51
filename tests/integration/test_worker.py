"""A task queued from the portal completes in a real Celery worker, over Redis and over the embedded broker."""

from __future__ import annotations

import pytest

from portal.core.models import Operation
from tests.backing_services import wait_until
from tests.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)


def _check_connection_from_the_portal(admin) -> Operation:
    response = login(admin).post("/operations/check-connection/", headers={"HX-Request": "true"})
    operation = Operation.objects.get()
    assert (response.status_code, response["Location"]) == (303, f"/operations/{operation.pk}/")
    return operation


def _finished(operation: Operation) -> Operation:
    wait_until(lambda: Operation.objects.get(pk=operation.pk).is_terminal)
    operation.refresh_from_db()
    return operation


@pytest.mark.redis
def test_operation_completes_through_redis(admin, aws_endpoint, real_worker, redis_broker):
    real_worker(redis_broker)
    operation = _finished(_check_connection_from_the_portal(admin))
    assert operation.status == Operation.Status.SUCCEEDED
    assert operation.result["Account"] == "123456789012"
    assert list(operation.audit_entries.order_by("id").values_list("event", flat=True)) == ["requested", "succeeded"]


def test_operation_completes_through_the_embedded_filesystem_broker(
    admin, aws_endpoint, real_worker, filesystem_broker
):
    real_worker(*filesystem_broker)
    operation = _finished(_check_connection_from_the_portal(admin))
    assert operation.status == Operation.Status.SUCCEEDED


@pytest.mark.redis
def test_retries_run_in_the_worker_until_the_limit(admin, closed_endpoint, real_worker, redis_broker, settings):
    settings.OPERATION_MAX_ATTEMPTS = 3
    real_worker(redis_broker)
    operation = _finished(_check_connection_from_the_portal(admin))
    assert operation.status == Operation.Status.FAILED
    assert operation.attempts == 3
    assert operation.error_code == "ConnectionError"
