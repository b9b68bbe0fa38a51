"""The registry of operation kinds: what AWS call each kind makes and what it changes locally afterwards.

Each feature declares its kinds in its `operations` module; core imports every app's `operations` module at start.
The AWS call gets an `OperationCall`, a plain snapshot with no ORM access, because it runs inside an event loop.
What the call returns is stored as the operation's result, except two keys that are never stored in the result:
- SECRETS: (label, secret) pairs, e.g. participant tokens. Core keeps them encrypted, in the transaction that records
  the outcome, for the requester to read once (portal.core.secrets).
- EFFECT_DATA: what the local effect needs but nobody should see (a bulk listing); kept until the effect is applied.
The local effects (`on_success`, `on_failure`) run after the outcome is recorded, each in a transaction of its own;
one that raises is recorded on the operation and applied again later, without calling AWS again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.urls import reverse

from portal.core.protection import PROTECTED, protected_words

if TYPE_CHECKING:
    from portal.aws.errors import AwsError
    from portal.core.errors import DomainError
    from portal.core.models import Operation


@dataclass(frozen=True)
class OperationCall:
    kind: str
    target: str
    parameters: dict[str, Any]
    idempotency_token: str
    attempt: int

    @property
    def attempt_marker(self) -> str:
        """Names this attempt: the portal recognises what an attempt whose outcome was lost left in AWS."""
        return f"{self.idempotency_token}/{self.attempt}"


@dataclass(frozen=True)
class OperationSubject:
    """What an operation changed, named as people know it ("bob in walk-standup", a channel's name, a phone number),
    and the page it was started from, where that thing is seen."""

    name: str
    url: str


def resource_subject(operation: Operation, url_name: str, *, name: str = "") -> OperationSubject:
    """The operation's row, named `name` (by default the row's own name), linked to its page `url_name`."""
    return OperationSubject(
        name=name or operation.resource_name or operation.target,
        url=reverse(url_name, args=[operation.resource_id]) if operation.resource_id is not None else "",
    )


def page_subject(name: str, url_name: str) -> OperationSubject:
    """What a list page shows (the available numbers, the stages of a region), linked to that page."""
    return OperationSubject(name=name, url=reverse(url_name))


@dataclass(frozen=True)
class OperationKind:
    name: str
    label: str
    permission: str
    call: Callable[[OperationCall], Awaitable[dict[str, Any]]]
    on_success: Callable[[Operation, dict[str, Any]], None] | None = None
    on_failure: Callable[[Operation, AwsError], None] | None = None
    summary: Callable[[dict[str, Any]], str] = field(default=lambda result: "")
    # Operations of a serial kind on one resource run one at a time, in the order they were requested.
    serial: bool = True
    # Rendered under the operation's progress when it has succeeded; "" shows the summary only.
    result_template: str = ""
    # Why a failed operation cannot succeed as asked, from the state its resource is in now (after on_failure), in
    # the user's words and with what may help; shown in its progress instead of the generic advice. None: no opinion.
    explain_failure: Callable[[Operation], DomainError | None] | None = None
    # What the operation asks, in words, from its parameters and the name of the row it is about (e.g. "Disconnect
    # participant alice (p-123) from town-hall, token revoked"); every audit entry keeps it. None: label and name.
    describe: Callable[[dict[str, Any], str], str] | None = None
    # What the operation changed, named and linked to the page it was started from: every operation page and the
    # operations list show it instead of an AWS id. Every kind declares it; None shows the target, unlinked.
    subject: Callable[[Operation], OperationSubject] | None = None

    def subject_of(self, operation: Operation) -> OperationSubject:
        if self.subject is None:
            return OperationSubject(name=operation.target, url="")
        return self.subject(operation)

    def summary_of(self, result: dict[str, Any]) -> str:
        """The outcome in words: the kind's summary, or that it kept a resource protected in AWS."""
        tags = result.get(PROTECTED)
        return protected_words(tags) if isinstance(tags, dict) else self.summary(result)

    def audit_summary(self, *, parameters: dict[str, Any], resource_name: str) -> str:
        if self.describe is not None:
            return self.describe(parameters, resource_name)
        return f"{self.label} {resource_name}".strip()


SECRETS = "secrets"
EFFECT_DATA = "effect_data"
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
