"""The meeting operation kinds: the Chime SDK call each makes and what it changes in the portal's rows afterwards.

CreateMeeting is idempotent through ClientRequestToken (the operation's token) and CreateAttendee through
ExternalUserId, so a retried attempt finds what the first one made. Join tokens go to core's one-time secrets,
labelled with the attendee id; the result keeps only who they belong to.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import ngettext

from portal.aws import chime_meetings as chime
from portal.aws.errors import AwsError, AwsNotFound
from portal.core.drift import ENDED as DRIFT_ENDED
from portal.core.drift import drift_changed, drift_settle
from portal.core.models import Operation
from portal.core.operation_kinds import (
    SECRETS,
    OperationCall,
    OperationKind,
    OperationSubject,
    register,
    resource_subject,
)
from portal.core.permissions import MANAGE_RESOURCES, REVOKE_PARTICIPANTS
from portal.core.protection import protected_tags, protection_in_aws
from portal.core.statements import statement_run
from portal.meetings.models import Attendee, Meeting


def _attendee_metadata(attendee: dict[str, Any]) -> dict[str, Any]:
    return {key: attendee[key] for key in ("AttendeeId", "ExternalUserId", "Capabilities") if key in attendee}


def _attendees_result(created: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "attendees": [_attendee_metadata(a) for a in created],
        "errors": [{k: e.get(k, "") for k in ("ExternalUserId", "ErrorCode", "ErrorMessage")} for e in errors],
        SECRETS: [(a["AttendeeId"], a["JoinToken"]) for a in created],
    }


@cache
def _recount_statement() -> str:
    meetings, attendees = (connection.ops.quote_name(m._meta.db_table) for m in (Meeting, Attendee))
    counted = f"SELECT count(*) FROM {attendees} WHERE meeting_id = %s AND state"
    return f"UPDATE {meetings} SET attendee_count = ({counted} <> %s), connected_count = ({counted} = %s) WHERE id = %s"


def meeting_recount(meeting_pk: int) -> None:
    """Keep the list's counts true: attendees not deleted, and those connected now. One statement, prepared: the
    events consumer runs it for every batch that connects or disconnects someone."""
    statement_run(
        _recount_statement(),
        [meeting_pk, Attendee.State.DELETED, meeting_pk, Attendee.State.CONNECTED, meeting_pk],
    )


def _record_attendees(meeting: Meeting, attendees: list[dict[str, Any]], actor_id: int | None) -> None:
    for attendee in attendees:
        row, created = Attendee.objects.get_or_create(
            meeting=meeting,
            attendee_id=attendee["AttendeeId"],
            defaults={
                "external_user_id": attendee["ExternalUserId"],
                "capabilities": attendee.get("Capabilities", {}),
                "created_by_id": actor_id,
            },
        )
        if not created and row.capabilities != attendee.get("Capabilities", row.capabilities):
            Attendee.objects.filter(pk=row.pk).update(capabilities=attendee["Capabilities"])
    meeting_recount(meeting.pk)


def _who(p: dict[str, Any]) -> str:
    return f"{p.get('external_user_id', '')} ({p.get('attendee_id', '')})"


def _capability_words(capabilities: dict[str, str]) -> str:
    return ", ".join(f"{media} {value}" for media, value in capabilities.items())


def _meeting(operation: Operation) -> OperationSubject:
    return resource_subject(operation, "meeting_detail")


def _attendee(operation: Operation) -> OperationSubject:
    """The attendee by the name people know ("bob in walk-standup"), linked to the meeting's page."""
    name = f"{operation.parameters.get('external_user_id')} in {operation.resource_name or operation.target}"
    return resource_subject(operation, "meeting_detail", name=name)


# --- create ---------------------------------------------------------------------------------------------------------


