"""Events the portal reads from its queue (MEETING_EVENTS_QUEUE_URL): the consumer's receive, dispatch and delete,
the envelope read once, the registry of handlers per detail-type, and the dead letters.

Each message is an EventBridge event, bare (an EventBridge rule into the queue) or inside an SNS notification (a
topic subscribed to it), read once into an `Envelope`. An app handles a detail-type by declaring a handler in its
`events` module (autodiscovered); a second handler for the same detail-type is refused at startup:

    event_handler_register("Chime Media Pipeline State Change", pipeline_events_apply)

A handler takes a received batch's envelopes and answers one outcome per envelope: "applied", "duplicate",
"deferred" (leave it on the queue a little longer), "ignored", or an `Unreadable` saying why the event cannot be
applied, which is kept as a dead letter. A message that is no EventBridge event, or of a detail-type nobody handles,
is a dead letter too: the queue only receives what the portal configured (the meetings' NotificationsConfiguration,
or a rule someone made), so an event nobody handles is a misconfiguration an operator should see, and deleting it
keeps it from blocking the queue. A handler applies each event in a transaction of its own; the dispatch lets those
commits return before they reach the disk and flushes the batch once at its end, before the consumer deletes the
messages (portal.core.durability).

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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, connection

from portal.aws import sqs
from portal.aws.clients import aws_run
from portal.core.durability import commits_unflushed
from portal.core.models import DeadLetter

logger = logging.getLogger(__name__)

Message = tuple[str, str]  # (body, message id)
OUTCOMES = ("applied", "duplicate", "deferred", "ignored", "dead-letter", "failed")
DATABASE_LOST = (OperationalError, InterfaceError)  # what a broken connection or a stopped database raises
DEFER_SECONDS = 1  # a deferred event (its subject's creation not recorded yet) comes back after this long
RETRY_SECONDS_MAX = 60  # the longest a failed event waits before it is received again
DATABASE_WAIT_MAX_SECONDS = 30


class Unreadable(ValueError):
    """The message is no event the portal can apply: why, kept with it as a dead letter."""


@dataclass(frozen=True)
class Envelope:
    """One queue message's EventBridge event, unwrapped from SNS when it came through a topic."""

    message_id: str
    body: str  # the message as received, kept whole in a dead letter
    event_id: str
    detail_type: str
    region: str
    detail: dict[str, Any]


Outcome = str | Unreadable
EventsHandler = Callable[[list[Envelope]], list[Outcome]]

_HANDLERS: dict[str, EventsHandler] = {}


@dataclass(frozen=True)
class Dispatched:
    outcomes: list[str]  # one of OUTCOMES per message, in the messages' order
    errors: dict[int, str] = field(default_factory=dict)  # a "failed" or "dead-letter" message's index: why


def event_handler_register(detail_type: str, handler: EventsHandler) -> EventsHandler:
    """Declare the handler of a detail-type; a second handler for one detail-type is a programming error."""
    if detail_type in _HANDLERS:
        raise ImproperlyConfigured(
            f"Events of detail-type {detail_type!r} already go to {_HANDLERS[detail_type].__qualname__}; "
            f"{handler.__qualname__} cannot handle them too."
        )
    _HANDLERS[detail_type] = handler
    return handler


def envelope_parse(body: str, message_id: str = "") -> Envelope:
    """The EventBridge event in a message, bare or as the Message of the JSON document SNS sends a subscribed queue
    (https://docs.aws.amazon.com/sns/latest/dg/SendMessageToSQS.html); every EventBridge event has an id, a
    detail-type, a region and a detail object (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html)."""
    try:
        envelope = json.loads(body)
        if isinstance(envelope, dict) and envelope.get("Type") == "Notification":
            envelope = json.loads(envelope["Message"])
    except (ValueError, KeyError, TypeError) as error:
        raise Unreadable(f"Not JSON: {error}") from error
    if not isinstance(envelope, dict) or not isinstance(envelope.get("detail"), dict):
        raise Unreadable("Not an EventBridge event: no detail object.")
    detail_type, event_id = envelope.get("detail-type"), envelope.get("id")
    if not isinstance(detail_type, str) or not detail_type:
        raise Unreadable("Not an EventBridge event: no detail-type.")
    return Envelope(
        message_id=message_id,
        body=body,
        event_id="" if event_id is None else str(event_id),
        detail_type=detail_type,
        region=str(envelope.get("region") or ""),
        detail=envelope["detail"],
    )


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


def database_wait() -> None:
    """Until the database answers: the broken connection closed, then a try after 1, 2, 4 ... seconds (at most 30)."""
    connection.close()
    pause = 1
    while not database_answers():
        time.sleep(pause)
        pause = min(pause * 2, DATABASE_WAIT_MAX_SECONDS)


