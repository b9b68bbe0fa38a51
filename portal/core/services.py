"""The operation pipeline: request an AWS mutation, execute it in the worker, sweep what got stuck.

Exactly once in effect:
- a courier (Celery task) claims the row atomically, and records an outcome only while it still owns the attempt
  (status RUNNING with its attempt number): a courier the sweeper gave up on cannot overwrite a newer attempt;
- the AWS outcome is recorded first; the local effect is applied afterwards in a transaction of its own, and a
  failed effect is applied again later without calling AWS again;
- every path to FAILED goes through `_fail`, which queues the kind's `on_failure`;
- operations of a serial kind on one resource run in request order, one at a time;
- a message the broker lost is delivered by the sweeper, oldest first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from queue import Empty, SimpleQueue
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.aws.clients import aws_run
from portal.aws.errors import AwsError, AwsUnavailable
from portal.core.audit import audit_record
from portal.core.drift import drift_settle_removed
from portal.core.models import AuditEntry, Operation
from portal.core.operation_kinds import (
    EFFECT_DATA,
    SECRETS,
    OperationCall,
    OperationKind,
    operation_kind_get,
    operation_kinds,
)
from portal.core.protection import protected_tags, protected_words
from portal.core.secrets import secrets_store
from portal.core.tagging import tag_words

logger = logging.getLogger(__name__)

SCHEDULER_NAME = "scheduler"


def _enqueue(operation_id: int, countdown: float = 0) -> None:
    """Hand the operation to a courier. A broker that is down loses nothing: the sweeper delivers it later."""
    from portal.core.tasks import operation_run

    try:
        operation_run.apply_async(args=(operation_id,), countdown=countdown, retry=False)
    except Exception as error:
        logger.warning("Operation %s is recorded but not queued (%s); the sweeper will deliver it", operation_id, error)


def _enqueue_together(operation_ids: list[int]) -> None:
    from portal.core.tasks import operations_run_together

    try:
        operations_run_together.apply_async(args=(operation_ids,), retry=False)
    except Exception as error:
        logger.warning("Operations %s are recorded but not queued (%s); the sweeper will deliver them",
                       operation_ids, error)  # fmt: skip


@dataclass(frozen=True)
class OperationAsked:
    """One of many operations of a kind requested together: what `operation_request` takes for one."""

    target: str
    parameters: dict[str, Any]
    resource: models.Model


def operations_request_together(
    *,
    kind: str,
    actor: AbstractBaseUser,
    asked: list[OperationAsked],
    per_courier: int,
) -> list[Operation]:
    """Record many operations of one kind (a fleet of creations) with one insert for the operations and one for their
    audit entries, and hand them to couriers in groups of `per_courier` once the transaction commits: each courier
    makes its group's calls side by side (`operations_execute_together`). From then on each operation is on its own,
    as if requested alone: retries, a lost message, a lost courier, its audit entries."""
    operation_kind = operation_kind_get(kind)
    if not actor.has_perm(operation_kind.permission):
        raise PermissionDenied(f"You may not {operation_kind.label.lower()}.")
    with transaction.atomic():
        operations = Operation.objects.bulk_create(
            Operation(
                kind=kind,
                target=one.target,
                parameters=one.parameters,
                actor=actor,
                actor_name=actor.get_username(),
                resource_type=ContentType.objects.get_for_model(one.resource),
                resource_id=one.resource.pk,
            )
            for one in asked
        )
        AuditEntry.objects.bulk_create(
            AuditEntry(
                actor_name=operation.actor_name,
                kind=kind,
                target=operation.target,
                resource_name=str(one.resource)[: AuditEntry._meta.get_field("resource_name").max_length],
                summary=operation_kind.audit_summary(parameters=operation.parameters, resource_name=str(one.resource)),
                event=AuditEntry.Event.REQUESTED,
                operation=operation,
            )
            for operation, one in zip(operations, asked, strict=True)
        )
        ids = [operation.pk for operation in operations]
        for start in range(0, len(ids), per_courier):
            group = ids[start : start + per_courier]
            transaction.on_commit(lambda group=group: _enqueue_together(group))
    return operations


def operation_request(
    *,
    kind: str,
    actor: AbstractBaseUser | AnonymousUser | None,
    target: str = "",
    parameters: dict[str, Any] | None = None,
    reason: str = "",
    resource: models.Model | None = None,
    system_actor: str = SCHEDULER_NAME,
) -> Operation:
    """Record a requested mutation and queue it once the surrounding transaction commits.

    Call it inside the same `transaction.atomic()` block as the local change it belongs to. `actor` None means the
    portal itself, named `system_actor` (a scheduled job unless said otherwise). `parameters` must not contain
    secrets: they are stored and shown. `resource` is the row the operation is about: its page lists the operation,
    and serial kinds on it run in request order.
    """
    operation_kind = operation_kind_get(kind)
    if actor is not None and not actor.has_perm(operation_kind.permission):
        raise PermissionDenied(f"You may not {operation_kind.label.lower()}.")
    actor_name = actor.get_username() if actor is not None else system_actor
    with transaction.atomic():
        operation = _recorded(
            Operation(
                kind=kind,
                target=target,
                parameters=parameters or {},
                reason=reason,
                actor=actor if actor is not None else None,
                actor_name=actor_name,
                resource=resource,  # its name is in the audit entry, without reading the row again
            )
        )
        transaction.on_commit(lambda: _enqueue(operation.pk))
    return operation


def _recorded(operation: Operation) -> Operation:
    """A new operation's row and its "requested" audit entry, in the caller's transaction."""
    operation.save(force_insert=True)
    _audit(operation, AuditEntry.Event.REQUESTED, "")
    return operation


@dataclass(frozen=True)
class Performed:
    """An operation run at once (`operation_perform`), and the secrets its call returned, by label: handed to the
    caller that ran it, never stored."""

    operation: Operation
    secrets: dict[str, str]


def operation_perform(
    *,
    kind: str,
    system_actor: str,
    timeout: float,
    target: str = "",
    parameters: dict[str, Any] | None = None,
    resource: models.Model | None = None,
) -> Performed:
    """Record an operation the portal itself asks for and run it in this thread at once, for a caller that must
    answer within a deadline (the PSTN handler creating a caller's attendee). It is an Operation like any other:
    recorded, audited, its outcome and effect applied by the same code, taken over by the sweeper if this process
    dies mid-call. It is recorded already running as this process's (no courier can take a row nobody else has seen
    yet, so there is nothing to claim), and the secrets its call returns go to the caller rather than to the
    one-time secrets table. An AWS call that takes longer than `timeout` seconds fails as CallTimedOut and is not
    retried: nobody is waiting for it any more. Other retryable errors are retried by a courier, as usual. Answers
    the operation as it stands after this attempt. Not for a serial kind on a resource, which waits for earlier ones."""
    operation_kind = operation_kind_get(kind)
    if operation_kind.serial and resource is not None:
        raise ValueError(f"{kind} is serial: it waits for earlier operations on its resource, so cannot run at once.")
    now = timezone.now()
    with transaction.atomic():
        operation = _recorded(Operation(
            kind=kind, target=target, parameters=parameters or {}, actor_name=system_actor, resource=resource,
            status=Operation.Status.RUNNING, attempts=1, started_at=now, courier=_courier(),
        ))  # fmt: skip
    secrets: list[tuple[str, str]] = []
    outcome = aws_run(_attempt(operation_kind, _call_of(operation), timeout))
    _record_outcome(operation, operation_kind, outcome, timeout, secrets_to=secrets)
    if operation.status == Operation.Status.RUNNING:  # handed back to the queue for a retry
        operation.refresh_from_db()
    return Performed(operation=operation, secrets=dict(secrets))


def operations_of(resource: models.Model) -> models.QuerySet[Operation]:
    """The operations about one row, newest first: one indexed query."""
    return Operation.objects.filter(
        resource_type=ContentType.objects.get_for_model(resource), resource_id=resource.pk
    ).order_by("-created_at", "-id")


def attempt_outcome(marker: str) -> str:
    """What became of the attempt an `OperationCall.attempt_marker` names: "recorded" when its outcome is the
    operation's recorded one, "pending" while the operation has not ended, "lost" otherwise (a courier lost mid-call,
    a superseded attempt, or no operation of ours at all)."""
    token, _, attempt = marker.partition("/")
    try:
        operation = Operation.objects.filter(idempotency_token=uuid.UUID(token)).first()
    except ValueError:
        return "lost"
    if operation is None:
        return "lost"
    if not operation.is_terminal:
        return "pending"
    recorded = operation.status == Operation.Status.SUCCEEDED and str(operation.attempts) == attempt
    return "recorded" if recorded else "lost"


def _audit(operation: Operation, event: str, detail: str) -> None:
    """Append an entry that keeps what is true now: what was asked, in words, and the resource's current name."""
    resource_name = operation.resource_name
    summary = operation_kind_get(operation.kind).audit_summary(
        parameters=operation.parameters, resource_name=resource_name
    )
    AuditEntry.objects.create(
        actor_name=operation.actor_name,
        kind=operation.kind,
        target=operation.target,
        resource_name=resource_name[: AuditEntry._meta.get_field("resource_name").max_length],
        summary=summary,
        reason=operation.reason,
        event=event,
        detail=detail,
        operation=operation,
    )


