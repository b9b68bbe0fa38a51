"""Events the portal reads from its queue (EventBridge envelopes, bare or inside an SNS notification), handed to the
app that declared a handler for their detail-type in its `events` module (autodiscovered):

    event_handler_register("Chime Media Pipeline State Change", pipeline_events_apply)

A handler takes a received batch's messages as (body, message id) and answers one outcome per message: "applied",
"duplicate", "deferred" (leave it on the queue a little longer), "ignored" or "dead-letter". Messages of a
detail-type nobody declared go to the consumer's fallback, which keeps them as dead letters. A handler applies each
event in a transaction of its own; the dispatch lets those commits return before they reach the disk and flushes the
batch once at its end, before the consumer deletes the messages (portal.core.durability).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from portal.core.durability import commits_unflushed

Message = tuple[str, str]  # (body, message id)
EventsHandler = Callable[[list[Message]], list[str]]
OUTCOMES = ("applied", "duplicate", "deferred", "ignored", "dead-letter")

_HANDLERS: dict[str, EventsHandler] = {}


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


def events_dispatch(messages: list[Message], *, fallback: EventsHandler) -> list[str]:
    """Each message to its detail-type's handler (each handler gets its messages in one batch, in order); the
    outcomes in the messages' order, once everything they applied is on disk."""
    groups: dict[EventsHandler, list[int]] = {}
    for index, (body, _message_id) in enumerate(messages):
        groups.setdefault(_HANDLERS.get(event_detail_type(body), fallback), []).append(index)
    outcomes = [""] * len(messages)
    with commits_unflushed() as commits:
        for handler, indexes in groups.items():
            for index, outcome in zip(indexes, handler([messages[i] for i in indexes]), strict=True):
                outcomes[index] = outcome
        commits.flush = "applied" in outcomes
    return outcomes
