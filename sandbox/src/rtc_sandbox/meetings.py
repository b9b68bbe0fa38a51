"""Amazon Chime SDK meetings and attendees, with meeting events delivered to SQS or SNS on the moto side."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from rtc_sandbox.protocol import ApiError
from rtc_sandbox.world import (
    Call,
    World,
    check_tag_keys,
    new_uuid,
    operation,
    paginate,
    random_id,
    tag_list_to_map,
    tag_map_to_list,
    ticker,
)

SERVICE = "chime-sdk-meetings"
BAD_REQUEST = "BadRequestException"
NOT_FOUND = "NotFoundException"
LIMIT = "LimitExceededException"
MAX_CONCURRENT_MEETINGS = 250
DEFAULT_MAX_ATTENDEES = 250
MEDIA_REGIONS = frozenset(
    {
        "af-south-1", "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
        "ca-central-1", "eu-central-1", "eu-north-1", "eu-south-1", "eu-west-1", "eu-west-2", "eu-west-3",
        "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2", "us-gov-east-1", "us-gov-west-1",
        "il-central-1",
    }
)  # fmt: skip
RECEIVING = ("SendReceive", "Receive")


def _meetings(world: World) -> dict[str, Any]:
    return world.table("chime.meetings")


def _ended(world: World) -> dict[str, Any]:
    return world.table("chime.ended_meetings")


def _request_tokens(world: World) -> dict[str, Any]:
    return world.table("chime.client_request_tokens")


def meeting_get(world: World, meeting_id: str) -> dict[str, Any] | None:
    """The live meeting with this id, or None once it has ended (also used by capture pipelines)."""
    return _meetings(world).get(meeting_id)


def _meeting(world: World, meeting_id: str) -> dict[str, Any]:
    meeting = meeting_get(world, meeting_id)
    if meeting is None:
        raise ApiError(NOT_FOUND, f"The meeting {meeting_id} was not found.")
    return meeting


def _short_region(region: str) -> str:
    parts = region.split("-")
    return "".join(part[0] for part in parts[:-1]) + parts[-1]


def _placement(region: str, meeting_id: str) -> dict[str, str]:
    short = _short_region(region)
    cell = random_id(4, "0123456789")
    return {
        "AudioHostUrl": f"{random_id(6).lower()}.k.m3.{short}.app.chime.aws:3478",
        "AudioFallbackUrl": f"wss://haxrp.m3.{short}.app.chime.aws:443/calls/{meeting_id}",
        "SignalingUrl": f"wss://signal.m3.{short}.app.chime.aws/control/{meeting_id}",
        "TurnControlUrl": f"https://{cell}.cell.{region}.meetings.chime.aws/v2/turn_sessions",
        "ScreenDataUrl": f"wss://bitpw.m3.{short}.app.chime.aws:443/v2/screen/{meeting_id}",
        "ScreenViewingUrl": (
            f"wss://bitpw.m3.{short}.app.chime.aws:443/ws/connect?passcode=null&viewer_uuid=null&X-BitHub-Call-Id="
            f"{meeting_id}"
        ),
        "ScreenSharingUrl": f"wss://bitpw.m3.{short}.app.chime.aws:443/v2/screen/{meeting_id}",
        "EventIngestionUrl": f"https://data.svc.{short}.ingest.chime.aws/v1/client-events",
    }


def _meeting_view(meeting: dict[str, Any]) -> dict[str, Any]:
    view = {
        key: meeting[key]
        for key in (
            "MeetingId",
            "MeetingHostId",
            "ExternalMeetingId",
            "MediaRegion",
            "MediaPlacement",
            "MeetingFeatures",
            "PrimaryMeetingId",
            "TenantIds",
            "MeetingArn",
        )
        if meeting.get(key) is not None
    }
    return view


def _attendee_view(attendee: dict[str, Any]) -> dict[str, Any]:
    return {key: attendee[key] for key in ("ExternalUserId", "AttendeeId", "JoinToken", "Capabilities")}


def _capabilities(requested: dict[str, str] | None) -> dict[str, str]:
    capabilities = dict(requested or {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"})
    if capabilities["Content"] in RECEIVING and capabilities["Video"] not in RECEIVING:
        raise ApiError(
            BAD_REQUEST,
            "Invalid capabilities: Content SendReceive or Receive requires Video SendReceive or Receive.",
        )
    return capabilities


def _check_tags(tags: list[dict[str, str]]) -> None:
    check_tag_keys([tag["Key"] for tag in tags], BAD_REQUEST)


# --- events -------------------------------------------------------------------------------------------------------


def notify(world: World, notifications: dict[str, Any] | None, *, region: str, detail_type: str,
           detail: dict[str, Any]) -> None:  # fmt: skip
    """Send an EventBridge-format event to the SQS queue and SNS topic of a meeting's NotificationsConfiguration."""
    envelope = {
        "version": "0",
        "id": new_uuid(),
        "detail-type": detail_type,
        "source": "aws.chime",
        "account": world.account,
        "time": dt.datetime.fromtimestamp(world.clock.time(), tz=dt.UTC).isoformat().replace("+00:00", "Z"),
        "region": region,
        "resources": [],
        "detail": detail,
    }
    message = json.dumps(envelope)
    queue = (notifications or {}).get("SqsQueueArn")
    if queue and world.moto.queue_exists(queue):
        world.moto.send_message(queue, message)
    topic = (notifications or {}).get("SnsTopicArn")
    if topic and world.moto.topic_exists(topic):
        world.moto.publish(topic, message)


