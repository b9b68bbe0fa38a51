"""Meeting events from the SQS queue in NotificationsConfiguration (or an EventBridge rule into it), applied to the
registry: who is connected, with audio, video and content, and when meetings end.

Delivery is best effort: late, duplicated, out of order. So each event is applied in one transaction of its own,
ignored when its id was seen before, and ordered by the event's own timestamp: an attendee's presence changes only
for an event newer than the one that set it (a late AttendeeJoined never resurrects an attendee who left), and a
deleted attendee stays deleted. An event that cannot be applied (an unknown event type, a field missing) is answered
Unreadable, and portal.core.events, which receives, dispatches and deletes the queue's messages, keeps it as a dead
letter.

The consumer is not the only writer: the worker records the meetings and attendees it creates, the PSTN handler its
callers, the refresher those made elsewhere. A meeting or attendee row the batch has not read is inserted or, when
another process inserted it first, taken (insert-or-get on its unique key), never inserted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal.core.drift import drift_found
from portal.core.events import Envelope, Outcome, Unreadable, event_handler_register
from portal.core.statements import statement_run
from portal.meetings.models import Attendee, Meeting, MeetingEvent
from portal.meetings.operations import meeting_mark_ended, meeting_recount

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


def event_parse(envelope: Envelope) -> MeetingEventMessage:
    """A "Chime Meeting State Change" event's detail; Unreadable when it is no meeting event the portal applies."""
    detail = envelope.detail
    event_type = str(detail.get("eventType", "")).removeprefix("chime:")
    if event_type not in KNOWN:
        raise Unreadable(f"Unknown meeting event type {detail.get('eventType')!r}.")
    try:
        occurred_at = datetime.fromtimestamp(int(detail["timestamp"]) / 1000, tz=UTC)
        meeting_id = str(detail["meetingId"])
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as error:
        raise Unreadable(f"A meeting event needs id, detail.timestamp and detail.meetingId: {error!r}") from error
    if not envelope.event_id:
        raise Unreadable("A meeting event needs id, detail.timestamp and detail.meetingId: no id.")
    attendee_id = str(detail.get("attendeeId") or "")
    if event_type.startswith("Attendee") and not attendee_id:
        raise Unreadable(f"{event_type} without detail.attendeeId.")
    return MeetingEventMessage(
        event_id=envelope.event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        meeting_id=meeting_id,
        external_meeting_id=str(detail.get("externalMeetingId") or ""),
        media_region=str(detail.get("mediaRegion") or envelope.region),
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


def meeting_events_apply(envelopes: list[Envelope]) -> list[Outcome]:
    """Apply a received batch, each event in its own transaction, in order: for each, "applied", "duplicate",
    "deferred", or Unreadable (portal.core.events keeps it as a dead letter). The batch's meetings and attendees are
    read with one query each, not once per event; an event recorded before is found by its row's unique id as it is
    written. The list's counts are recounted from the attendee rows once per batch for the meetings it changed, even
    when an event raised: absolute, so a batch cut short is made good by the next one."""
    parsed: list[MeetingEventMessage | Unreadable] = []
    for envelope in envelopes:
        try:
            parsed.append(event_parse(envelope))
        except Unreadable as error:
            parsed.append(error)
    events = [event for event in parsed if isinstance(event, MeetingEventMessage)]
    batch = _batch_load(events) if events else _Batch(meetings={}, attendees={})
    try:
        return [event if isinstance(event, Unreadable) else _apply(event, batch) for event in parsed]
    finally:
        for meeting_pk in batch.recount:
            meeting_recount(meeting_pk)


event_handler_register("Chime Meeting State Change", meeting_events_apply)
