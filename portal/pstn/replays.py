"""The SMA handler's replay guard: each accepted signature is used once.

A signature stays valid for as long as its timestamp is within the skew (portal.pstn.signature), so the same signed
bytes sent again would run again. The first request to present a signature claims it with one atomic add in the
cache every web process shares (Redis: SET NX), kept until the timestamp leaves the skew and the signature check
refuses it anyway; a later request with it is a replay. The Lambda forwarder signs every invocation afresh with the
second it sends it in, and the SMA invokes its Lambda again for the same event only after 5 s without an answer
(README, Phone calls): AWS never sends one signature twice.

Unlike the cache's other uses (portal.core.cache), this one fails closed: while the cache does not answer, no
signature can be claimed, and the handler answers 503 rather than run what may be a replay.
"""

from __future__ import annotations

import json
import logging
import time
from enum import Enum

from django.core.cache import cache

from portal.core.audit import audit_record
from portal.core.cache import cache_or
from portal.core.models import AuditEntry
from portal.pstn import handler
from portal.pstn.services import HANDLER_ACTOR
from portal.pstn.signature import MAX_SKEW_SECONDS

logger = logging.getLogger(__name__)


class Claim(Enum):
    FIRST = "first"  # the signature was not seen before: the invocation runs
    REPLAY = "replay"  # it was: 403, and nothing runs
    UNAVAILABLE = "unavailable"  # the cache does not answer: 503, and nothing runs


def signature_claim(*, given: str, timestamp: str, body: bytes, address: str) -> Claim:
    """Claim a signature that passed the signature check. The first replay of each signature is an audit entry
    (with the call's transaction id and the sender's address); later ones of the same signature are logged only, so
    a captured request sent in a loop cannot fill the audit log."""
    until_stale = int(timestamp) + MAX_SKEW_SECONDS - int(time.time()) + 1
    uses = cache_or(lambda: _uses(f"pstn:sma-signature:{given}", max(until_stale, 1)), unavailable=None)
    if uses is None:
        return Claim.UNAVAILABLE
    if uses == 0:
        return Claim.FIRST
    transaction_id, event_type = _about(body)
    logger.warning("Refused a replayed SMA invocation (%s of call %s) from %s", event_type, transaction_id, address)
    if uses == 1:
        audit_record(
            actor=None,
            system_actor=HANDLER_ACTOR,
            kind="pstn.sma_replay",
            target=transaction_id,
            summary=f"Refused a replayed SMA invocation ({event_type or 'no event type'})",
            detail=f"from {address or 'an unknown address'}; signed at {timestamp}, first received before",
            event=AuditEntry.Event.FAILED,
        )
    return Claim.REPLAY


def _uses(key: str, timeout: int) -> int:
    """How many requests presented the signature before this one (0: this one claimed it)."""
    if cache.add(key, 0, timeout=timeout):
        return 0
    try:
        return int(cache.incr(key))
    except ValueError:  # it went stale between add and incr: still not the first use
        return 1


def _about(body: bytes) -> tuple[str, str]:
    """The call's transaction id and the event's type, as far as the body tells them."""
    try:
        invocation = handler.Invocation.parse(json.loads(body))
    except (ValueError, RecursionError):
        return "", ""
    return invocation.transaction_id, invocation.event_type[:32]