def _waiting_for_earlier(operations: list[Operation]) -> set[int]:
    """The serial operations among these that wait: an earlier serial operation on the same resource has not ended."""
    serial = [op for op in operations if op.resource_id is not None and operation_kind_get(op.kind).serial]
    if not serial:
        return set()
    earliest: dict[tuple[int | None, int], int] = {}
    unfinished = Operation.objects.filter(
        resource_id__in={op.resource_id for op in serial}, kind__in=_serial_kind_names(),
        status__in=Operation.UNFINISHED, pk__lt=max(op.pk for op in serial),
    ).values_list("resource_type_id", "resource_id", "pk")  # fmt: skip
    for resource_type_id, resource_id, pk in unfinished:
        key = (resource_type_id, resource_id)
        earliest[key] = min(pk, earliest.get(key, pk))
    return {op.pk for op in serial if earliest.get((op.resource_type_id, op.resource_id), op.pk) < op.pk}


def _serial_kind_names() -> list[str]:
    return [kind.name for kind in operation_kinds() if kind.serial]


def _courier() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"  # this process, not the one that forked it


def _claim(operation_ids: list[int], now: datetime) -> list[Operation]:
    """Move queued operations to running, in one transaction. Only one courier wins each; a finished one is never
    run again; a serial one waits for the earlier ones on its resource."""
    courier = _courier()
    with transaction.atomic():
        queued = list(
            Operation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=operation_ids, status=Operation.Status.QUEUED)
            .order_by("pk")
            .prefetch_related("resource")  # their names go into the audit entries: one query per resource type
        )
        waiting = _waiting_for_earlier(queued)
        claimed = [operation for operation in queued if operation.pk not in waiting]
        Operation.objects.filter(pk__in=[operation.pk for operation in claimed]).update(
            status=Operation.Status.RUNNING, attempts=F("attempts") + 1, started_at=now, next_attempt_at=None,
            courier=courier, updated_at=now,
        )  # fmt: skip
    for operation in claimed:
        operation.status = Operation.Status.RUNNING
        operation.attempts += 1
        operation.started_at = now
        operation.next_attempt_at = None
        operation.courier = courier
    return claimed


