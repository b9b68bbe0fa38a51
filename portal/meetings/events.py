"""Meeting events from the SQS queue in NotificationsConfiguration (or an EventBridge rule into it), applied to the
registry: who is connected, with audio, video and content, and when meetings end.

Delivery is best effort: late, duplicated, out of order. So each event is applied in one transaction of its own,
ignored when its id was seen before, and ordered by the event's own timestamp: an attendee's presence changes only
for an event newer than the one that set it (a late AttendeeJoined never resurrects an attendee who left), and a
deleted attendee stays deleted. A message that cannot be applied (not JSON, not a meeting event, an unknown event
type) is kept in the dead-letter table with its raw body and the error, and the queue moves on. Messages are deleted
only after their transaction commits.

The consumer is not the only writer: the worker records the meetings and attendees it creates, the PSTN handler its
callers, the refresher those made elsewhere. A meeting or attendee row the batch has not read is inserted or, when
another process inserted it first, taken (insert-or-get on its unique key), never inserted twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal.aws import sqs
from portal.aws.clients import aws_run
from portal.core.drift import drift_found
from portal.core.events import DATABASE_LOST, OUTCOMES, event_handler_register, events_dispatch
from portal.core.statements import statement_run
from portal.meetings.models import Attendee, DeadLetter, Meeting, MeetingEvent
from portal.meetings.operations import meeting_mark_ended, meeting_recount

logger = logging.getLogger(__name__)

DEFER_SECONDS = 1  # an event about a meeting whose creation is not recorded yet comes back after this long
RETRY_SECONDS_MAX = 60  # the longest a failed event waits before it is received again
PRESENCE = {
    "AttendeeJoined": Attendee.State.CONNECTED,
    "AttendeeLeft": Attendee.State.LEFT,
    "AttendeeDropped": Attendee.State.DROPPED,
    "AttendeeDeleted": Attendee.State.DELETED,
}
MEDIA = {
    "AttendeeVideoStarted": {"video": True},
    "AttendeeVideoStopped": {"video": False},
    "AttendeeContentJoined": {"content": True},
    "AttendeeContentLeft": {"content": False, "content_video": False},
    "AttendeeContentDropped": {"content": False, "content_video": False},
    "AttendeeContentVideoStarted": {"content_video": True},
    "AttendeeContentVideoStopped": {"content_video": False},
}
TIMELINE_ONLY = {"MeetingStarted", "AttendeeAuthorized", "AttendeeCapabilitiesUpdated", "TranscriptionStarted",
                 "TranscriptionStopped"}  # fmt: skip
KNOWN = {*PRESENCE, *MEDIA, *TIMELINE_ONLY, "MeetingEnded", "AttendeeAdded"}


class Unreadable(ValueError):
    """The message is not a meeting event the portal can apply."""


@dataclass(frozen=True)
class MeetingEventMessage:
    event_id: str
    event_type: str
    occurred_at: datetime
    meeting_id: str
    external_meeting_id: str
    media_region: str
    attendee_id: str
    external_user_id: str


def event_parse(body: str) -> MeetingEventMessage:
    """An EventBridge "Chime Meeting State Change" envelope, bare or inside an SNS notification."""
    try:
        envelope = json.loads(body)
        if isinstance(envelope, dict) and envelope.get("Type") == "Notification":
            envelope = json.loads(envelope["Message"])
    except (ValueError, KeyError, TypeError) as error:
        raise Unreadable(f"Not JSON: {error}") from error
    if not isinstance(envelope, dict) or not isinstance(envelope.get("detail"), dict):
        raise Unreadable("Not an EventBridge event: no detail object.")
    if envelope.get("detail-type") != "Chime Meeting State Change":
        raise Unreadable(f"Not a meeting event: detail-type {envelope.get('detail-type')!r}.")
    detail = envelope["detail"]
    event_type = str(detail.get("eventType", "")).removeprefix("chime:")
    if event_type not in KNOWN:
        raise Unreadable(f"Unknown meeting event type {detail.get('eventType')!r}.")
    try:
        occurred_at = datetime.fromtimestamp(int(detail["timestamp"]) / 1000, tz=UTC)
        meeting_id = str(detail["meetingId"])
        event_id = str(envelope["id"])
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as error:
        raise Unreadable(f"A meeting event needs id, detail.timestamp and detail.meetingId: {error!r}") from error
    attendee_id = str(detail.get("attendeeId") or "")
    if event_type.startswith("Attendee") and not attendee_id:
        raise Unreadable(f"{event_type} without detail.attendeeId.")
    return MeetingEventMessage(
        event_id=event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        meeting_id=meeting_id,
        external_meeting_id=str(detail.get("externalMeetingId") or ""),
        media_region=str(detail.get("mediaRegion") or envelope.get("region") or ""),
        attendee_id=attendee_id,
        external_user_id=str(detail.get("externalUserId") or ""),
    )


@dataclass
class _Batch:
    """The rows a received batch of events touches, read with one query each and kept current as events apply.

    One consumer applies a queue's events (the Procfile and compose run one), so the attendees read at the start of a
    batch keep the presence the consumer gives them; the event row's unique id stops a copy recorded before (by this
    batch, an earlier one, or a second consumer), and MeetingEnded locks its meeting, as the web tier may be ending
    it at the same moment. Rows the batch did not read may appear meanwhile (other processes insert meetings and
    attendees): a miss is looked up and inserted only if it is still missing.
    """

    meetings: dict[str, Meeting]  # by AWS meeting id
    attendees: dict[tuple[int, str], Attendee]  # by (meeting pk, attendee id)
    seen: set[str] = field(default_factory=set)  # event ids this batch recorded
    recount: set[int] = field(default_factory=set)  # meetings whose counts an applied event changed


def _batch_load(events: list[MeetingEventMessage]) -> _Batch:
    meeting_ids = {event.meeting_id for event in events}
    meetings = Meeting.objects.in_bulk(meeting_ids, field_name="meeting_id")
    attendee_ids = {event.attendee_id for event in events if event.attendee_id}
    attendees = (
        Attendee.objects.filter(meeting_id__in=[m.pk for m in meetings.values()], attendee_id__in=attendee_ids)
        if attendee_ids and meetings
        else Attendee.objects.none()
    )
    return _Batch(
        meetings=meetings,  # type: ignore[arg-type]
        attendees={(attendee.meeting_id, attendee.attendee_id): attendee for attendee in attendees},
    )


def _meeting_for(event: MeetingEventMessage, batch: _Batch) -> Meeting | None:
    """The registry's meeting, as the batch read it, or as it is now when the batch did not have it (the worker
    records the meetings it creates meanwhile); one created elsewhere is added as found. None: the portal is still
    recording its own creation of it, so the event waits."""
    meeting = batch.meetings.get(event.meeting_id)
    if meeting is not None and event.event_type != "MeetingEnded":
        return meeting
    rows = Meeting.objects.select_for_update() if event.event_type == "MeetingEnded" else Meeting.objects
    meeting = rows.filter(meeting_id=event.meeting_id).first()
    if meeting is None:
        creating = Meeting.objects.filter(status=Meeting.Status.CREATING, external_meeting_id=event.external_meeting_id)
        if creating.exists():
            return None
        meeting, found = Meeting.objects.get_or_create(
            meeting_id=event.meeting_id,
            defaults={
                "external_meeting_id": event.external_meeting_id or event.meeting_id,
                "media_region": event.media_region,
                "status": Meeting.Status.ACTIVE,
                "origin": Meeting.Origin.FOUND,
            },
        )
        if found:
            drift_found(meeting)
    batch.meetings[event.meeting_id] = meeting
    return meeting


def _attendee_for(meeting: Meeting, event: MeetingEventMessage, batch: _Batch) -> Attendee:
    """The batch's attendee; one it has not read is inserted, or taken as another process inserted it (the worker,
    the PSTN handler, the refresher). Either way the meeting's counts are recounted at the batch's end."""
    key = (meeting.pk, event.attendee_id)
    attendee = batch.attendees.get(key)
    if attendee is None:
        attendee, _created = Attendee.objects.get_or_create(
            meeting=meeting, attendee_id=event.attendee_id, defaults={"external_user_id": event.external_user_id}
        )
        batch.attendees[key] = attendee
        batch.recount.add(meeting.pk)
    return attendee


def _attendee_changes(attendee: Attendee, event: MeetingEventMessage) -> dict[str, Any]:
    """What the event changes on the attendee: presence only by an event newer than the one that set it (a deleted
    attendee stays deleted), audio, video and content only while connected."""
    at = event.occurred_at
    changes: dict[str, Any] = {}
    state = PRESENCE.get(event.event_type)
    newer = attendee.state_at is None or at >= attendee.state_at
    if state is not None and newer and attendee.state != Attendee.State.DELETED:
        changes |= {"state": state, "state_at": at}
        if attendee.state == Attendee.State.CONNECTED and state != Attendee.State.CONNECTED and attendee.joined_at:
            changes["connected_seconds"] = attendee.connected_seconds + max(
                (at - attendee.joined_at).total_seconds(), 0
            )
        if state == Attendee.State.CONNECTED and attendee.state != Attendee.State.CONNECTED:
            changes["joined_at"] = at
        if state != Attendee.State.CONNECTED:
            changes |= {"video": False, "content": False, "content_video": False, "media_at": at}
    media = MEDIA.get(event.event_type)
    media_newer = attendee.media_at is None or at >= attendee.media_at
    if media is not None and media_newer and changes.get("state", attendee.state) == Attendee.State.CONNECTED:
        changes |= media | {"media_at": at}
    return changes


def _attendee_changed(attendee: Attendee, changes: dict[str, Any], batch: _Batch) -> None:
    """The batch's copy of the attendee follows what was written; the meeting's counts are recounted when someone
    connected, disconnected or was deleted."""
    before = attendee.state
    for name, value in changes.items():
        setattr(attendee, name, value)
    if before != attendee.state and {before, attendee.state} & {Attendee.State.CONNECTED, Attendee.State.DELETED}:
        batch.recount.add(attendee.meeting_id)


def _event_row(event: MeetingEventMessage, meeting: Meeting) -> MeetingEvent:
    return MeetingEvent(
        event_id=event.event_id,
        meeting=meeting,
        event_type=event.event_type,
        attendee_id=event.attendee_id,
        external_user_id=event.external_user_id,
        occurred_at=event.occurred_at,
        received_at=timezone.now(),
    )


_EVENT_FIELDS = [f for f in MeetingEvent._meta.concrete_fields if not f.primary_key]


@cache
def _recording_statement(changed: tuple[str, ...]) -> str:
    """The statement for an event whose attendee changes these fields: written once per set of fields (a handful:
    presence, media), so psycopg prepares each once per connection."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in _EVENT_FIELDS)
    sql = (
        f"WITH recorded AS (INSERT INTO {quote(MeetingEvent._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(_EVENT_FIELDS))}) ON CONFLICT ({quote('event_id')}) DO NOTHING RETURNING 1)"
    )
    if changed:
        assignments = ", ".join(f"{quote(Attendee._meta.get_field(name).column)} = %s" for name in changed)
        sql += (
            f", changed AS (UPDATE {quote(Attendee._meta.db_table)} SET {assignments} "
            f"WHERE {quote('id')} = %s AND EXISTS (SELECT 1 FROM recorded))"
        )
    return f"{sql} SELECT count(*) FROM recorded"


