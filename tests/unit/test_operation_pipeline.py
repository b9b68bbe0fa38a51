from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from django.utils import timezone

from portal.core.models import AuditEntry, Operation
from portal.core.services import operation_execute, operation_request, operations_requeue_stuck

pytestmark = pytest.mark.django_db


def test_request_records_operation_and_audit_and_queues_on_commit(
    admin, aws_endpoint, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        operation = operation_request(kind="aws.check_connection", actor=admin, target="sts", reason="smoke")

    operation.refresh_from_db()
    assert operation.status == Operation.Status.QUEUED
    assert operation.actor_name == "ada"
    assert operation.attempts == 0
    assert list(operation.audit_entries.values_list("event", "reason")) == [("requested", "smoke")]
    assert len(callbacks) == 1


def test_queued_operation_runs_against_aws_and_records_result(admin, aws_endpoint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        operation = operation_request(kind="aws.check_connection", actor=admin, target="sts")

    operation.refresh_from_db()
    assert operation.status == Operation.Status.SUCCEEDED
    assert operation.result["Account"] == "123456789012"
    assert operation.attempts == 1
    assert operation.finished_at is not None
    events = list(operation.audit_entries.order_by("id").values_list("event", flat=True))
    assert events == ["requested", "succeeded"]
    assert "123456789012" in operation.audit_entries.get(event="succeeded").detail


def test_running_an_operation_twice_does_not_repeat_it(admin, aws_endpoint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        operation = operation_request(kind="aws.check_connection", actor=admin)

    assert operation_execute(operation_id=operation.pk) is None
    operation.refresh_from_db()
    assert operation.attempts == 1
    assert operation.audit_entries.filter(event="succeeded").count() == 1


def test_retryable_errors_back_off_then_fail_with_the_error(admin, closed_endpoint, django_capture_on_commit_callbacks):
    with override_settings(OPERATION_MAX_ATTEMPTS=3), django_capture_on_commit_callbacks(execute=True):
        operation = operation_request(kind="aws.check_connection", actor=admin)

    operation.refresh_from_db()
    assert operation.status == Operation.Status.FAILED
    assert operation.attempts == 3
    assert operation.error_code == "ConnectionError"
    assert closed_endpoint.rsplit(":", 1)[1] in operation.error_message
    events = list(operation.audit_entries.order_by("id").values_list("event", flat=True))
    assert events == ["requested", "retrying", "retrying", "failed"]


def test_non_retryable_error_fails_at_once_with_aws_code(admin, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with django_capture_on_commit_callbacks(execute=True):
        operation = operation_request(kind="aws.check_connection", actor=admin)

    operation.refresh_from_db()
    assert operation.status == Operation.Status.FAILED
    assert operation.attempts == 1
    assert operation.error_code == "NoCredentials"
    assert operation.audit_entries.get(event="failed").detail.startswith("NoCredentials:")


def test_viewer_cannot_request_a_mutation(viewer):
    with pytest.raises(PermissionDenied):
        operation_request(kind="aws.check_connection", actor=viewer)
    assert not Operation.objects.exists()
    assert not AuditEntry.objects.exists()


def test_scheduled_jobs_request_as_the_scheduler(aws_endpoint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        operation = operation_request(kind="aws.check_connection", actor=None)
    operation.refresh_from_db()
    assert operation.actor_name == "scheduler"
    assert operation.status == Operation.Status.SUCCEEDED


def test_sweeper_requeues_operations_whose_worker_was_lost(admin, aws_endpoint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        operation = operation_request(kind="aws.check_connection", actor=admin)
    long_ago = timezone.now() - timedelta(hours=1)
    Operation.objects.filter(pk=operation.pk).update(status=Operation.Status.RUNNING, attempts=1, started_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert operations_requeue_stuck() == 1

    operation.refresh_from_db()
    assert operation.status == Operation.Status.SUCCEEDED
    assert operation.attempts == 2


def test_sweeper_requeues_queued_operations_whose_message_was_lost(
    admin, aws_endpoint, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        operation = operation_request(kind="aws.check_connection", actor=admin)
    Operation.objects.filter(pk=operation.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert operations_requeue_stuck() == 1

    operation.refresh_from_db()
    assert operation.status == Operation.Status.SUCCEEDED


def test_sweeper_leaves_recent_operations_alone(admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        operation_request(kind="aws.check_connection", actor=admin)
    assert operations_requeue_stuck() == 0


def test_sweeper_gives_up_after_the_attempt_limit(admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        operation = operation_request(kind="aws.check_connection", actor=admin)
    long_ago = timezone.now() - timedelta(hours=1)
    Operation.objects.filter(pk=operation.pk).update(status=Operation.Status.RUNNING, attempts=99, started_at=long_ago)

    assert operations_requeue_stuck() == 0
    operation.refresh_from_db()
    assert operation.status == Operation.Status.FAILED
    assert operation.error_code == "WorkerLost"
    assert operation.audit_entries.filter(event="failed").exists()


def test_audit_log_is_append_only(admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        operation_request(kind="aws.check_connection", actor=admin)
    entry = AuditEntry.objects.get()
    entry.detail = "rewritten"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.update(detail="rewritten")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().detail == ""


def test_an_operation_performed_at_once_is_recorded_running_and_a_serial_kind_is_refused(
    aws_endpoint, django_capture_on_commit_callbacks
):
    """`operation_perform` records the row already running as this process's (nothing to claim, nothing queued)
    and runs it in this thread; a serial kind on a resource, which must wait for earlier operations on it, is
    refused before anything is recorded."""
    from portal.core.operation_kinds import operation_kinds
    from portal.core.services import operation_perform

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        performed = operation_perform(kind="aws.check_connection", system_actor="unit", timeout=5, target="sts")
    assert callbacks == []  # no courier was asked
    operation = Operation.objects.get(pk=performed.operation.pk)
    assert (operation.status, operation.attempts, operation.actor_name) == ("succeeded", 1, "unit")
    assert operation.result["Account"] == "123456789012"
    assert operation.courier
    assert operation.started_at
    assert list(operation.audit_entries.order_by("id").values_list("event", flat=True)) == ["requested", "succeeded"]
    serial = next(kind for kind in operation_kinds() if kind.serial)
    with pytest.raises(ValueError, match="serial"):
        operation_perform(kind=serial.name, system_actor="unit", timeout=5, resource=operation)
    assert Operation.objects.count() == 1
