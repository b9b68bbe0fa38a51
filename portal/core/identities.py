"""Where a person can be found. Support types a user id; every feature that can hold that identity answers where it
is connected or holds a credential the portal issued, and ends each of them on request.

Each feature declares one `IdentitySource` in its `identities` module (imported at start by CoreConfig.ready):

    IDENTITY_SOURCE = identity_source_register(IdentitySource(name="stages", label="Stages", find=..., end=...))

`find` answers in a fixed number of queries whatever the number of rows; `end` requests one operation per presence
through the operation pipeline (each audited, paced by the shared rate limiter) and returns them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from portal.core.batches import operation_batch_record
from portal.core.errors import Conflict
from portal.core.models import Operation, OperationBatch
from portal.core.permissions import REVOKE_PARTICIPANTS

USER_ID_MAX_LENGTH = 128  # IVS userId; Chime's ExternalUserId is at most 64
REASON_MAX_LENGTH = 128  # IVS DisconnectParticipant's reason


@dataclass(frozen=True)
class Presence:
    """One place an identity is: connected there, or holding an unexpired credential the portal issued for it."""

    source: str  # the IdentitySource's name
    place: str  # what people call the place: a stage's name
    place_url: str
    reference: str  # the source's own handle on it, e.g. "<stage pk>/<participant id>"
    connected: bool
    connected_since: datetime | None = None
    credential_expires_at: datetime | None = None  # a credential the portal issued, unrevoked; None when none
    credential_until_revoked: bool = False  # a credential without expiry (a Chime join token) is held
    detail: str = ""  # e.g. "participant pA1b2C3d4E5f6 in session st-…"
    ending: bool = False  # an operation ending it is already under way


@dataclass(frozen=True)
class IdentitySource:
    name: str
    label: str  # the heading of its places on the page
    find: Callable[[str], list[Presence]]
    end: Callable[[AbstractBaseUser, str, list[Presence], str], list[Operation]]  # actor, user id, presences, reason
    reason_sent_to: str = ""  # the service `end` gives the reason to ("IVS"), when it takes one


@dataclass(frozen=True)
class Found:
    source: IdentitySource
    presences: list[Presence]


_SOURCES: dict[str, IdentitySource] = {}


def identity_source_register(source: IdentitySource) -> IdentitySource:
    if source.name in _SOURCES and _SOURCES[source.name] is not source:
        raise ValueError(f"Identity source {source.name!r} is registered twice.")
    _SOURCES[source.name] = source
    return source


def identity_sources() -> list[IdentitySource]:
    return list(_SOURCES.values())


def identity_find(*, user_id: str) -> list[Found]:
    """Every source's places for this exact user id, sources in registration order."""
    return [Found(source, source.find(user_id)) for source in identity_sources()]


def identity_end_everywhere(*, actor: AbstractBaseUser, user_id: str, reason: str) -> OperationBatch:
    """Disconnect the identity wherever it is connected and revoke every credential the portal issued it, with one
    reason: one operation per place, all requested in one transaction, followed on one batch page."""
    if not actor.has_perm(REVOKE_PARTICIPANTS):
        raise PermissionDenied("You may not disconnect participants.")
    with transaction.atomic():
        operations: list[Operation] = []
        found = 0
        for result in identity_find(user_id=user_id):
            to_end = [presence for presence in result.presences if not presence.ending]
            found += len(result.presences)
            if to_end:
                operations += result.source.end(actor, user_id, to_end, reason)
        if not operations:
            raise Conflict(
                f"{user_id!r} is already being disconnected everywhere it was found."
                if found
                else f"{user_id!r} is not connected anywhere and holds no unexpired token the portal issued."
            )
        label = f"Disconnect and revoke {user_id} everywhere"
        return operation_batch_record(label=label, actor=actor, reason=reason, operations=operations)