def _record_in_one_statement(row: MeetingEvent, attendee: Attendee, changes: dict[str, Any]) -> bool:
    """PostgreSQL: the event's row and the attendee's changes in one statement, so one transaction and one round
    trip, prepared once per connection; nothing is written when the event id was recorded before (False)."""
    parameters = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _EVENT_FIELDS]
    if changes:
        fields = [Attendee._meta.get_field(name) for name in changes]
        parameters += [*(f.get_db_prep_save(changes[f.name], connection) for f in fields), attendee.pk]
    return statement_run(_recording_statement(tuple(changes)), parameters) == (1,)


def _record_known_attendee(event: MeetingEventMessage, meeting: Meeting, attendee: Attendee, batch: _Batch) -> bool:
    """An event about an attendee the batch has read (most of them): recorded with its changes atomically; False
    when its id was recorded before."""
    changes = _attendee_changes(attendee, event)
    row = _event_row(event, meeting)
    if connection.vendor == "postgresql":
        recorded = _record_in_one_statement(row, attendee, changes)
    else:
        try:
            with transaction.atomic():
                row.save(force_insert=True)
                if changes:
                    Attendee.objects.filter(pk=attendee.pk).update(**changes)
        except IntegrityError:
            if not MeetingEvent.objects.filter(event_id=event.event_id).exists():
                raise
            recorded = False
        else:
            recorded = True
    if recorded:
        _attendee_changed(attendee, changes, batch)
    return recorded


