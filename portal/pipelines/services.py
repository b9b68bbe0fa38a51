"""Capture pipeline writes. Each records its Operation with the local change in one transaction; the worker does the
rest. Status changes AWS reports (events, the refresher) go through `capture_status_apply`, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from portal.core.drift import ENDED as DRIFT_ENDED
from portal.core.drift import drift_settle
from portal.core.durations import minutes_in_words
from portal.core.errors import Conflict, NotAllowedInState, Remedy
from portal.core.models import Operation
from portal.core.protection import protection_parameters
from portal.core.services import operation_request
from portal.meetings.models import Attendee, Meeting
from portal.meetings.services import meeting_require_usable
from portal.pipelines.models import CapturePipeline, Concatenation


@dataclass(frozen=True)
class CaptureSpec:
    """What "Record this meeting" asks for."""

    bucket: str
    prefix: str = ""
    audio_mux: str = "AudioOnly"
    video: bool = True
    content: bool = True
    attendee_ids: list[str] = field(default_factory=list)
    external_user_ids: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    stop_when_empty_minutes: int | None = None
    max_duration_minutes: int | None = None

    def configuration(self) -> dict[str, object]:
        """ChimeSdkMeetingConfiguration, as CreateMediaCapturePipeline takes it."""
        artifacts: dict[str, object] = {
            "Audio": {"MuxType": self.audio_mux},
            "Video": {"State": "Enabled", "MuxType": "VideoOnly"} if self.video else {"State": "Disabled"},
            "Content": {"State": "Enabled", "MuxType": "ContentOnly"} if self.content else {"State": "Disabled"},
        }
        configuration: dict[str, object] = {"ArtifactsConfiguration": artifacts}
        streams = {
            key: values
            for key, values in (("AttendeeIds", self.attendee_ids), ("ExternalUserIds", self.external_user_ids))
            if values
        }
        if streams and self.video:
            configuration["SourceConfiguration"] = {"SelectedVideoStreams": streams}
        return configuration


def capture_running_for(*, meeting: Meeting) -> CapturePipeline | None:
    return CapturePipeline.objects.filter(meeting=meeting, status__in=CapturePipeline.ACTIVE).first()


def capture_require_none_running(*, meeting: Meeting) -> None:
    """One capture per meeting: said before anything is queued."""
    running = capture_running_for(meeting=meeting)
    if running is not None:
        raise Conflict(
            f"This meeting is already being recorded ({running.get_status_display().lower()}): AWS allows one capture "
            "pipeline per meeting. Stop it first.",
            remedy=Remedy("Open the running capture", reverse("pipeline_detail", args=[running.pk])),
        )


def capture_start(*, actor: AbstractBaseUser, meeting: Meeting, spec: CaptureSpec) -> Operation:
    """CreateMediaCapturePipeline for the meeting into the bucket (and prefix); ClientRequestToken = the operation's."""
    meeting_require_usable(meeting=meeting)
    capture_require_none_running(meeting=meeting)
    try:
        with transaction.atomic():
            capture = CapturePipeline.objects.create(
                meeting=meeting,
                source_arn=capture_source_arn(meeting=meeting),
                sink_bucket=spec.bucket,
                sink_prefix=spec.prefix,
                configuration=spec.configuration(),
                tags=spec.tags,
                stop_when_empty_minutes=spec.stop_when_empty_minutes,
                max_duration_minutes=spec.max_duration_minutes,
                created_by=actor,
            )
            return operation_request(
                kind="pipelines.start",
                actor=actor,
                target=f"meeting {meeting.meeting_id}",
                parameters={
                    "capture_pk": capture.pk,
                    "meeting_pk": meeting.pk,
                    "external_meeting_id": meeting.external_meeting_id,
                    "source_arn": capture.source_arn,
                    "sink_arn": capture.sink_arn,
                    "configuration": capture.configuration,
                    "tags": spec.tags,
                    "stop_when_empty_minutes": spec.stop_when_empty_minutes,
                    "max_duration_minutes": spec.max_duration_minutes,
                },
                resource=capture,
            )
    except IntegrityError:  # another request started one between the check and the insert
        capture_require_none_running(meeting=meeting)
        raise


def capture_source_arn(*, meeting: Meeting) -> str:
    """The SourceArn AWS documents, arn:aws:chime::ACCOUNT:meeting:MEETING_ID (the account from the MeetingArn)."""
    parts = meeting.meeting_arn.split(":")
    if len(parts) < 6:
        return meeting.meeting_arn
    return f"arn:aws:chime::{parts[4]}:meeting:{meeting.meeting_id}"


def capture_stop(
    *, actor: AbstractBaseUser | None, capture: CapturePipeline, why: str = "", keep_if_protected: bool = False
) -> Operation:
    """DeleteMediaCapturePipeline: AWS answers at once, the pipeline goes Stopping, and Stopped some seconds later.
    `actor` None is the scheduler (a policy); `why` says which. `keep_if_protected` (a cleanup run): not when AWS
    holds the pipeline tagged PROTECTION_TAG as the worker acts."""
    if capture.status not in CapturePipeline.RUNNING or not capture.media_pipeline_id:
        states = {
            CapturePipeline.Status.REQUESTED: "This capture is still being created; stop it once AWS has answered.",
            CapturePipeline.Status.STOPPING: "This capture is already stopping; AWS says Stopped shortly.",
        }
        raise NotAllowedInState(states.get(capture.status, f"This capture is {capture.get_status_display()}."))
    if capture.stop_operation_id is not None:
        raise NotAllowedInState("A stop was already asked for; AWS says Stopping, then Stopped, shortly.")
    meeting = capture.meeting
    with transaction.atomic():
        operation = operation_request(
            kind="pipelines.stop",
            actor=actor,
            target=capture.media_pipeline_id,
            parameters={
                "capture_pk": capture.pk,
                "media_pipeline_id": capture.media_pipeline_id,
                "external_meeting_id": meeting.external_meeting_id if meeting else "",
                "why": why,
                "arn": capture.arn,
                **protection_parameters(keep_if_protected),
            },
            resource=capture,
        )
        CapturePipeline.objects.filter(pk=capture.pk).update(
            stop_operation=operation, stop_reason=why or f"asked by {operation.actor_name}"
        )
    return operation