def _handled(
    handler: EventsHandler, envelopes: dict[int, Envelope], indexes: list[int], dispatched: Dispatched
) -> None:
    """The handler's outcomes for these envelopes; when it raises, each envelope on its own (see the module's doc)."""
    try:
        outcomes = handler([envelopes[i] for i in indexes])
    except Exception as error:
        if isinstance(error, DATABASE_LOST) and not database_answers():
            raise
        if len(indexes) > 1:
            logger.warning("An events handler raised %r on a batch of %d; each goes again alone.", error, len(indexes))
            for index in indexes:
                _handled(handler, envelopes, [index], dispatched)
            return
        logger.exception("An events handler raised on message %r.", envelopes[indexes[0]].message_id)
        dispatched.outcomes[indexes[0]] = "failed"
        dispatched.errors[indexes[0]] = f"{type(error).__name__}: {error}"
        return
    for index, outcome in zip(indexes, outcomes, strict=True):
        if isinstance(outcome, Unreadable):
            dispatched.outcomes[index], dispatched.errors[index] = "dead-letter", str(outcome)
        else:
            dispatched.outcomes[index] = outcome


def events_dispatch(messages: list[Message]) -> Dispatched:
    """Each message to its detail-type's handler (each handler gets its messages in one batch, in order); the
    outcomes in the messages' order, once everything they applied and the dead letters are on disk. Raises only when
    the database is lost."""
    dispatched = Dispatched(outcomes=[""] * len(messages))
    envelopes: dict[int, Envelope] = {}
    groups: dict[EventsHandler, list[int]] = {}
    for index, (body, message_id) in enumerate(messages):
        try:
            envelope = envelope_parse(body, message_id)
        except Unreadable as error:
            dispatched.outcomes[index], dispatched.errors[index] = "dead-letter", str(error)
            continue
        handler = _HANDLERS.get(envelope.detail_type)
        if handler is None:
            dispatched.outcomes[index] = "dead-letter"
            dispatched.errors[index] = f"No handler for events of detail-type {envelope.detail_type!r}."
            continue
        envelopes[index] = envelope
        groups.setdefault(handler, []).append(index)
    with commits_unflushed() as commits:
        for handler, indexes in groups.items():
            _handled(handler, envelopes, indexes, dispatched)
        _dead_letters_keep(messages, dispatched, [i for i, o in enumerate(dispatched.outcomes) if o == "dead-letter"])
        commits.flush = bool({"applied", "dead-letter"} & set(dispatched.outcomes))
    return dispatched


def event_apply(*, body: str, message_id: str = "") -> str:
    """One message dispatched on its own: its outcome."""
    return events_dispatch([(body, message_id)]).outcomes[0]


def _dead_letters_keep(messages: list[Message], dispatched: Dispatched, indexes: list[int]) -> None:
    DeadLetter.objects.bulk_create(
        DeadLetter(message_id=messages[i][1], body=messages[i][0], error=dispatched.errors[i]) for i in indexes
    )


def _retry_seconds(receives: int) -> int:
    """A failed event comes back after 1, 2, 4, 8 ... seconds, at most a minute, as its receives grow."""
    return min(2 ** (receives - 1), RETRY_SECONDS_MAX)


def events_consume(*, url: str, wait_seconds: int = 10) -> dict[str, int]:
    """One long poll of the queue (up to 10 messages), each applied in its own transaction by the handler of its
    detail-type, deleted after commit; the count of each outcome.

    A message its handler failed on stays on the queue, not deleted, and SQS delivers it again after _retry_seconds:
    the retries are the queue's, so they outlive this process, and ApproximateReceiveCount bounds them. Failing on
    its MEETING_EVENTS_MAX_RECEIVES-th receive, it is kept as a dead letter with the error and deleted. The other
    messages of the batch are applied and deleted as usual. When the database is lost, the whole batch goes back to
    the queue at once and the error goes up to the consumer's loop, which waits for the database before it receives
    again (so an outage costs a message one receive of its bound at most)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    messages = aws_run(sqs.messages_receive(url=url, wait_seconds=wait_seconds))
    received = [(m.get("Body", ""), m.get("MessageId", "")) for m in messages]
    try:
        dispatched = events_dispatch(received)
    except DATABASE_LOST:
        aws_run(sqs.messages_delay(url=url, delays=[(m["ReceiptHandle"], 0) for m in messages]))
        raise
    done: list[str] = []
    delays: list[tuple[str, int]] = []
    last: list[int] = []
    for index, (message, outcome) in enumerate(zip(messages, dispatched.outcomes, strict=True)):
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        if outcome == "failed" and receives >= settings.MEETING_EVENTS_MAX_RECEIVES:
            dispatched.errors[index] = f"Failed on receive {receives}, the last allowed: {dispatched.errors[index]}"
            last.append(index)
            outcome = "dead-letter"
        counts[outcome] += 1
        if outcome == "deferred":
            delays.append((message["ReceiptHandle"], DEFER_SECONDS))
        elif outcome == "failed":
            delays.append((message["ReceiptHandle"], _retry_seconds(receives)))
        else:
            done.append(message["ReceiptHandle"])
    _dead_letters_keep(received, dispatched, last)
    aws_run(sqs.messages_delay(url=url, delays=delays))
    aws_run(sqs.messages_delete(url=url, receipts=done))
    return counts
