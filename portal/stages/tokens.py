"""Participant tokens are bearer secrets: encrypted at rest for the few minutes until they are shown, then gone."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.core.models import Operation
from portal.stages.models import TokenHandoff

HANDOFF_LIFETIME = timedelta(minutes=15)


def _fernet() -> Fernet:
    key = hashlib.sha256(f"participant-token-handoff:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def token_handoff_store(*, operation: Operation, participant_id: str, token: str) -> None:
    TokenHandoff.objects.create(
        operation=operation, participant_id=participant_id, ciphertext=_fernet().encrypt(token.encode())
    )


def token_handoff_take(*, operation: Operation) -> list[tuple[str, str]]:
    """(participant id, token) pairs waiting for this operation, deleted as they are read: shown exactly once."""
    with transaction.atomic():
        handoffs = list(TokenHandoff.objects.select_for_update().filter(operation=operation))
        TokenHandoff.objects.filter(pk__in=[h.pk for h in handoffs]).delete()
    fresh = [h for h in handoffs if h.created_at >= timezone.now() - HANDOFF_LIFETIME]
    return [(h.participant_id, _fernet().decrypt(bytes(h.ciphertext)).decode()) for h in fresh]


def token_handoffs_expire() -> int:
    deleted, _ = TokenHandoff.objects.filter(created_at__lt=timezone.now() - HANDOFF_LIFETIME).delete()
    return deleted