def _apply_meeting_ended(meeting: Meeting, event: MeetingEventMessage) -> None:
    if meeting.status == Meeting.Status.ENDED:
        return
    if meeting.status == Meeting.Status.ENDING:
        reason = Meeting.EndReason.DELETED
    elif meeting.primary is not None and meeting.primary.status == Meeting.Status.ENDED:
        reason = Meeting.EndReason.PRIMARY_ENDED
    else:
        reason = Meeting.EndReason.BY_AWS
    meeting_mark_ended(meeting=meeting, reason=reason, at=event.occurred_at)


def _apply(event: MeetingEventMessage, batch: _Batch) -> str:
    """One event in one transaction; its row goes in first, so a copy applied concurrently is not applied twice."""
    if event.event_id in batch.seen:
        return "duplicate"
    meeting = batch.meetings.get(event.meeting_id)
    attendee = batch.attendees.get((meeting.pk, event.attendee_id)) if meeting and event.attendee_id else None
    if attendee is not None and event.event_type != "MeetingEnded":
        if not _record_known_attendee(event, meeting, attendee, batch):  # type: ignore[arg-type]
            return "duplicate"
        batch.seen.add(event.event_id)
        return "applied"
    try:
        with transaction.atomic():
            meeting = _meeting_for(event, batch)
            if meeting is None:
                return "deferred"
            _event_row(event, meeting).save(force_insert=True)
            if event.event_type == "MeetingEnded":
                _apply_meeting_ended(meeting, event)  # its attendees changed underneath: the batch reads them again
                batch.attendees = {key: row for key, row in batch.attendees.items() if key[0] != meeting.pk}
            elif event.attendee_id:
                attendee = _attendee_for(meeting, event, batch)
                changes = _attendee_changes(attendee, event)
                if changes:
                    Attendee.objects.filter(pk=attendee.pk).update(**changes)
                _attendee_changed(attendee, changes, batch)
    except IntegrityError:
        batch.meetings.pop(event.meeting_id, None)
        batch.attendees = {}  # rolled back: rows read or made in this transaction are no longer known
        if MeetingEvent.objects.filter(event_id=event.event_id).exists():
            return "duplicate"
        raise
    batch.seen.add(event.event_id)
    return "applied"


