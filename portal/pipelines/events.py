""" "Chime Media Pipeline State Change" events from the portal's events queue (the meeting's NotificationsConfiguration,
or an EventBridge rule into it), applied to capture pipelines: they push a status change the moment AWS sends it;
the refresher stays the backstop, since delivery is best effort.

Each event is applied once (dedupe by its id) and only when it is newer than the status the row shows (events come
late and out of order). An event about a pipeline whose creation the portal is still recording waits on the queue;
one about a pipeline the portal does not know is ignored (reconciliation finds pipelines made elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction

from portal.core.events import Envelope, Outcome, Unreadable, event_handler_register
from portal.pipelines.models import CapturePipeline, PipelineEvent
from portal.pipelines.services import capture_status_apply

DETAIL_TYPE = "Chime Media Pipeline State Change"
STATUS = {
    "MediaPipelineInProgress": CapturePipeline.Status.IN_PROGRESS,
    "MediaPipelineResumed": CapturePipeline.Status.IN_PROGRESS,
    "MediaPipelineDeleted": CapturePipeline.Status.STOPPED,
    "MediaPipelinePermanentFailure": CapturePipeline.Status.FAILED,
}
KNOWN = {*STATUS, "MediaPipelineTemporaryFailure"}


@dataclass(frozen=True)
class PipelineEventMessage:
    event_id: str
    event_type: str
    occurred_at: datetime
    media_pipeline_id: str
    meeting_id: str


def pipeline_event_parse(envelope: Envelope) -> PipelineEventMessage:
    """A DETAIL_TYPE event's detail; Unreadable when it is no pipeline event the portal applies."""
    detail = envelope.detail
    event_type = str(detail.get("eventType", "")).removeprefix("chime:")
    if event_type not in KNOWN:
        raise Unreadable(f"Unknown media pipeline event type {detail.get('eventType')!r}.")
    if not envelope.event_id:
        raise Unreadable("A media pipeline event needs an id.")
    try:
        occurred_at = datetime.fromtimestamp(int(detail["timestamp"]) / 1000, tz=UTC)
        media_pipeline_id = str(detail["mediaPipelineId"])
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as error:
        raise Unreadable(f"Unreadable pipeline event: {error!r}") from error
    return PipelineEventMessage(
        event_id=envelope.event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        media_pipeline_id=media_pipeline_id,
        meeting_id=str(detail.get("meetingId") or ""),
    )


def _apply(event: PipelineEventMessage, captures: dict[str, CapturePipeline], seen: set[str]) -> str:
    if event.event_id in seen:
        return "duplicate"
    capture = captures.get(event.media_pipeline_id)
    if capture is None:
        pending = CapturePipeline.objects.filter(
            status=CapturePipeline.Status.REQUESTED, meeting__meeting_id=event.meeting_id
        ).exists()
        return "deferred" if pending else "ignored"
    try:
        with transaction.atomic():
            PipelineEvent.objects.create(
                event_id=event.event_id, pipeline=capture, event_type=event.event_type, occurred_at=event.occurred_at
            )
            status = STATUS.get(event.event_type)
            if status is not None:
                failure = "AWS reported a permanent failure." if status == CapturePipeline.Status.FAILED else ""
                capture_status_apply(capture=capture, status=status, at=event.occurred_at, failure=failure)
    except IntegrityError:
        return "duplicate"  # the same event applied concurrently
    seen.add(event.event_id)
    return "applied"


def pipeline_events_apply(envelopes: list[Envelope]) -> list[Outcome]:
    """A received batch: pipelines and seen event ids read with one query each, each event in its own transaction;
    an unreadable one answered Unreadable (portal.core.events keeps it as a dead letter)."""
    parsed: list[PipelineEventMessage | Unreadable] = []
    for envelope in envelopes:
        try:
            parsed.append(pipeline_event_parse(envelope))
        except Unreadable as error:
            parsed.append(error)
    events = [event for event in parsed if isinstance(event, PipelineEventMessage)]
    captures = CapturePipeline.objects.in_bulk([e.media_pipeline_id for e in events], field_name="media_pipeline_id")
    seen = set(
        PipelineEvent.objects.filter(event_id__in=[e.event_id for e in events]).values_list("event_id", flat=True)
    )
    return [event if isinstance(event, Unreadable) else _apply(event, captures, seen) for event in parsed]


event_handler_register(DETAIL_TYPE, pipeline_events_apply)