def _create_request(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    request: dict[str, Any] = {
        "ClientRequestToken": call.idempotency_token,
        "MediaRegion": p["media_region"],
        "ExternalMeetingId": p["external_meeting_id"],
    }
    optional = {
        "MeetingFeatures": p.get("features") or None,
        "TenantIds": p.get("tenant_ids") or None,
        "Tags": [{"Key": k, "Value": v} for k, v in p.get("tags", {}).items()] or None,
        "PrimaryMeetingId": p.get("primary_meeting_id") or None,
        "NotificationsConfiguration": {"SqsQueueArn": p["queue_arn"]} if p.get("queue_arn") else None,
    }
    return request | {key: value for key, value in optional.items() if value is not None}


async def _create(call: OperationCall) -> dict[str, Any]:
    response = await chime.meeting_create(request=_create_request(call), attendees=call.parameters["attendees"])
    meeting = response["Meeting"]
    facts = {key: meeting.get(key) for key in ("MeetingId", "MeetingArn", "MediaPlacement", "MeetingFeatures")}
    return {"meeting": facts} | _attendees_result(response.get("Attendees", []), response.get("Errors", []))


def _created(operation: Operation, effect_data: dict[str, Any]) -> None:
    meeting = Meeting.objects.select_for_update().get(pk=operation.parameters["meeting_pk"])
    facts = operation.result["meeting"]
    meeting.meeting_id = facts["MeetingId"]
    meeting.meeting_arn = facts.get("MeetingArn") or ""
    meeting.media_placement = facts.get("MediaPlacement") or {}
    meeting.features = facts.get("MeetingFeatures") or meeting.features
    if meeting.status == Meeting.Status.CREATING:
        meeting.status = Meeting.Status.ACTIVE
    meeting.changed_at = timezone.now()
    meeting.save()
    _record_attendees(meeting, operation.result["attendees"], operation.actor_id)


def _creation_failed(operation: Operation, error: AwsError) -> None:
    Meeting.objects.filter(pk=operation.parameters["meeting_pk"]).update(status=Meeting.Status.FAILED)


def _attendees(result: dict[str, Any]) -> str:
    count = len(result.get("attendees", []))
    return ngettext("%(count)d attendee", "%(count)d attendees", count) % {"count": count}


def _errors(result: dict[str, Any]) -> str:
    count = len(result.get("errors", []))
    return ngettext("%(count)d error", "%(count)d errors", count) % {"count": count}


def _describe_create(p: dict[str, Any], meeting: str) -> str:
    words = f"Create meeting {p.get('external_meeting_id') or meeting} in {p.get('media_region')}"
    attendees = p.get("attendees", [])
    if attendees:
        words += f" with {len(attendees)} {ngettext('attendee', 'attendees', len(attendees))} "
        words += f"({', '.join(a['ExternalUserId'] for a in attendees)})"
    if p.get("primary_meeting_id"):
        words += f", replica of {p['primary_meeting_id']}"
    return words


MEETING_CREATE = register(
    OperationKind(
        name="meetings.create",
        subject=_meeting,
        label="Create meeting",
        permission=MANAGE_RESOURCES,
        call=_create,
        on_success=_created,
        on_failure=_creation_failed,
        summary=lambda r: f"{r.get('meeting', {}).get('MeetingId')} with {_attendees(r)}",
        result_template="meetings/attendees_result.html",
        describe=_describe_create,
    )
)


# --- end ------------------------------------------------------------------------------------------------------------


async def _end(call: OperationCall) -> dict[str, Any]:
    meeting_id = call.parameters["meeting_id"]
    try:
        if kept := await protection_in_aws(call, lambda: _meeting_tags(call)):
            return kept
        await chime.meeting_delete(meeting_id=meeting_id)
    except AwsNotFound:
        return {"already_ended": True}  # ended by an earlier attempt, or by AWS
    return {}


async def _meeting_tags(call: OperationCall) -> dict[str, str]:
    """The meeting's tags in AWS, by its ARN (GetMeeting's, when the portal has none: a meeting found through
    events)."""
    arn = (
        call.parameters.get("meeting_arn")
        or (await chime.meeting_get(meeting_id=call.parameters["meeting_id"]))["MeetingArn"]
    )
    return await chime.meeting_tags(arn=arn)


def meeting_mark_ended(*, meeting: Meeting, reason: str, at: Any) -> None:
    """The meeting and its replicas have ended: nobody is connected, and the rows stay with why they ended."""
    ended = [meeting.pk]
    replicas = list(Meeting.objects.filter(primary=meeting).exclude(status=Meeting.Status.ENDED))
    Meeting.objects.filter(pk=meeting.pk).update(
        status=Meeting.Status.ENDED, end_reason=reason, ended_at=at, changed_at=timezone.now()
    )
    if reason != Meeting.EndReason.DELETED:  # the portal's own end settles its records naming the operation
        drift_settle(meeting, reason=DRIFT_ENDED)  # a meeting found in AWS, then ended there, differs in nothing
    for replica in replicas:
        meeting_mark_ended(meeting=replica, reason=Meeting.EndReason.PRIMARY_ENDED, at=at)
        ended.append(replica.pk)
    Attendee.objects.filter(meeting_id=meeting.pk, state=Attendee.State.CONNECTED).update(
        state=Attendee.State.LEFT, video=False, content=False, content_video=False, state_at=at
    )
    meeting_recount(meeting.pk)


def _ended(operation: Operation, effect_data: dict[str, Any]) -> None:
    meeting = Meeting.objects.select_for_update().get(pk=operation.parameters["meeting_pk"])
    if (tags := protected_tags(operation)) is not None:
        _end_undone(operation)
        drift_changed(meeting, "tags", portal=meeting.tags, aws=tags)  # adopted or not on the Drift page
        return
    if meeting.status != Meeting.Status.ENDED:
        meeting_mark_ended(meeting=meeting, reason=Meeting.EndReason.DELETED, at=timezone.now())


def _end_undone(operation: Operation) -> None:
    Meeting.objects.filter(pk=operation.parameters["meeting_pk"], status=Meeting.Status.ENDING).update(
        status=Meeting.Status.ACTIVE
    )


def _end_failed(operation: Operation, error: AwsError) -> None:
    _end_undone(operation)


MEETING_END = register(
    OperationKind(
        name="meetings.end",
        subject=_meeting,
        label="End meeting",
        permission=MANAGE_RESOURCES,
        call=_end,
        on_success=_ended,
        on_failure=_end_failed,
        summary=lambda r: "it had already ended" if r.get("already_ended") else "ended; its join tokens stop working",
        describe=lambda p, meeting: f"End meeting {meeting} ({p.get('meeting_id')})",
    )
)


# --- attendees ------------------------------------------------------------------------------------------------------


async def _add(call: OperationCall) -> dict[str, Any]:
    specs = call.parameters["attendees"]
    created: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for start in range(0, len(specs), chime.BATCH_CREATE_MAX):
        batch = specs[start : start + chime.BATCH_CREATE_MAX]
        response = await chime.attendees_create(meeting_id=call.parameters["meeting_id"], attendees=batch)
        created += response.get("Attendees", [])
        errors += response.get("Errors", [])
    return _attendees_result(created, errors)


def _added(operation: Operation, effect_data: dict[str, Any]) -> None:
    meeting = Meeting.objects.get(pk=operation.parameters["meeting_pk"])
    _record_attendees(meeting, operation.result["attendees"], operation.actor_id)


def _describe_add(p: dict[str, Any], meeting: str) -> str:
    ids = [a["ExternalUserId"] for a in p.get("attendees", [])]
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    return f"Add {len(ids)} {ngettext('attendee', 'attendees', len(ids))} to {meeting}: {shown}"


ATTENDEES_ADD = register(
    OperationKind(
        name="meetings.add_attendees",
        subject=_meeting,
        label="Add attendees",
        permission=MANAGE_RESOURCES,
        call=_add,
        on_success=_added,
        serial=False,
        summary=lambda r: f"{_attendees(r)}, {_errors(r)}",
        result_template="meetings/attendees_result.html",
        describe=_describe_add,
    )
)


async def _revoke(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    try:
        await chime.attendee_delete(meeting_id=p["meeting_id"], attendee_id=p["attendee_id"])
    except AwsNotFound:
        return {"already_gone": True}  # revoked by an earlier attempt, or the meeting has ended
    return {}


def _revoked(operation: Operation, effect_data: dict[str, Any]) -> None:
    p = operation.parameters
    with transaction.atomic():
        Attendee.objects.filter(pk=p["attendee_pk"]).update(
            state=Attendee.State.DELETED, video=False, content=False, content_video=False, state_at=timezone.now()
        )
        meeting_recount(p["meeting_pk"])


ATTENDEE_REVOKE = register(
    OperationKind(
        name="meetings.revoke_attendee",
        subject=_attendee,
        label="Revoke attendee",
        permission=REVOKE_PARTICIPANTS,
        call=_revoke,
        on_success=_revoked,
        serial=False,
        summary=lambda r: (
            "already gone" if r.get("already_gone") else "revoked: dropped, and the join token stops working"
        ),
        describe=lambda p, meeting: f"Revoke attendee {_who(p)} from {meeting}",
    )
)


async def _update_capabilities(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    attendee = await chime.attendee_capabilities_update(
        meeting_id=p["meeting_id"], attendee_id=p["attendee_id"], capabilities=p["capabilities"]
    )
    return {"capabilities": attendee.get("Capabilities", p["capabilities"])}


def _capabilities_updated(operation: Operation, effect_data: dict[str, Any]) -> None:
    Attendee.objects.filter(pk=operation.parameters["attendee_pk"]).update(
        capabilities=operation.result["capabilities"]
    )


CAPABILITIES_UPDATE = register(
    OperationKind(
        name="meetings.update_capabilities",
        subject=_attendee,
        label="Change attendee capabilities",
        permission=MANAGE_RESOURCES,
        call=_update_capabilities,
        on_success=_capabilities_updated,
        describe=lambda p, meeting: (
            f"Set capabilities of {_who(p)} in {meeting}: {_capability_words(p.get('capabilities', {}))}"
        ),
    )
)


async def _update_except(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    await chime.attendees_capabilities_update_except(
        meeting_id=p["meeting_id"], excluded=p["excluded_attendee_ids"], capabilities=p["capabilities"]
    )
    return {}


def _updated_except(operation: Operation, effect_data: dict[str, Any]) -> None:
    p = operation.parameters
    Attendee.objects.filter(meeting_id=p["meeting_pk"]).exclude(state=Attendee.State.DELETED).exclude(
        attendee_id__in=p["excluded_attendee_ids"]
    ).update(capabilities=p["capabilities"])


CAPABILITIES_UPDATE_EXCEPT = register(
    OperationKind(
        name="meetings.update_capabilities_except",
        subject=_meeting,
        label="Change everyone's capabilities except some",
        permission=MANAGE_RESOURCES,
        call=_update_except,
        on_success=_updated_except,
        describe=lambda p, meeting: (
            f"Set capabilities of everyone in {meeting} except {', '.join(p.get('excluded_external_user_ids', []))}: "
            f"{_capability_words(p.get('capabilities', {}))}"
        ),
    )
)
