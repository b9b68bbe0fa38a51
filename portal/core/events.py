"""Events the portal reads from its queue (EventBridge envelopes, bare or inside an SNS notification), handed to the
app that declared a handler for their detail-type in its `events` module (autodiscovered):

    event_handler_register("Chime Media Pipeline State Change", pipeline_events_apply)

A handler takes a received batch's messages as (body, message id) and answers one outcome per message: "applied",
"duplicate", "deferred" (leave it on the queue a little longer), "ignored" or "dead-letter". Messages of a
detail-type nobody declared go to the consumer's fallback, which keeps them as dead letters. A handler applies each
event in a transaction of its own; the dispatch lets those commits return before they reach the disk and flushes the
batch once at its end, before the consumer deletes the messages (portal.core.durability).

No event can stop the others. A handler that raises, whatever it raises, is given its messages again one at a time:
applying an event twice is harmless (each is recorded once, by its id), so those it applied before it raised come
back "duplicate", and one that raises on its own is "failed", with what it raised. The consumer leaves a failed
message on the queue, so SQS delivers it again later (a retry that outlives the consumer's process), and keeps it as
a dead letter once it has been received MEETING_EVENTS_MAX_RECEIVES times. A lost database is not an event's fault:
when a handler raises a connection error and the database does not answer, the error goes up to the consumer, which
leaves the whole batch on the queue and waits for the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import InterfaceError, OperationalError, connection

from portal.core.durability import commits_unflushed

logger = logging.getLogger(__name__)

Message = tuple[str, str]  # (body, message id)
EventsHandler = Callable[[list[Message]], list[str]]
OUTCOMES = ("applied", "duplicate", "deferred", "ignored", "dead-letter", "failed")
DATABASE_LOST = (OperationalError, InterfaceError)  # what a broken connection or a stopped database raises

_HANDLERS: dict[str, EventsHandler] = {}


@dataclass(frozen=True)
class Dispatched:
    outcomes: list[str]  # one of OUTCOMES per message, in the messages' order
    errors: dict[int, str] = field(default_factory=dict)  # a "failed" message's index: what its handler raised


def event_handler_register(detail_type: str, handler: EventsHandler) -> EventsHandler:
    _HANDLERS[detail_type] = handler
    return handler


def event_detail_type(body: str) -> str:
    """The envelope's detail-type; "" when the body is no readable envelope."""
    try:
        envelope = json.loads(body)
        if isinstance(envelope, dict) and envelope.get("Type") == "Notification":
            envelope = json.loads(envelope["Message"])
    except (ValueError, KeyError, TypeError):
        return ""
    detail_type = envelope.get("detail-type") if isinstance(envelope, dict) else None
    return detail_type if isinstance(detail_type, str) else ""


def database_answers() -> bool:
    """Whether the database answers a query now; a connection that broke is dropped first, so this reconnects."""
    try:
        if connection.connection is not None and not connection.is_usable():
            connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DATABASE_LOST:
        return False
    return True


def _handled(handler: EventsHandler, messages: list[Message], indexes: list[int], dispatched: Dispatched) -> None:
    """The handler's outcomes for these messages; when it raises, each message on its own (see the module's doc)."""
    try:
        outcomes = handler([messages[i] for i in indexes])
    except Exception as error:
        if isinstance(error, DATABASE_LOST) and not database_answers():
            raise
        if len(indexes) > 1:
            logger.warning("An events handler raised %r on a batch of %d; each goes again alone.", error, len(indexes))
            for index in indexes:
                _handled(handler, messages, [index], dispatched)
            return
        logger.exception("An events handler raised on message %r.", messages[indexes[0]][1])
        dispatched.outcomes[indexes[0]] = "failed"
        dispatched.errors[indexes[0]] = f"{type(error).__name__}: {error}"
        return
    for index, outcome in zip(indexes, outcomes, strict=True):
        dispatched.outcomes[index] = outcome


def events_dispatch(messages: list[Message], *, fallback: EventsHandler) -> Dispatched:
    """Each message to its detail-type's handler (each handler gets its messages in one batch, in order); the
    outcomes in the messages' order, once everything they applied is on disk. Raises only when the database is lost."""
    groups: dict[EventsHandler, list[int]] = {}
    for index, (body, _message_id) in enumerate(messages):
        groups.setdefault(_HANDLERS.get(event_detail_type(body), fallback), []).append(index)
    dispatched = Dispatched(outcomes=[""] * len(messages))
    with commits_unflushed() as commits:
        for handler, indexes in groups.items():
            _handled(handler, messages, indexes, dispatched)
        commits.flush = "applied" in dispatched.outcomes
    return dispatched
