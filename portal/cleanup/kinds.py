"""What cleanup may act on: each feature declares a `CleanupKind` in its own `cleanup` module (autodiscovered), the
way it declares its operation kinds. Core's cleanup does the rest: selection, conditions, protection, cap, runs.

A kind answers four questions about its rows: which rows a policy may still act on (`candidates`), what a row is
called, tagged and where it came from (`describe`), whether and why it meets a condition at a given time
(`evaluate`), and whether it is in transition (`busy`); and it requests the operation of its action (`act`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Model, QuerySet

from portal.core.protection import PROTECTION_TAG

__all__ = ["PROTECTION_TAG", "CleanupKind", "Condition", "Described", "cleanup_kind_register"]

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from portal.core.models import Operation

# No policy ever touches a resource carrying PROTECTION_TAG (any value), in the portal's tags or in those the portal
# last saw in AWS; a participant token follows its stage's tags. The run's operations read AWS's tags once more just
# before acting (portal.core.protection): `act` requests them so.


class Condition:
    OLDER_THAN = "older_than"
    IDLE_FOR = "idle_for"
    RUNNING_LONGER_THAN = "running_longer_than"
    TOKEN_EXPIRED = "token_expired"

    LABELS = {
        OLDER_THAN: "Older than",
        IDLE_FOR: "Idle for",
        RUNNING_LONGER_THAN: "Running longer than",
        TOKEN_EXPIRED: "Token expired",
    }
    TIMED = (OLDER_THAN, IDLE_FOR, RUNNING_LONGER_THAN)  # these take a duration


@dataclass(frozen=True)
class Described:
    """A row as a policy's selection sees it."""

    name: str
    tags: dict[str, str]
    origin: str  # "portal" or "found"
    # The tags reconciliation last saw in AWS where they differ from the portal's (an open drift record, not adopted).
    aws_tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CleanupKind:
    name: str  # "stage"
    label: str  # "Stages"
    action: str  # "delete"
    action_label: str  # "Delete the stage"
    operation_kind: str  # the operation `act` requests, e.g. "stages.delete" (its permission applies)
    conditions: tuple[str, ...]  # the Condition values that apply to this kind
    candidates: Callable[[], QuerySet[Model]]  # the rows the action may still apply to
    describe: Callable[[Model], Described]
    # Why the row meets the condition at `now`, in words ("created 9 days ago"), or None when it does not.
    evaluate: Callable[[Model, str, timedelta, datetime], str | None]
    busy: Callable[[Model], str]  # why the row is in transition now ("being deleted"), or ""
    # Request the action's operation, with a reason, as keeping the resource if AWS holds it protected by then.
    act: Callable[[Model, AbstractBaseUser | None, str], Operation]


_KINDS: dict[str, CleanupKind] = {}


def cleanup_kind_register(kind: CleanupKind) -> CleanupKind:
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise ValueError(f"Cleanup kind {kind.name!r} is registered twice.")
    _KINDS[kind.name] = kind
    return kind


def cleanup_kinds() -> list[CleanupKind]:
    return sorted(_KINDS.values(), key=lambda kind: kind.label)


def cleanup_kind_get(name: str) -> CleanupKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"Unknown cleanup kind {name!r}.") from None