def meeting_events_apply(messages: list[tuple[str, str]]) -> list[str]:
    """Apply a received batch of (body, message id), each event in its own transaction, in order: for each,
    "applied", "duplicate", "dead-letter" or "deferred". The batch's meetings and attendees are read with one query
    each, not once per event; an event recorded before is found by its row's unique id as it is written. The list's
    counts are recounted from the attendee rows once per batch for the meetings it changed, even when an event
    raised: absolute, so a batch cut short is made good by the next one. The unreadable messages are kept as dead
    letters once the batch went through, so a batch applied again message by message (portal.core.events) keeps each
    once."""
    parsed: list[MeetingEventMessage | None] = []
    letters: list[DeadLetter] = []
    for body, message_id in messages:
        try:
            parsed.append(event_parse(body))
        except Unreadable as error:
            letters.append(DeadLetter(message_id=message_id, body=body, error=str(error)))
            parsed.append(None)
    events = [event for event in parsed if event is not None]
    batch = _batch_load(events) if events else _Batch(meetings={}, attendees={})
    try:
        outcomes = ["dead-letter" if event is None else _apply(event, batch) for event in parsed]
    finally:
        for meeting_pk in batch.recount:
            meeting_recount(meeting_pk)
    DeadLetter.objects.bulk_create(letters)
    return outcomes


event_handler_register("Chime Meeting State Change", meeting_events_apply)


def meeting_event_apply(*, body: str, message_id: str = "") -> str:
    """Apply one queue message in one transaction: "applied", "duplicate", "dead-letter" or "deferred"."""
    return meeting_events_apply([(body, message_id)])[0]


def _retry_seconds(receives: int) -> int:
    """A failed event comes back after 1, 2, 4, 8 ... seconds, at most a minute, as its receives grow."""
    return min(2 ** (receives - 1), RETRY_SECONDS_MAX)


def meeting_events_consume(*, url: str, wait_seconds: int = 10) -> dict[str, int]:
    """One long poll of the queue (up to 10 messages), each applied in its own transaction by the handler of its
    detail-type (portal.core.events; meeting events here, and what other apps declared), deleted after commit.

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
        dispatched = events_dispatch(received, fallback=meeting_events_apply)
    except DATABASE_LOST:
        aws_run(sqs.messages_delay(url=url, delays=[(m["ReceiptHandle"], 0) for m in messages]))
        raise
    done: list[str] = []
    delays: list[tuple[str, int]] = []
    letters: list[DeadLetter] = []
    for index, (message, outcome) in enumerate(zip(messages, dispatched.outcomes, strict=True)):
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        if outcome == "failed" and receives >= settings.MEETING_EVENTS_MAX_RECEIVES:
            error = f"Failed on receive {receives}, the last allowed: {dispatched.errors[index]}"
            body, message_id = received[index]
            letters.append(DeadLetter(message_id=message_id, body=body, error=error))
            outcome = "dead-letter"
        counts[outcome] += 1
        if outcome == "deferred":
            delays.append((message["ReceiptHandle"], DEFER_SECONDS))
        elif outcome == "failed":
            delays.append((message["ReceiptHandle"], _retry_seconds(receives)))
        else:
            done.append(message["ReceiptHandle"])
    DeadLetter.objects.bulk_create(letters)
    aws_run(sqs.messages_delay(url=url, delays=delays))
    aws_run(sqs.messages_delete(url=url, receipts=done))
    return counts
