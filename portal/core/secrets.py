"""One-time secrets: what AWS hands back that must never be stored in the clear (participant tokens, join tokens),
and what the portal makes in a change that is not an operation (a generated password).

The operation pipeline stores AWS's, encrypted, in the same transaction that records the AWS outcome; a change that
is not an operation keeps its secret by its audit entry, in the transaction that writes the entry. The person who
asked for them reads them exactly once, within `SECRET_LIFETIME`; nobody else ever can.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.core.models import AuditEntry, OneTimeSecret, Operation

SECRET_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class SecretsOffer:
    """What a page needs to offer secrets once (templates/core/secrets_reveal.html): where to ask for them, where
    the answer goes, whose they are and how many the person looking could still read."""

    url: str
    target: str  # the id of the element the revealed secrets replace
    owner_id: int | None
    owner_name: str
    waiting: int


def _fernet() -> Fernet:
    key = hashlib.sha256(f"one-time-secret:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _kept_by(operation: Operation | None, entry: AuditEntry | None) -> dict[str, Any]:
    if (operation is None) == (entry is None):
        raise ValueError("One-time secrets are kept by an operation or by an audit entry.")
    return {"operation": operation} if operation is not None else {"audit_entry": entry}


def _store(*, kept_by: dict[str, Any], owner_id: int | None, secrets: list[tuple[str, str]]) -> None:
    expires_at = timezone.now() + SECRET_LIFETIME
    OneTimeSecret.objects.bulk_create(
        OneTimeSecret(
            **kept_by,
            owner_id=owner_id,
            label=label,
            ciphertext=_fernet().encrypt(secret.encode()),
            expires_at=expires_at,
        )
        for label, secret in secrets
    )


def secrets_store(*, operation: Operation, secrets: list[tuple[str, str]]) -> None:
    """Keep (label, secret) pairs for the operation's requester until they read them or they expire."""
    _store(kept_by={"operation": operation}, owner_id=operation.actor_id, secrets=secrets)


def secret_keep(*, entry: AuditEntry, owner: AbstractBaseUser, label: str, secret: str) -> None:
    """Keep a secret the portal made in the change `entry` records, for the person who made it (`owner`)."""
    _store(kept_by={"audit_entry": entry}, owner_id=owner.pk, secrets=[(label, secret)])


def _theirs(
    user: AbstractBaseUser | AnonymousUser, operation: Operation | None, entry: AuditEntry | None
) -> QuerySet[OneTimeSecret]:
    return OneTimeSecret.objects.filter(owner_id=user.pk, **_kept_by(operation, entry))


def secrets_waiting(
    *, user: AbstractBaseUser | AnonymousUser, operation: Operation | None = None, entry: AuditEntry | None = None
) -> int:
    """How many secrets this user could still read for the operation or the audit entry."""
    return _theirs(user, operation, entry).filter(expires_at__gt=timezone.now()).count()


def secrets_take(
    *, user: AbstractBaseUser | AnonymousUser, operation: Operation | None = None, entry: AuditEntry | None = None
) -> list[tuple[str, str]]:
    """(label, secret) pairs waiting for `user`, deleted as they are read: each is shown exactly once."""
    with transaction.atomic():
        rows = list(_theirs(user, operation, entry).select_for_update())
        OneTimeSecret.objects.filter(pk__in=[row.pk for row in rows]).delete()
    now = timezone.now()
    return [(row.label, _fernet().decrypt(bytes(row.ciphertext)).decode()) for row in rows if row.expires_at > now]


def secrets_expire() -> int:
    deleted, _ = OneTimeSecret.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
