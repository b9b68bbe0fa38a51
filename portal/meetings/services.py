"""Meeting writes. Each records its Operation with the local change in one transaction; the worker does the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from portal.aws.sqs import sqs_queue_arn
from portal.core.errors import Conflict, NotAllowedInState
from portal.core.models import Operation
from portal.core.protection import protection_parameters
from portal.core.services import operation_request
from portal.meetings.models import Attendee, Meeting

RECEIVING = ("SendReceive", "Receive")
MEDIA = ("Audio", "Video", "Content")
CAPABILITIES_RULE = "Content SendReceive or Receive needs Video SendReceive or Receive: AWS refuses it otherwise."


def capabilities_problem(capabilities: dict[str, str], *, features: dict[str, Any] | None = None) -> str:
    """The capabilities rules AWS enforces, in words; "" when the capabilities are fine. With the meeting's
    `features`, a medium whose MaxResolution is None takes no capability but None."""
    if capabilities.get("Content") in RECEIVING and capabilities.get("Video") not in RECEIVING:
        return CAPABILITIES_RULE
    for medium in ("Video", "Content"):
        off = ((features or {}).get(medium) or {}).get("MaxResolution") == "None"
        if off and capabilities.get(medium, "SendReceive") != "None":
            return f"This meeting's {medium.lower()} resolution is None: {medium} must be None."
    return ""


@dataclass(frozen=True)
class AttendeeSpec:
    external_user_id: str
    capabilities: dict[str, str] | None = None  # None: AWS's default, SendReceive for all three

    def as_aws(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"ExternalUserId": self.external_user_id}
        if self.capabilities:
            spec["Capabilities"] = self.capabilities
        return spec


def meeting_require_usable(*, meeting: Meeting) -> None:
    """Refuse a change to a meeting that is not active in AWS, saying why."""
    if meeting.is_usable:
        return
    reasons = {
        Meeting.Status.CREATING: "This meeting is still being created; it can be changed once it is active.",
        Meeting.Status.ENDING: "This meeting is ending; it cannot be changed.",
        Meeting.Status.ENDED: f"This meeting has ended ({meeting.get_end_reason_display() or 'ended'}); "
        "it cannot be changed. Create a new one.",
        Meeting.Status.FAILED: "This meeting's creation failed; it cannot be changed. Create it again.",
    }
    raise NotAllowedInState(reasons.get(meeting.status, "This meeting cannot be changed now."))


def meeting_events_queue_arn() -> str:
    """The SQS queue every meeting the portal creates sends its events to; "" when none is configured."""
    return sqs_queue_arn(settings.MEETING_EVENTS_QUEUE_URL) if settings.MEETING_EVENTS_QUEUE_URL else ""


def meeting_create(
    *,
    actor: AbstractBaseUser,
    external_meeting_id: str,
    media_region: str,
    features: dict[str, Any],
    tenant_ids: list[str],
    tags: dict[str, str],
    primary: Meeting | None,
    attendees: list[AttendeeSpec],
) -> Operation:
    if primary is not None:
        meeting_require_usable(meeting=primary)
    with transaction.atomic():
        meeting = Meeting.objects.create(
            external_meeting_id=external_meeting_id,
            media_region=media_region,
            features=features,
            tenant_ids=tenant_ids,
            tags=tags,
            primary=primary,
            created_by=actor,
        )
        return operation_request(
            kind="meetings.create",
            actor=actor,
            target=f"meeting {external_meeting_id}",
            parameters={
                "meeting_pk": meeting.pk,
                "external_meeting_id": external_meeting_id,
                "media_region": media_region,
                "features": features,
                "tenant_ids": tenant_ids,
                "tags": tags,
                "primary_meeting_id": primary.meeting_id if primary else "",
                "queue_arn": meeting_events_queue_arn(),
                "attendees": [spec.as_aws() for spec in attendees],
            },
            resource=meeting,
        )


def meeting_end(
    *, actor: AbstractBaseUser | None, meeting: Meeting, reason: str = "", keep_if_protected: bool = False
) -> Operation:
    """DeleteMeeting. `keep_if_protected` (a cleanup run): not when AWS holds the meeting tagged PROTECTION_TAG as
    the worker acts (its ARN is read with GetMeeting when the portal has none: one found through events)."""
    meeting_require_usable(meeting=meeting)
    with transaction.atomic():
        Meeting.objects.filter(pk=meeting.pk).update(status=Meeting.Status.ENDING)
        return operation_request(
            kind="meetings.end",
            actor=actor,
            target=meeting.meeting_id or "",
            reason=reason,
            parameters={
                "meeting_pk": meeting.pk,
                "meeting_id": meeting.meeting_id,
                "meeting_arn": meeting.meeting_arn,
                **protection_parameters(keep_if_protected),
            },
            resource=meeting,
        )


def meeting_attendees_add(*, actor: AbstractBaseUser, meeting: Meeting, attendees: list[AttendeeSpec]) -> Operation:
    """Add attendees (split into batches of 100). An external user id the meeting already has returns that attendee."""
    meeting_require_usable(meeting=meeting)
    max_count = (meeting.features.get("Attendee") or {}).get("MaxCount", 250)
    asked = {spec.external_user_id for spec in attendees}
    existing = set(
        meeting.attendees.exclude(state=Attendee.State.DELETED)
        .filter(external_user_id__in=asked)
        .values_list("external_user_id", flat=True)
    )
    if meeting.attendee_count + len(asked - existing) > max_count:
        raise Conflict(
            f"This meeting has {meeting.attendee_count} attendees and takes at most {max_count}: "
            f"{len(asked - existing)} more would exceed it."
        )
    return operation_request(
        kind="meetings.add_attendees",
        actor=actor,
        target=meeting.meeting_id or "",
        parameters={
            "meeting_pk": meeting.pk,
            "meeting_id": meeting.meeting_id,
            "attendees": [spec.as_aws() for spec in attendees],
            "existing_external_user_ids": sorted(existing),
        },
        resource=meeting,
    )


def _attendee_parameters(attendee: Attendee) -> dict[str, Any]:
    return {
        "meeting_pk": attendee.meeting_id,
        "meeting_id": attendee.meeting.meeting_id,
        "attendee_pk": attendee.pk,
        "attendee_id": attendee.attendee_id,
        "external_user_id": attendee.external_user_id,
    }


def attendee_revoke(*, actor: AbstractBaseUser | None, attendee: Attendee, reason: str) -> Operation:
    """DeleteAttendee: the attendee is dropped and their join token stops working. The reason is audited."""
    meeting_require_usable(meeting=attendee.meeting)
    if attendee.state == Attendee.State.DELETED:
        raise NotAllowedInState(f"{attendee} was already removed from this meeting.")
    with transaction.atomic():
        operation = operation_request(
            kind="meetings.revoke_attendee",
            actor=actor,
            target=f"{attendee.meeting.meeting_id} attendee {attendee.attendee_id}",
            reason=reason,
            parameters=_attendee_parameters(attendee),
            resource=attendee.meeting,
        )
        Attendee.objects.filter(pk=attendee.pk).update(revoke_operation=operation)
    return operation


def attendee_capabilities_update(
    *, actor: AbstractBaseUser, attendee: Attendee, capabilities: dict[str, str]
) -> Operation:
    meeting_require_usable(meeting=attendee.meeting)
    if problem := capabilities_problem(capabilities, features=attendee.meeting.features):
        raise Conflict(problem)
    return operation_request(
        kind="meetings.update_capabilities",
        actor=actor,
        target=f"{attendee.meeting.meeting_id} attendee {attendee.attendee_id}",
        parameters={**_attendee_parameters(attendee), "capabilities": capabilities},
        resource=attendee.meeting,
    )


def meeting_capabilities_update_except(
    *, actor: AbstractBaseUser, meeting: Meeting, excluded: list[Attendee], capabilities: dict[str, str]
) -> Operation:
    """Everyone in the meeting but `excluded` gets `capabilities` (e.g. every camera off but the presenter's)."""
    meeting_require_usable(meeting=meeting)
    if problem := capabilities_problem(capabilities, features=meeting.features):
        raise Conflict(problem)
    if not excluded:
        raise Conflict("Choose at least one attendee to leave unchanged.")
    return operation_request(
        kind="meetings.update_capabilities_except",
        actor=actor,
        target=meeting.meeting_id or "",
        parameters={
            "meeting_pk": meeting.pk,
            "meeting_id": meeting.meeting_id,
            "excluded_attendee_ids": [a.attendee_id for a in excluded],
            "excluded_external_user_ids": [a.external_user_id for a in excluded],
            "capabilities": capabilities,
        },
        resource=meeting,
    )
