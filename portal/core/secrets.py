"""One-time secrets: what AWS hands back that must never be stored in the clear (participant tokens, join tokens).

The operation pipeline stores them, encrypted, in the same transaction that records the AWS outcome; the person who
asked for them reads them exactly once, within `SECRET_LIFETIME`; nobody else ever can.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from portal.core.models import OneTimeSecret, Operation

SECRET_LIFETIME = timedelta(minutes=15)


def _fernet() -> Fernet:
    key = hashlib.sha256(f"one-time-secret:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def secrets_store(*, operation: Operation, secrets: list[tuple[str, str]]) -> None:
    """Keep (label, secret) pairs for the operation's requester until they read them or they expire."""
    expires_at = timezone.now() + SECRET_LIFETIME
    OneTimeSecret.objects.bulk_create(
        OneTimeSecret(
            operation=operation,
            owner_id=operation.actor_id,
            label=label,
            ciphertext=_fernet().encrypt(secret.encode()),
            expires_at=expires_at,
        )
        for label, secret in secrets
    )


def secrets_waiting(*, operation: Operation, user: AbstractBaseUser | AnonymousUser) -> int:
    """How many secrets this user could still read for the operation."""
    return OneTimeSecret.objects.filter(operation=operation, owner_id=user.pk, expires_at__gt=timezone.now()).count()


def secrets_take(*, operation: Operation, user: AbstractBaseUser | AnonymousUser) -> list[tuple[str, str]]:
    """(label, secret) pairs waiting for `user`, deleted as they are read: each is shown exactly once."""
    with transaction.atomic():
        rows = list(OneTimeSecret.objects.select_for_update().filter(operation=operation, owner_id=user.pk))
        OneTimeSecret.objects.filter(pk__in=[row.pk for row in rows]).delete()
    now = timezone.now()
    return [(row.label, _fernet().decrypt(bytes(row.ciphertext)).decode()) for row in rows if row.expires_at > now]


def secrets_expire() -> int:
    deleted, _ = OneTimeSecret.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
