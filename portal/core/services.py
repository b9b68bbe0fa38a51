"""The operation pipeline: request an AWS mutation, execute it in the worker, sweep what got stuck."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.aws.errors import AwsError
from portal.core.models import AuditEntry, Operation
from portal.core.operation_kinds import TRANSIENT, OperationCall, OperationKind, operation_kind_get

logger = logging.getLogger(__name__)

SCHEDULER_NAME = "scheduler"


def _enqueue(operation_id: int, countdown: float = 0) -> None:
    from portal.core.tasks import operation_run

    operation_run.apply_async(args=(operation_id,), countdown=countdown)


def operation_request(
    *,
    kind: str,
    actor: AbstractBaseUser | AnonymousUser | None,
    target: str = "",
    parameters: dict[str, Any] | None = None,
    reason: str = "",
) -> Operation:
    """Record a requested mutation and queue it once the surrounding transaction commits.

    Call it inside the same `transaction.atomic()` block as the local change it belongs to. `actor` None means a
    scheduled job. `parameters` must not contain secrets: they are stored and shown.
    """
    operation_kind = operation_kind_get(kind)
    if actor is not None and not actor.has_perm(operation_kind.permission):
        raise PermissionDenied(f"You may not {operation_kind.label.lower()}.")
    actor_name = actor.get_username() if actor is not None else SCHEDULER_NAME
    with transaction.atomic():
        operation = Operation.objects.create(
            kind=kind,
            target=target,
            parameters=parameters or {},
            reason=reason,
            actor=actor if actor is not None else None,
            actor_name=actor_name,
        )
        _audit(operation, AuditEntry.Event.REQUESTED, "")
        transaction.on_commit(lambda: _enqueue(operation.pk))
    return operation


def _audit(operation: Operation, event: str, detail: str) -> None:
    AuditEntry.objects.create(
        actor_name=operation.actor_name,
        kind=operation.kind,
        target=operation.target,
        reason=operation.reason,
        event=event,
        detail=detail,
        operation=operation,
    )


def _claim(operation_id: int, now: datetime) -> bool:
    """Move a queued operation to running. Only one courier wins; a finished one is never run again."""
    claimed = Operation.objects.filter(pk=operation_id, status=Operation.Status.QUEUED).update(
        status=Operation.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        next_attempt_at=None,
        updated_at=now,
    )
    return claimed == 1


def operation_backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter: a random delay up to base * 2^(attempt-1), capped."""
    ceiling = min(settings.OPERATION_BACKOFF_MAX_SECONDS, settings.OPERATION_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def operation_execute(*, operation_id: int) -> Operation | None:
    """Run one queued operation's AWS call and record the outcome. Returns None when there was nothing to run."""
    if not _claim(operation_id, timezone.now()):
        return None
    operation = Operation.objects.get(pk=operation_id)
    kind = operation_kind_get(operation.kind)
    call = OperationCall(
        kind=operation.kind,
        target=operation.target,
        parameters=dict(operation.parameters),
        idempotency_token=str(operation.idempotency_token),
        attempt=operation.attempts,
    )
    try:
        result = asyncio.run(kind.call(call))
    except AwsError as error:
        _record_error(operation, kind, error)
    except Exception as exc:
        logger.exception("Operation %s (%s) raised an unexpected error", operation.pk, operation.kind)
        _record_error(operation, kind, AwsError(type(exc).__name__, str(exc) or repr(exc)), retry=False)
    else:
        _record_success(operation, kind, result)
    operation.refresh_from_db()
    return operation


def _record_success(operation: Operation, kind: OperationKind, result: dict[str, Any]) -> None:
    transient = result.pop(TRANSIENT, {})  # secrets and bulk data for the hook, never stored
    with transaction.atomic():
        operation.status = Operation.Status.SUCCEEDED
        operation.result = result
        operation.error_code = operation.error_message = operation.request_id = ""
        operation.finished_at = timezone.now()
        operation.save()
        if kind.on_success is not None:
            kind.on_success(operation, transient)
        _audit(operation, AuditEntry.Event.SUCCEEDED, kind.summary(result))


def _record_error(operation: Operation, kind: OperationKind, error: AwsError, *, retry: bool = True) -> None:
    operation.error_code = error.code
    operation.error_message = error.message
    operation.request_id = error.request_id
    will_retry = retry and error.retryable and operation.attempts < settings.OPERATION_MAX_ATTEMPTS
    with transaction.atomic():
        if will_retry:
            delay = operation_backoff_seconds(operation.attempts)
            operation.status = Operation.Status.QUEUED
            operation.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            operation.save()
            event = AuditEntry.Event.RETRYING
            transaction.on_commit(lambda: _enqueue(operation.pk, countdown=delay))
        else:
            operation.status = Operation.Status.FAILED
            operation.finished_at = timezone.now()
            operation.save()
            if kind.on_failure is not None:
                kind.on_failure(operation, error)
            event = AuditEntry.Event.FAILED
        request = f" (request {error.request_id})" if error.request_id else ""
        _audit(operation, event, f"{error.code}: {error.message}{request}")


def operations_requeue_stuck(*, now: datetime | None = None) -> int:
    """Re-queue operations whose courier was lost: running past the timeout, or queued and never picked up."""
    now = now or timezone.now()
    stuck_after = timedelta(seconds=settings.OPERATION_STUCK_AFTER_SECONDS)
    requeued: list[int] = []
    with transaction.atomic():
        running = Operation.objects.select_for_update(skip_locked=True).filter(
            status=Operation.Status.RUNNING, started_at__lt=now - stuck_after
        )
        for operation in running:
            operation.error_code = "WorkerLost"
            operation.error_message = f"No outcome after {settings.OPERATION_STUCK_AFTER_SECONDS} s."
            if operation.attempts >= settings.OPERATION_MAX_ATTEMPTS:
                operation.status = Operation.Status.FAILED
                operation.finished_at = now
                operation.save()
                _audit(operation, AuditEntry.Event.FAILED, f"{operation.error_code}: {operation.error_message}")
                continue
            operation.status = Operation.Status.QUEUED
            operation.save()
            requeued.append(operation.pk)
        waiting = Operation.objects.filter(status=Operation.Status.QUEUED, updated_at__lt=now - stuck_after / 5).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now)
        )
        waiting_ids = list(waiting.values_list("pk", flat=True))
        Operation.objects.filter(pk__in=waiting_ids).update(updated_at=now)
        requeued.extend(waiting_ids)
        for operation_id in requeued:
            transaction.on_commit(lambda operation_id=operation_id: _enqueue(operation_id))
    if requeued:
        logger.warning("Re-queued %d stuck operation(s): %s", len(requeued), requeued)
    return len(requeued)
