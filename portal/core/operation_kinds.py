"""The registry of operation kinds: what AWS call each kind makes and what it changes locally afterwards.

A feature registers its kinds at import time (its AppConfig.ready imports the module that calls `register`).
The AWS call gets an `OperationCall`, a plain snapshot with no ORM access, because it runs inside an event loop.
The local hooks run afterwards, synchronously, inside the transaction that records the outcome. What the call
returns is stored as the operation's result, except under the key TRANSIENT: that part (tokens, bulk listings) is
handed to `on_success` and never stored or logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.aws.errors import AwsError
    from portal.core.models import Operation


@dataclass(frozen=True)
class OperationCall:
    kind: str
    target: str
    parameters: dict[str, Any]
    idempotency_token: str
    attempt: int


@dataclass(frozen=True)
class OperationKind:
    name: str
    label: str
    permission: str
    call: Callable[[OperationCall], Awaitable[dict[str, Any]]]
    on_success: Callable[[Operation, dict[str, Any]], None] | None = None
    on_failure: Callable[[Operation, AwsError], None] | None = None
    summary: Callable[[dict[str, Any]], str] = field(default=lambda result: "")


TRANSIENT = "transient"
_KINDS: dict[str, OperationKind] = {}


def register(kind: OperationKind) -> OperationKind:
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise ValueError(f"Operation kind {kind.name!r} is registered twice.")
    _KINDS[kind.name] = kind
    return kind


def operation_kind_get(name: str) -> OperationKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"Unknown operation kind {name!r}.") from None


def operation_kinds() -> list[OperationKind]:
    return sorted(_KINDS.values(), key=lambda kind: kind.name)