def _emit(world: World, meeting: dict[str, Any], event_type: str, attendee: dict[str, Any] | None = None) -> None:
    detail: dict[str, Any] = {
        "version": "0",
        "eventType": f"chime:{event_type}",
        "timestamp": int(world.clock.time() * 1000),
        "meetingId": meeting["MeetingId"],
        "externalMeetingId": meeting.get("ExternalMeetingId"),
        "mediaRegion": meeting["MediaRegion"],
    }
    if attendee is not None:
        detail.update(attendeeId=attendee["AttendeeId"], externalUserId=attendee["ExternalUserId"])
    meeting.setdefault("events", []).append(detail)
    notify(world, meeting.get("NotificationsConfiguration"), region=meeting["region"],
           detail_type="Chime Meeting State Change", detail=detail)  # fmt: skip


def meeting_end(world: World, meeting: dict[str, Any], reason: str) -> None:
    """End a meeting: attendees are dropped, join tokens stop working, replicas end with it."""
    now = world.clock.time()
    for attendee in meeting["attendees"].values():
        if attendee["connected"]:
            attendee["connected"] = False
            _emit(world, meeting, "AttendeeLeft", attendee)
    _emit(world, meeting, "MeetingEnded")
    meeting["endedAt"], meeting["endReason"] = now, reason
    _ended(world)[meeting["MeetingId"]] = _meetings(world).pop(meeting["MeetingId"])
    for replica in [m for m in _meetings(world).values() if m.get("PrimaryMeetingId") == meeting["MeetingId"]]:
        meeting_end(world, replica, "PrimaryEnded")


# --- operations ---------------------------------------------------------------------------------------------------