def _courier_gone(operation: Operation) -> bool:
    """The process running this attempt is known to have died: it ran on this machine and exists no more."""
    host, _, pid = operation.courier.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _requeue_lost(operation: Operation, lost: AwsError) -> bool:
    """Hand a running operation whose courier is lost to a new one (or fail it at the attempt limit)."""
    if operation.attempts >= settings.OPERATION_MAX_ATTEMPTS:
        _fail(operation, lost, owned=True)
        return False
    with transaction.atomic():
        if not _owned(operation).update(
            status=Operation.Status.QUEUED, error_code=lost.code, error_message=lost.message, updated_at=timezone.now()
        ):
            return False
        _audit(operation, AuditEntry.Event.RETRYING, _error_detail(lost))
    return True


def operation_backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: a random delay between half and all of base * 2^(attempt-1), capped."""
    ceiling = min(settings.OPERATION_BACKOFF_MAX_SECONDS, settings.OPERATION_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def operation_execute(*, operation_id: int, timeout: float | None = None) -> Operation | None:
    """Run one queued operation's AWS call and record the outcome. Returns None when there was nothing to run.
    With `timeout`, a call that has not answered after that many seconds fails (CallTimedOut), without a retry.

    A message redelivered because the worker process running it died (acks_late) finds the operation running under
    a dead courier: it takes the operation over at once instead of waiting for the sweeper.
    """
    executed = operations_execute_together(operation_ids=[operation_id], timeout=timeout)
    if not executed:
        return None
    executed[0].refresh_from_db()
    return executed[0]


def operations_execute_together(*, operation_ids: list[int], timeout: float | None = None) -> list[Operation]:
    """Run several queued operations' AWS calls side by side on one event loop, each paced by the shared rate
    limiter, and record each outcome as it comes, exactly as a lone operation's. Answers the operations it ran (as
    claimed: read them again for their outcome). A fleet of creations runs at the API's quota this way, instead of
    one courier per call. With `timeout`, each call is given that many seconds (see `operation_execute`)."""
    now = timezone.now()
    for running in Operation.objects.filter(pk__in=operation_ids, status=Operation.Status.RUNNING):
        if _courier_gone(running):
            _requeue_lost(running, WorkerLost("its worker process ended mid-call"))
    claimed = _claim(operation_ids, now)
    if not claimed:
        return []
    kinds = [operation_kind_get(operation.kind) for operation in claimed]
    if len(claimed) == 1:
        _record_outcome(claimed[0], kinds[0], aws_run(_attempt(kinds[0], _call_of(claimed[0]), timeout)), timeout)
    else:
        _record_as_they_end(claimed, kinds, timeout)
    return claimed


# Calls of a group are awaited from a thread of their own (on the process's AWS loop, see portal.aws.clients), so
# this thread records each outcome while the others are still in flight; the database is used from here only.
_CALLER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aws-calls")


def _record_as_they_end(claimed: list[Operation], kinds: list[OperationKind], timeout: float | None) -> None:
    ended: SimpleQueue[tuple[int, dict[str, Any] | Exception]] = SimpleQueue()

    async def one(index: int) -> None:
        ended.put((index, await _attempt(kinds[index], _call_of(claimed[index]), timeout)))

    async def every() -> None:
        await asyncio.gather(*(one(index) for index in range(len(claimed))))

    calls = _CALLER.submit(aws_run, every())
    for _ in claimed:
        while True:
            try:
                index, outcome = ended.get(timeout=1)
                break
            except Empty:
                if calls.done():
                    calls.result()  # the loop itself failed: raise that (the sweeper takes the rest)
        _record_outcome(claimed[index], kinds[index], outcome, timeout)
    calls.result()


def _call_of(operation: Operation) -> OperationCall:
    return OperationCall(
        kind=operation.kind,
        target=operation.target,
        parameters=dict(operation.parameters),
        idempotency_token=str(operation.idempotency_token),
        attempt=operation.attempts,
    )


async def _attempt(kind: OperationKind, call: OperationCall, timeout: float | None) -> dict[str, Any] | Exception:
    """The call's result, or what it raised: one failing call never cuts the others of its group short."""
    try:
        return await asyncio.wait_for(kind.call(call), timeout)
    except Exception as exc:
        return exc