def capture_concatenate(*, actor: AbstractBaseUser, capture: CapturePipeline, bucket: str, prefix: str) -> Operation:
    """CreateMediaConcatenationPipeline: the stopped capture's audio chunks as one file under the chosen sink."""
    if capture.status != CapturePipeline.Status.STOPPED:
        raise NotAllowedInState("Only a stopped capture can be made into one file; stop it first.")
    if capture.concatenations.filter(status__in=Concatenation.ACTIVE).exists():
        raise Conflict("A concatenation of this capture is already running; its file is offered when it is done.")
    with transaction.atomic():
        concatenation = Concatenation.objects.create(
            capture=capture, sink_bucket=bucket, sink_prefix=prefix, created_by=actor
        )
        return operation_request(
            kind="pipelines.concatenate",
            actor=actor,
            target=capture.media_pipeline_id or "",
            parameters={
                "capture_pk": capture.pk,
                "concatenation_pk": concatenation.pk,
                "external_meeting_id": capture.meeting.external_meeting_id if capture.meeting else "",
                "media_pipeline_id": capture.media_pipeline_id,
                "capture_arn": capture.arn,
                "sink_arn": concatenation.sink_arn,
            },
            resource=capture,
        )


# A capture only moves forward (Paused and InProgress alternate): an older status, late or from a slow read, is ignored.
PROGRESS = {"requested": 0, "NotStarted": 0, "Initializing": 1, "InProgress": 2, "Paused": 2, "Stopping": 3,
            "Stopped": 4, "Failed": 4}  # fmt: skip


def capture_status_apply(*, capture: CapturePipeline, status: str, at: datetime, failure: str = "") -> bool:
    """AWS said `status` at `at` (an event's timestamp, or UpdatedTimestamp): applied unless the row already shows a
    newer status, or one further along. True when it changed the row."""
    if status not in CapturePipeline.AWS_STATUSES or capture.status == CapturePipeline.Status.GONE:
        return False
    if PROGRESS[status] < PROGRESS.get(capture.status, 0):
        return False
    if capture.status_at is not None and at < capture.status_at and PROGRESS[status] == PROGRESS[capture.status]:
        return False
    if capture.status == status and capture.status_at is not None:
        return False
    changes: dict[str, object] = {"status": status, "status_at": at, "changed_at": timezone.now()}
    if status == CapturePipeline.Status.IN_PROGRESS and capture.started_at is None:
        changes["started_at"] = at
    if status in (CapturePipeline.Status.STOPPED, CapturePipeline.Status.FAILED) and capture.ended_at is None:
        changes["ended_at"] = at
    if failure:
        changes["failure"] = failure
    CapturePipeline.objects.filter(pk=capture.pk).update(**changes)
    for name, value in changes.items():
        setattr(capture, name, value)
    if status in (CapturePipeline.Status.STOPPED, CapturePipeline.Status.FAILED):
        drift_settle(capture, reason=DRIFT_ENDED)  # a capture found in AWS, then stopped there, differs in nothing
    return True


@dataclass(frozen=True)
class PolicyStop:
    capture: CapturePipeline
    why: str


def captures_due_a_policy_stop(*, now: datetime) -> list[PolicyStop]:
    """Running captures a policy says to stop: nobody joined within N minutes of the start, or past their maximum
    duration. Two queries, whatever the number of captures."""
    running = list(
        CapturePipeline.objects.filter(status__in=CapturePipeline.RUNNING, stop_operation__isnull=True)
        .exclude(media_pipeline_id=None)
        .filter(Q(stop_when_empty_minutes__isnull=False) | Q(max_duration_minutes__isnull=False))
        .select_related("meeting")
    )
    joined = set(
        Attendee.objects.filter(meeting_id__in=[c.meeting_id for c in running if c.stop_when_empty_minutes])
        .filter(Q(state=Attendee.State.CONNECTED) | Q(joined_at__isnull=False))
        .values_list("meeting_id", "joined_at", "state")
    )
    due: list[PolicyStop] = []
    for capture in running:
        age = now - capture.created_at
        if capture.max_duration_minutes and age >= timedelta(minutes=capture.max_duration_minutes):
            due.append(
                PolicyStop(capture, f"policy: maximum duration of {minutes_in_words(capture.max_duration_minutes)}")
            )
            continue
        if capture.stop_when_empty_minutes and age >= timedelta(minutes=capture.stop_when_empty_minutes):
            somebody = any(
                meeting_id == capture.meeting_id
                and (state == Attendee.State.CONNECTED or (joined_at and joined_at >= capture.created_at))
                for meeting_id, joined_at, state in joined
            )
            if not somebody:
                why = f"policy: nobody joined within {minutes_in_words(capture.stop_when_empty_minutes)}"
                due.append(PolicyStop(capture, why))
    return due


def captures_enforce_policies() -> int:
    """Stop every capture a policy says to, through the operation pipeline, as the scheduler. How many were asked."""
    stops = captures_due_a_policy_stop(now=timezone.now())
    for stop in stops:
        capture_stop(actor=None, capture=stop.capture, why=stop.why)
    return len(stops)