def _new_meeting(call: Call, p: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The meeting for this ClientRequestToken: the existing one, or a new one. True when it is new."""
    existing = _request_tokens(call.world).get(p["ClientRequestToken"])
    if existing and existing in _meetings(call.world):
        return _meetings(call.world)[existing], False
    if p["MediaRegion"] not in MEDIA_REGIONS:
        raise ApiError(BAD_REQUEST, f"Invalid MediaRegion: {p['MediaRegion']}.")
    if len(_meetings(call.world)) >= MAX_CONCURRENT_MEETINGS:
        raise ApiError(LIMIT, f"The account's limit of {MAX_CONCURRENT_MEETINGS} concurrent meetings is reached.")
    primary = p.get("PrimaryMeetingId")
    if primary and primary not in _meetings(call.world):
        raise ApiError(BAD_REQUEST, f"The primary meeting {primary} does not exist.")
    tags = p.get("Tags") or []
    _check_tags(tags)
    meeting_id = new_uuid()
    features = p.get("MeetingFeatures")
    meeting = {
        "MeetingId": meeting_id,
        "MeetingHostId": p.get("MeetingHostId"),
        "ExternalMeetingId": p["ExternalMeetingId"],
        "MediaRegion": p["MediaRegion"],
        "MediaPlacement": _placement(p["MediaRegion"], meeting_id),
        "MeetingFeatures": features,
        "PrimaryMeetingId": primary,
        "TenantIds": p.get("TenantIds"),
        "MeetingArn": f"arn:aws:chime:{call.region}:{call.account}:meeting/{meeting_id}",
        "NotificationsConfiguration": p.get("NotificationsConfiguration"),
        "region": call.region,
        "tags": tag_list_to_map(tags),
        "createdAt": call.now,
        "idleSince": call.now,
        "attendees": {},
        "transcription": None,
        "events": [],
    }
    _meetings(call.world)[meeting_id] = meeting
    _request_tokens(call.world)[p["ClientRequestToken"]] = meeting_id
    _emit(call.world, meeting, "MeetingStarted")
    return meeting, True


def _max_attendees(meeting: dict[str, Any]) -> int:
    return int(((meeting.get("MeetingFeatures") or {}).get("Attendee") or {}).get("MaxCount", DEFAULT_MAX_ATTENDEES))


def _check_features(meeting: dict[str, Any], capabilities: dict[str, str]) -> None:
    """A medium whose MaxResolution is None takes no capability but None (AWS answers 400)."""
    for medium in ("Video", "Content"):
        off = (((meeting.get("MeetingFeatures") or {}).get(medium)) or {}).get("MaxResolution") == "None"
        if off and capabilities[medium] != "None":
            raise ApiError(BAD_REQUEST, f"The meeting's {medium} MaxResolution is None: {medium} must be None.")


def _add_attendee(world: World, meeting: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    for attendee in meeting["attendees"].values():
        if attendee["ExternalUserId"] == spec["ExternalUserId"]:
            return attendee  # ExternalUserId is an idempotency token
    capabilities = _capabilities(spec.get("Capabilities"))
    if spec.get("Capabilities"):
        _check_features(meeting, capabilities)
    if len(meeting["attendees"]) >= _max_attendees(meeting):
        raise ApiError(LIMIT, f"The meeting has reached its maximum of {_max_attendees(meeting)} attendees.")
    attendee_id = new_uuid()
    attendee = {
        "ExternalUserId": spec["ExternalUserId"],
        "AttendeeId": attendee_id,
        "JoinToken": random_id(96),
        "Capabilities": capabilities,
        "connected": False,
    }
    meeting["attendees"][attendee_id] = attendee
    _emit(world, meeting, "AttendeeAdded", attendee)
    return attendee


def _batch_attendees(world: World, meeting: dict[str, Any], specs: list[dict[str, Any]]) -> dict[str, Any]:
    attendees, errors = [], []
    for spec in specs:
        try:
            attendees.append(_attendee_view(_add_attendee(world, meeting, spec)))
        except ApiError as error:
            errors.append(
                {
                    "ExternalUserId": spec["ExternalUserId"],
                    "ErrorCode": error.code.removesuffix("Exception"),
                    "ErrorMessage": error.message,
                }
            )
    result: dict[str, Any] = {"Attendees": attendees}
    if errors:
        result["Errors"] = errors
    return result


@operation(SERVICE, "CreateMeeting")
def create_meeting(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting, _ = _new_meeting(call, p)
    return {"Meeting": _meeting_view(meeting)}


@operation(SERVICE, "CreateMeetingWithAttendees")
def create_meeting_with_attendees(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    for spec in p["Attendees"]:
        _capabilities(spec.get("Capabilities"))
    meeting, _ = _new_meeting(call, p)
    return {"Meeting": _meeting_view(meeting), **_batch_attendees(call.world, meeting, p["Attendees"])}


@operation(SERVICE, "GetMeeting")
def get_meeting(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"Meeting": _meeting_view(_meeting(call.world, p["MeetingId"]))}


@operation(SERVICE, "DeleteMeeting")
def delete_meeting(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting_end(call.world, _meeting(call.world, p["MeetingId"]), "Deleted")
    return {}


@operation(SERVICE, "CreateAttendee")
def create_attendee(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _meeting(call.world, p["MeetingId"])
    return {"Attendee": _attendee_view(_add_attendee(call.world, meeting, p))}


@operation(SERVICE, "BatchCreateAttendee")
def batch_create_attendee(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return _batch_attendees(call.world, _meeting(call.world, p["MeetingId"]), p["Attendees"])


def _attendee(world: World, meeting: dict[str, Any], attendee_id: str) -> dict[str, Any]:
    attendee = meeting["attendees"].get(attendee_id)
    if attendee is None:
        raise ApiError(NOT_FOUND, f"The attendee {attendee_id} was not found.")
    return attendee


@operation(SERVICE, "GetAttendee")
def get_attendee(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _meeting(call.world, p["MeetingId"])
    return {"Attendee": _attendee_view(_attendee(call.world, meeting, p["AttendeeId"]))}


@operation(SERVICE, "ListAttendees")
def list_attendees(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _meeting(call.world, p["MeetingId"])
    attendees = list(meeting["attendees"].values())
    page, token = paginate(attendees, p.get("NextToken"), p.get("MaxResults"), 100, BAD_REQUEST)
    result: dict[str, Any] = {"Attendees": [_attendee_view(a) for a in page]}
    if token:
        result["NextToken"] = token
    return result


@operation(SERVICE, "DeleteAttendee")
def delete_attendee(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _meeting(call.world, p["MeetingId"])
    attendee = _attendee(call.world, meeting, p["AttendeeId"])
    del meeting["attendees"][attendee["AttendeeId"]]
    if attendee["connected"]:
        _mark_idle_if_empty(call.world, meeting)
    _emit(call.world, meeting, "AttendeeDeleted", attendee)
    return {}


@operation(SERVICE, "UpdateAttendeeCapabilities")
def update_attendee_capabilities(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _meeting(call.world, p["MeetingId"])
    attendee = _attendee(call.world, meeting, p["AttendeeId"])
    capabilities = _capabilities(p["Capabilities"])
    _check_features(meeting, capabilities)
    attendee["Capabilities"] = capabilities
    return {"Attendee": _attendee_view(attendee)}


@operation(SERVICE, "BatchUpdateAttendeeCapabilitiesExcept")
def batch_update_attendee_capabilities_except(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _meeting(call.world, p["MeetingId"])
    capabilities = _capabilities(p["Capabilities"])
    _check_features(meeting, capabilities)
    excluded = {item["AttendeeId"] for item in p["ExcludedAttendeeIds"]}
    for attendee_id, attendee in meeting["attendees"].items():
        if attendee_id not in excluded:
            attendee["Capabilities"] = dict(capabilities)
    return {}


@operation(SERVICE, "StartMeetingTranscription")
def start_meeting_transcription(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _meeting(call.world, p["MeetingId"])
    configuration = p["TranscriptionConfiguration"]
    engines = [key for key in ("EngineTranscribeSettings", "EngineTranscribeMedicalSettings") if key in configuration]
    if len(engines) != 1:
        raise ApiError(BAD_REQUEST, "Give exactly one of EngineTranscribeSettings and EngineTranscribeMedicalSettings.")
    meeting["transcription"] = configuration
    _emit(call.world, meeting, "TranscriptionStarted")
    return {}


@operation(SERVICE, "StopMeetingTranscription")
def stop_meeting_transcription(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _meeting(call.world, p["MeetingId"])
    if meeting["transcription"] is None:
        raise ApiError("UnprocessableEntityException", "Transcription is not running for this meeting.")
    meeting["transcription"] = None
    _emit(call.world, meeting, "TranscriptionStopped")
    return {}


def _tagged(world: World, arn: str) -> dict[str, Any]:
    for meeting in _meetings(world).values():
        if meeting["MeetingArn"] == arn:
            return meeting
    raise ApiError("ResourceNotFoundException", f"The resource {arn} was not found.", ResourceName=arn)


@operation(SERVICE, "TagResource")
def tag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _tagged(call.world, p["ResourceARN"])
    _check_tags(p["Tags"])
    merged = {**meeting["tags"], **tag_list_to_map(p["Tags"])}
    if len(merged) > 50:
        raise ApiError("TooManyTagsException", "A meeting can have at most 50 tags.", ResourceName=p["ResourceARN"])
    meeting["tags"] = merged
    return {}


@operation(SERVICE, "UntagResource")
def untag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    meeting = _tagged(call.world, p["ResourceARN"])
    for key in p["TagKeys"]:
        meeting["tags"].pop(key, None)
    return {}


@operation(SERVICE, "ListTagsForResource")
def list_tags_for_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": tag_map_to_list(_tagged(call.world, p["ResourceARN"])["tags"])}


# --- the world around the API: attendees joining and leaving --------------------------------------------------------


def _by_join_token(world: World, join_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for meeting in _meetings(world).values():
        for attendee in meeting["attendees"].values():
            if attendee["JoinToken"] == join_token:
                return meeting, attendee
    raise ApiError("InvalidJoinToken", "The join token is unknown, revoked, or its meeting has ended.", status=403)


def attendee_join(world: World, joinToken: str) -> dict[str, Any]:
    meeting, attendee = _by_join_token(world, joinToken)
    if attendee["connected"]:
        raise ApiError("AlreadyConnected", "This attendee is already connected.", status=409)
    attendee["connected"] = True
    meeting["idleSince"] = None
    _emit(world, meeting, "AttendeeJoined", attendee)
    return {"meetingId": meeting["MeetingId"], "attendeeId": attendee["AttendeeId"]}


def attendee_leave(world: World, meetingId: str, attendeeId: str) -> dict[str, Any]:
    meeting = meeting_get(world, meetingId)
    attendee = meeting["attendees"].get(attendeeId) if meeting else None
    if meeting is None or attendee is None or not attendee["connected"]:
        raise ApiError("NotConnected", f"Attendee {attendeeId} is not connected to {meetingId}.", status=404)
    attendee["connected"] = False
    _emit(world, meeting, "AttendeeLeft", attendee)
    _mark_idle_if_empty(world, meeting)
    return {"connected": False}


def _mark_idle_if_empty(world: World, meeting: dict[str, Any]) -> None:
    if not any(a["connected"] for a in meeting["attendees"].values()):
        meeting["idleSince"] = world.clock.time()


@ticker
def end_meetings(world: World, now: float) -> bool:
    """Meetings end 5 minutes after the last attendee left (or none came), and 24 hours after creation."""
    from rtc_sandbox.pipelines import pipeline_keeps_meeting_alive

    ended = False
    for meeting in list(_meetings(world).values()):
        if meeting["MeetingId"] not in _meetings(world):
            continue  # ended above as a replica
        if now >= meeting["createdAt"] + world.timing.meeting_max_duration:
            meeting_end(world, meeting, "MaxDuration")
            ended = True
        elif (
            meeting["idleSince"] is not None
            and now >= meeting["idleSince"] + world.timing.meeting_idle_end
            and not pipeline_keeps_meeting_alive(world, meeting["MeetingId"])
        ):
            meeting_end(world, meeting, "Idle")
            ended = True
    return ended