def _record_outcome(
    operation: Operation,
    kind: OperationKind,
    outcome: dict[str, Any] | Exception,
    timeout: float | None,
    *,
    secrets_to: list[tuple[str, str]] | None = None,
) -> None:
    if isinstance(outcome, TimeoutError):
        _record_error(operation, AwsUnavailable("CallTimedOut", f"AWS did not answer within {timeout} s."), retry=False)
    elif isinstance(outcome, AwsError):
        _record_error(operation, outcome)
    elif isinstance(outcome, SoftTimeLimitExceeded):
        _record_error(operation, AwsUnavailable("CallTimedOut", "The call took longer than the task's time limit."))
    elif isinstance(outcome, Exception):
        logger.error("Operation %s (%s) raised an unexpected error", operation.pk, operation.kind, exc_info=outcome)
        _record_error(operation, AwsError(type(outcome).__name__, str(outcome) or repr(outcome)), retry=False)
    else:
        _record_success(operation, kind, outcome, secrets_to=secrets_to)


def _owned(operation: Operation) -> models.QuerySet[Operation]:
    """The row, only while this courier's attempt still owns it."""
    return Operation.objects.filter(pk=operation.pk, status=Operation.Status.RUNNING, attempts=operation.attempts)


def _record_success(
    operation: Operation, kind: OperationKind, result: dict[str, Any], *, secrets_to: list[tuple[str, str]] | None
) -> None:
    """The outcome, its secrets (kept for the requester, or handed to `secrets_to`) and its audit entry in one
    transaction; then the local effect in a transaction of its own."""
    secrets = [(str(label), str(value)) for label, value in result.pop(SECRETS, [])]
    effect_data = result.pop(EFFECT_DATA, {})
    effect = Operation.Effect.PENDING if kind.on_success is not None else Operation.Effect.NONE
    now = timezone.now()
    outcome = {"status": Operation.Status.SUCCEEDED, "result": result, "error_code": "", "error_message": "",
               "request_id": "", "finished_at": now, "updated_at": now, "effect_status": effect,
               "effect_data": effect_data}  # fmt: skip
    with transaction.atomic():
        if not _owned(operation).update(**outcome):
            logger.warning("Operation %s attempt %s: outcome dropped, a newer attempt owns the row", operation.pk,
                           operation.attempts)  # fmt: skip
            return
        for field, value in outcome.items():  # the row as written: its other fields are as claimed
            setattr(operation, field, value)
        if secrets and secrets_to is not None:
            secrets_to.extend(secrets)
        elif secrets:
            secrets_store(operation=operation, secrets=secrets)
        _audit(operation, AuditEntry.Event.SUCCEEDED, kind.summary_of(result))
        if (kept := protected_tags(operation)) is not None:
            _audit_protected(operation, kept)
    operation_apply_effect(operation)
    _hand_over(operation)


