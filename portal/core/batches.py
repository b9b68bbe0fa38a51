"""Operation batches: one action that requests many operations (a person disconnected everywhere, several stages
deleted at once) is followed on one page. Each operation still runs, retries and is audited on its own; the shared
rate limiter paces them at the quota.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from portal.core.errors import DomainError
from portal.core.models import Operation, OperationBatch
from portal.core.services import SCHEDULER_NAME

Row = TypeVar("Row")


@dataclass(frozen=True)
class BatchProgress:
    """How far a batch has come: counts by status, in the order they are shown."""

    total: int
    queued: int
    running: int
    succeeded: int
    failed: int

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    @property
    def done(self) -> bool:
        return self.finished == self.total

    @property
    def percent(self) -> int:
        return round(100 * self.finished / self.total) if self.total else 100


def operation_batch_record(
    *, label: str, actor: AbstractBaseUser | None, reason: str, operations: list[Operation]
) -> OperationBatch:
    """Group operations requested by one action (actor None: a scheduled job). Call it in the transaction that
    requested them."""
    actor_name = actor.get_username() if actor is not None else SCHEDULER_NAME
    with transaction.atomic():
        batch = OperationBatch.objects.create(label=label, actor=actor, actor_name=actor_name, reason=reason)
        batch.operations.set(operations)
    return batch


def operation_batch_each(
    *, label: str, actor: AbstractBaseUser, rows: Sequence[Row], request: Callable[[Row], Operation]
) -> OperationBatch:
    """One operation per row (`request` asks it), all requested in one transaction or none, followed together on one
    batch page. A row the service refuses refuses the whole request, and the refusal names the row."""
    with transaction.atomic():
        operations = []
        for row in rows:
            try:
                operations.append(request(row))
            except DomainError as refused:
                raise type(refused)(f"{row}: {refused.message}", remedy=refused.remedy) from refused
        return operation_batch_record(label=label, actor=actor, reason="", operations=operations)


def batches_recent(*, kind: str = "") -> list[OperationBatch]:
    """Batches requested in the last day, newest first, at most 5 (their pages can be left and come back to), only
    those with operations of `kind` when given: one query."""
    batches = OperationBatch.objects.filter(created_at__gte=timezone.now() - timedelta(days=1))
    if kind:
        batches = batches.filter(operations__kind=kind).distinct()
    return list(batches.order_by("-created_at")[:5])


def batch_operations(*, batch: OperationBatch) -> list[Operation]:
    """The batch's operations in the order they were requested, with their resources: one query per resource type."""
    return list(batch.operations.order_by("pk").prefetch_related("resource"))


SHOWN_AT_MOST = 100


def batch_shown(operations: list[Operation]) -> list[Operation]:
    """The rows a batch's page lists: every operation of a small batch; of a large one (a fleet of a thousand) the
    failed and unfinished first, then the latest to succeed, at most SHOWN_AT_MOST (the counts say the rest)."""
    if len(operations) <= SHOWN_AT_MOST:
        return operations
    order = {Operation.Status.FAILED: 0, Operation.Status.RUNNING: 1, Operation.Status.QUEUED: 2}
    ranked = sorted(
        operations, key=lambda op: (order.get(op.status, 3), -(op.finished_at or op.created_at).timestamp())
    )
    return sorted(ranked[:SHOWN_AT_MOST], key=lambda operation: operation.pk)


def batch_failures_by_code(operations: list[Operation]) -> list[tuple[str, int]]:
    """How many operations failed with each AWS error code, most first."""
    codes = Counter(op.error_code or "unknown" for op in operations if op.status == Operation.Status.FAILED)
    return codes.most_common()


def batch_progress(operations: list[Operation]) -> BatchProgress:
    statuses = [operation.status for operation in operations]
    return BatchProgress(
        total=len(statuses),
        queued=statuses.count(Operation.Status.QUEUED),
        running=statuses.count(Operation.Status.RUNNING),
        succeeded=statuses.count(Operation.Status.SUCCEEDED),
        failed=statuses.count(Operation.Status.FAILED),
    )