def _audit_protected(operation: Operation, tags: dict[str, str]) -> None:
    """The operation found its resource protected in AWS and did nothing: an entry of its own, so the audit log's
    Kind filter finds every resource a cleanup run kept this way."""
    resource_name = operation.resource_name
    asked = operation_kind_get(operation.kind).audit_summary(
        parameters=operation.parameters, resource_name=resource_name
    )
    audit_record(
        actor=operation.actor,
        system_actor=operation.actor_name,
        kind="protection.kept",
        target=operation.target,
        resource_name=resource_name,
        summary=f"Not done: {asked}",
        detail=f"{protected_words(tags)}; AWS's tags: {tag_words(tags)}",
        operation=operation,
    )


def _record_error(operation: Operation, error: AwsError, *, retry: bool = True) -> None:
    will_retry = retry and error.retryable and operation.attempts < settings.OPERATION_MAX_ATTEMPTS
    if not will_retry:
        _fail(operation, error, owned=True)
        return
    delay = operation_backoff_seconds(operation.attempts)
    with transaction.atomic():
        requeued = _owned(operation).update(
            status=Operation.Status.QUEUED,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            error_code=error.code,
            error_message=error.message,
            request_id=error.request_id,
            updated_at=timezone.now(),
        )
        if not requeued:
            return
        _audit(operation, AuditEntry.Event.RETRYING, _error_detail(error))
        transaction.on_commit(lambda: _enqueue(operation.pk, countdown=delay))


def _error_detail(error: AwsError) -> str:
    request = f" (request {error.request_id})" if error.request_id else ""
    return f"{error.code}: {error.message}{request}"


def _fail(operation: Operation, error: AwsError, *, owned: bool) -> bool:
    """The one way an operation becomes FAILED: record AWS's error, audit it, then apply the kind's on_failure."""
    kind = operation_kind_get(operation.kind)
    rows = _owned(operation) if owned else Operation.objects.filter(pk=operation.pk, status__in=Operation.UNFINISHED)
    with transaction.atomic():
        failed = rows.update(
            status=Operation.Status.FAILED,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
            error_code=error.code,
            error_message=error.message,
            request_id=error.request_id,
            effect_status=Operation.Effect.PENDING if kind.on_failure is not None else Operation.Effect.NONE,
        )
        if not failed:
            return False
        operation.refresh_from_db()
        _audit(operation, AuditEntry.Event.FAILED, _error_detail(error))
    operation_apply_effect(operation)
    _hand_over(operation)
    return True


def operation_apply_effect(operation: Operation) -> bool:
    """Apply the local effect of a recorded outcome, in its own transaction. A failure is kept on the row."""
    if operation.effect_status not in (Operation.Effect.PENDING, Operation.Effect.FAILED):
        return True
    kind = operation_kind_get(operation.kind)
    try:
        with transaction.atomic():
            locked = Operation.objects.select_for_update().get(pk=operation.pk)
            if locked.effect_status not in (Operation.Effect.PENDING, Operation.Effect.FAILED):
                return True
            if locked.status == Operation.Status.SUCCEEDED and kind.on_success is not None:
                kind.on_success(locked, locked.effect_data)
                drift_settle_removed(locked)
            elif locked.status == Operation.Status.FAILED and kind.on_failure is not None:
                kind.on_failure(locked, AwsError(locked.error_code, locked.error_message, locked.request_id))
            Operation.objects.filter(pk=operation.pk).update(
                effect_status=Operation.Effect.APPLIED, effect_data={}, effect_error="",
                effect_attempts=F("effect_attempts") + 1, updated_at=timezone.now(),
            )  # fmt: skip
    except Exception as exc:
        logger.exception("Operation %s (%s): its local effect failed", operation.pk, operation.kind)
        Operation.objects.filter(pk=operation.pk).update(
            effect_status=Operation.Effect.FAILED, effect_error=f"{type(exc).__name__}: {exc}",
            effect_attempts=F("effect_attempts") + 1, updated_at=timezone.now(),
        )  # fmt: skip
        operation.refresh_from_db()
        return False
    operation.refresh_from_db()
    return True


def _hand_over(operation: Operation) -> None:
    """An operation ended: the next serial operation waiting on the same resource may run now. Only a serial one
    makes others wait (see `_waiting_for_earlier`)."""
    if operation.resource_id is None or not operation_kind_get(operation.kind).serial:
        return
    waiting = (
        Operation.objects.filter(
            resource_type_id=operation.resource_type_id,
            resource_id=operation.resource_id,
            status=Operation.Status.QUEUED,
            kind__in=_serial_kind_names(),
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        transaction.on_commit(lambda: _enqueue(waiting))


def operations_requeue_stuck(*, now: datetime | None = None) -> int:
    """The sweeper: deliver what the broker lost (oldest first), give up on lost couriers, re-apply failed effects.

    A task's hard time limit is below OPERATION_STUCK_AFTER_SECONDS, so a courier still RUNNING past it is gone.
    """
    now = now or timezone.now()
    stuck_after = timedelta(seconds=settings.OPERATION_STUCK_AFTER_SECONDS)
    requeued: list[int] = []
    for operation in Operation.objects.filter(status=Operation.Status.RUNNING).order_by("pk"):
        if operation.started_at is not None and operation.started_at < now - stuck_after:
            lost = WorkerLost(f"no outcome after {settings.OPERATION_STUCK_AFTER_SECONDS} s")
        elif _courier_gone(operation):
            lost = WorkerLost("its worker process ended mid-call")
        else:
            continue
        if _requeue_lost(operation, lost):
            requeued.append(operation.pk)
    waiting = (
        Operation.objects.filter(
            status=Operation.Status.QUEUED,
            updated_at__lt=now - timedelta(seconds=settings.OPERATION_REDELIVER_AFTER_SECONDS),
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now))
        .exclude(pk__in=requeued)
        .order_by("pk")
    )
    waiting_ids = list(waiting.values_list("pk", flat=True))
    Operation.objects.filter(pk__in=waiting_ids).update(updated_at=now)
    for operation_id in sorted(requeued + waiting_ids):
        _enqueue(operation_id)
    effects = Operation.objects.filter(
        effect_status__in=(Operation.Effect.PENDING, Operation.Effect.FAILED),
        effect_attempts__lt=Operation.EFFECT_MAX_ATTEMPTS,
        updated_at__lt=now - timedelta(seconds=settings.OPERATION_EFFECT_RETRY_SECONDS),
    ).order_by("pk")
    for operation in effects:
        operation_apply_effect(operation)
    if requeued or waiting_ids:
        logger.warning("Re-queued %d operation(s), oldest first: %s", len(requeued) + len(waiting_ids),
                       sorted(requeued + waiting_ids))  # fmt: skip
    return len(requeued) + len(waiting_ids)


class WorkerLost(AwsUnavailable):
    def __init__(self, why: str) -> None:
        super().__init__("WorkerLost", f"The courier was lost: {why}.")
