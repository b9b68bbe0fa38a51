"""Amazon IVS Real-Time stages: stages, participant tokens, sessions, participants, events, tags."""

from __future__ import annotations

import base64
import json
from typing import Any

from rtc_sandbox.protocol import ApiError
from rtc_sandbox.world import Call, World, check_tag_keys, iso, operation, paginate, random_id, ticker

SERVICE = "ivs-realtime"
MAX_STAGES_PER_REGION = 100
MAX_PUBLISHERS = 12
ATTRIBUTES_MAX_BYTES = 1024
DEFAULT_TOKEN_MINUTES = 720
INVALID = "ValidationException"
NOT_FOUND = "ResourceNotFoundException"


def _stages(world: World) -> dict[str, Any]:
    return world.table("ivs.stages")


def _tokens(world: World) -> dict[str, Any]:
    return world.table("ivs.tokens")


def _sessions(world: World) -> dict[str, Any]:
    return world.table("ivs.sessions")


def _participants(world: World) -> dict[str, Any]:
    return world.table("ivs.participants")


def _stage(world: World, arn: str) -> dict[str, Any]:
    stage = _stages(world).get(arn)
    if stage is None:
        raise ApiError(NOT_FOUND, f"Stage not found: {arn}")
    return stage


def _stage_view(stage: dict[str, Any], *, summary: bool = False) -> dict[str, Any]:
    view = {"arn": stage["arn"], "name": stage["name"], "tags": dict(stage["tags"])}
    if stage.get("activeSessionId"):
        view["activeSessionId"] = stage["activeSessionId"]
    if summary:
        return view
    view["endpoints"] = stage["endpoints"]
    if stage.get("autoParticipantRecordingConfiguration"):
        view["autoParticipantRecordingConfiguration"] = stage["autoParticipantRecordingConfiguration"]
    return view


def _check_tags(tags: dict[str, str]) -> None:
    check_tag_keys(list(tags), INVALID)
    if len(tags) > 50:
        raise ApiError(INVALID, "A resource can have at most 50 tags.")


def _check_attributes(attributes: dict[str, str]) -> None:
    size = sum(len(key.encode()) + len(value.encode()) for key, value in attributes.items())
    if size > ATTRIBUTES_MAX_BYTES:
        raise ApiError(INVALID, f"Participant token attributes total {size} bytes; the limit is 1 KB.")


def _issue_token(call: Call, stage: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    attributes = dict(spec.get("attributes") or {})
    _check_attributes(attributes)
    duration = int(spec.get("duration") or DEFAULT_TOKEN_MINUTES)
    capabilities = list(spec.get("capabilities") or ["PUBLISH", "SUBSCRIBE"])
    participant_id = random_id(12)
    expires = call.now + duration * 60
    claims = {"sub": participant_id, "stage": stage["arn"], "exp": int(expires), "jti": random_id(16)}
    token = "eyJhbGciOiJLTVMiLCJ0eXAiOiJKV1QifQ." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    token += "." + random_id(43)
    record = {
        "token": token,
        "participantId": participant_id,
        "stageArn": stage["arn"],
        "userId": spec.get("userId", ""),
        "attributes": attributes,
        "capabilities": capabilities,
        "duration": duration,
        "expirationTime": expires,
        "revoked": False,
    }
    _tokens(call.world)[token] = record
    return {
        "participantId": participant_id,
        "token": token,
        "userId": record["userId"],
        "attributes": attributes,
        "duration": duration,
        "capabilities": capabilities,
        "expirationTime": iso(expires),
    }


@operation(SERVICE, "CreateStage")
def create_stage(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    in_region = [s for s in _stages(call.world).values() if s["region"] == call.region]
    if len(in_region) >= MAX_STAGES_PER_REGION:
        raise ApiError("ServiceQuotaExceededException", f"Limit of {MAX_STAGES_PER_REGION} stages per region reached.")
    tags = p.get("tags") or {}
    _check_tags(tags)
    for spec in p.get("participantTokenConfigurations") or []:
        _check_attributes(spec.get("attributes") or {})
    stage_id = random_id(12)
    arn = f"arn:aws:ivs:{call.region}:{call.account}:stage/{stage_id}"
    stage = {
        "arn": arn,
        "id": stage_id,
        "region": call.region,
        "name": p.get("name", ""),
        "tags": dict(tags),
        "activeSessionId": None,
        "createdAt": call.now,
        "endpoints": {
            "events": "wss://global.events.live-video.net",
            "whip": f"https://{stage_id}.global-bm.whip.live-video.net",
            "rtmp": f"rtmp://{stage_id}.global-contribute-staging.live-video.net/app/",
            "rtmps": f"rtmps://{stage_id}.global-contribute.live-video.net:443/app/",
        },
    }
    if p.get("autoParticipantRecordingConfiguration"):
        stage["autoParticipantRecordingConfiguration"] = p["autoParticipantRecordingConfiguration"]
    _stages(call.world)[arn] = stage
    tokens = [_issue_token(call, stage, spec) for spec in p.get("participantTokenConfigurations") or []]
    return {"stage": _stage_view(stage), "participantTokens": tokens}


@operation(SERVICE, "GetStage")
def get_stage(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"stage": _stage_view(_stage(call.world, p["arn"]))}


@operation(SERVICE, "ListStages")
def list_stages(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    stages = sorted(
        (s for s in _stages(call.world).values() if s["region"] == call.region),
        key=lambda s: (s["createdAt"], s["arn"]),
    )
    page, token = paginate(stages, p.get("nextToken"), p.get("maxResults"), 50, INVALID)
    result: dict[str, Any] = {"stages": [_stage_view(s, summary=True) for s in page]}
    if token:
        result["nextToken"] = token
    return result


@operation(SERVICE, "UpdateStage")
def update_stage(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    stage = _stage(call.world, p["arn"])
    if "name" in p:
        stage["name"] = p["name"]
    if "autoParticipantRecordingConfiguration" in p:
        stage["autoParticipantRecordingConfiguration"] = p["autoParticipantRecordingConfiguration"]
    return {"stage": _stage_view(stage)}


@operation(SERVICE, "DeleteStage")
def delete_stage(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    stage = _stage(call.world, p["arn"])
    for participant in _participants(call.world).values():
        if participant["stageArn"] == stage["arn"] and participant["state"] == "CONNECTED":
            _disconnect(call.world, participant, call.now)
    for token in _tokens(call.world).values():
        if token["stageArn"] == stage["arn"]:
            token["revoked"] = True
    if stage.get("activeSessionId"):
        _sessions(call.world)[stage["activeSessionId"]]["endTime"] = call.now
    del _stages(call.world)[stage["arn"]]
    return {}


@operation(SERVICE, "CreateParticipantToken")
def create_participant_token(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    stage = _stage(call.world, p["stageArn"])
    return {"participantToken": _issue_token(call, stage, p)}


@operation(SERVICE, "DisconnectParticipant")
def disconnect_participant(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    stage = _stage(call.world, p["stageArn"])
    found = False
    for token in _tokens(call.world).values():
        if token["stageArn"] == stage["arn"] and token["participantId"] == p["participantId"]:
            token["revoked"] = True
            found = True
    for participant in _participants(call.world).values():
        if participant["stageArn"] == stage["arn"] and participant["participantId"] == p["participantId"]:
            found = True
            if participant["state"] == "CONNECTED":
                participant["disconnectReason"] = p.get("reason", "")
                _disconnect(call.world, participant, call.now)
    if not found:
        raise ApiError(NOT_FOUND, f"Participant not found: {p['participantId']}")
    return {}


def _session_view(session: dict[str, Any]) -> dict[str, Any]:
    view = {"sessionId": session["sessionId"], "startTime": iso(session["startTime"])}
    if session.get("endTime") is not None:
        view["endTime"] = iso(session["endTime"])
    return view


def _session(world: World, stage_arn: str, session_id: str) -> dict[str, Any]:
    session = _sessions(world).get(session_id)
    if session is None or session["stageArn"] != stage_arn:
        raise ApiError(NOT_FOUND, f"Stage session not found: {session_id}")
    return session


@operation(SERVICE, "ListStageSessions")
def list_stage_sessions(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    sessions = sorted(
        (s for s in _sessions(call.world).values() if s["stageArn"] == p["stageArn"]),
        key=lambda s: s["startTime"],
        reverse=True,
    )
    page, token = paginate(sessions, p.get("nextToken"), p.get("maxResults"), 50, INVALID)
    result: dict[str, Any] = {"stageSessions": [_session_view(s) for s in page]}
    if token:
        result["nextToken"] = token
    return result


@operation(SERVICE, "GetStageSession")
def get_stage_session(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"stageSession": _session_view(_session(call.world, p["stageArn"], p["sessionId"]))}


# What GetParticipant says about a participant's client unless the join said otherwise (control API `client`).
CLIENT_DEFAULTS = {
    "ispName": "Sandbox ISP",
    "osName": "Linux",
    "osVersion": "6",
    "browserName": "Chromium",
    "browserVersion": "156",
    "sdkVersion": "1.25.0",
    "protocol": "UNKNOWN",
}
PROTOCOLS = ("UNKNOWN", "WHIP", "RTMP", "RTMPS")


def _recording_state(world: World, participant: dict[str, Any]) -> str:
    """Individual participant recording: ACTIVE while a participant of a stage with auto-recording publishes,
    STOPPED once it stopped, DISABLED on a stage without it."""
    stage = _stages(world).get(participant["stageArn"])
    recording = (stage or {}).get("autoParticipantRecordingConfiguration") or {}
    if not recording.get("storageConfigurationArn") or not participant["everPublished"]:
        return "DISABLED"
    return "ACTIVE" if participant["published"] and participant["state"] == "CONNECTED" else "STOPPED"


def _participant_view(world: World, participant: dict[str, Any], *, summary: bool = False) -> dict[str, Any]:
    view = {
        "participantId": participant["participantId"],
        "userId": participant["userId"],
        "state": participant["state"],
        "firstJoinTime": iso(participant["firstJoinTime"]),
        "published": participant["published"],
        "recordingState": _recording_state(world, participant),
        "replicationType": "NONE",
    }
    if not summary:
        view.update(
            attributes=participant["attributes"],
            **{**CLIENT_DEFAULTS, **participant.get("client", {})},
            recordingS3BucketName="",
            recordingS3Prefix="",
        )
    return view


FILTERS = ("filterByUserId", "filterByPublished", "filterByState", "filterByRecordingState")


@operation(SERVICE, "ListParticipants")
def list_participants(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    used = [name for name in FILTERS if name in p]
    if len(used) > 1:
        raise ApiError(INVALID, f"Only one filter may be used at a time; got {', '.join(used)}.")
    participants = [
        participant
        for participant in _participants(call.world).values()
        if participant["stageArn"] == p["stageArn"] and participant["sessionId"] == p["sessionId"]
    ]
    if "filterByUserId" in p:
        participants = [x for x in participants if x["userId"] == p["filterByUserId"]]
    if "filterByPublished" in p:
        participants = [x for x in participants if x["everPublished"] == p["filterByPublished"]]
    if "filterByState" in p:
        participants = [x for x in participants if x["state"] == p["filterByState"]]
    if "filterByRecordingState" in p:
        participants = [x for x in participants if _recording_state(call.world, x) == p["filterByRecordingState"]]
    participants.sort(key=lambda x: (x["firstJoinTime"], x["participantId"]))
    page, token = paginate(participants, p.get("nextToken"), p.get("maxResults"), 50, INVALID)
    result: dict[str, Any] = {"participants": [_participant_view(call.world, x, summary=True) for x in page]}
    if token:
        result["nextToken"] = token
    return result


def _participant(world: World, stage_arn: str, session_id: str, participant_id: str) -> dict[str, Any]:
    participant = _participants(world).get(f"{session_id}/{participant_id}")
    if participant is None or participant["stageArn"] != stage_arn:
        raise ApiError(NOT_FOUND, f"Participant not found: {participant_id}")
    return participant


@operation(SERVICE, "GetParticipant")
def get_participant(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    participant = _participant(call.world, p["stageArn"], p["sessionId"], p["participantId"])
    return {"participant": _participant_view(call.world, participant)}


@operation(SERVICE, "ListParticipantEvents")
def list_participant_events(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    key = f"{p['sessionId']}/{p['participantId']}"
    participant = _participants(call.world).get(key)
    events = participant["events"] if participant and participant["stageArn"] == p["stageArn"] else []
    page, token = paginate(events, p.get("nextToken"), p.get("maxResults"), 50, INVALID)
    result: dict[str, Any] = {
        "events": [
            {**{k: v for k, v in event.items() if k != "eventTime"}, "eventTime": iso(event["eventTime"])}
            for event in page
        ]
    }
    if token:
        result["nextToken"] = token
    return result


def _taggable(world: World, arn: str) -> dict[str, Any]:
    stage = _stages(world).get(arn)
    if stage is None:
        raise ApiError(NOT_FOUND, f"Resource not found: {arn}")
    return stage


@operation(SERVICE, "TagResource")
def tag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    resource = _taggable(call.world, p["resourceArn"])
    merged = {**resource["tags"], **p["tags"]}
    _check_tags(merged)
    resource["tags"] = merged
    return {}


@operation(SERVICE, "UntagResource")
def untag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    resource = _taggable(call.world, p["resourceArn"])
    for key in p["tagKeys"]:
        resource["tags"].pop(key, None)
    return {}


@operation(SERVICE, "ListTagsForResource")
def list_tags_for_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"tags": dict(_taggable(call.world, p["resourceArn"])["tags"])}


# --- the world around the API: participants joining and leaving ---------------------------------------------------


def _event(participant: dict[str, Any], name: str, now: float, **fields: Any) -> None:
    participant["events"].append(
        {"name": name, "participantId": participant["participantId"], "eventTime": now, **fields}
    )


def _disconnect(world: World, participant: dict[str, Any], now: float) -> None:
    if participant["published"]:
        _event(participant, "PUBLISH_STOPPED", now)
    participant["published"] = False
    participant["state"] = "DISCONNECTED"
    _event(participant, "LEFT", now)
    stage = _stages(world).get(participant["stageArn"])
    if stage is not None:
        stage["lastLeaveAt"] = now


def participant_join(
    world: World, token: str, publish: bool = False, client: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A client joins a stage with a participant token (control API); `client` describes it as GetParticipant will
    (browserName, browserVersion, osName, osVersion, sdkVersion, ispName, protocol)."""
    now = world.clock.time()
    record = _tokens(world).get(token)
    if record is None:
        raise ApiError("UnknownToken", "The token was not issued by this sandbox.", status=403)
    if record["revoked"]:
        raise ApiError("TokenRevoked", "The participant was disconnected; this token cannot join again.", status=403)
    if record["expirationTime"] <= now:
        raise ApiError("TokenExpired", "The participant token has expired.", status=403)
    stage = _stages(world).get(record["stageArn"])
    if stage is None:
        raise ApiError("StageNotFound", "The stage no longer exists.", status=404)
    if not stage.get("activeSessionId"):
        session_id = "st-" + random_id(13)
        _sessions(world)[session_id] = {
            "sessionId": session_id,
            "stageArn": stage["arn"],
            "startTime": now,
            "endTime": None,
        }
        stage["activeSessionId"] = session_id
    session_id = stage["activeSessionId"]
    key = f"{session_id}/{record['participantId']}"
    participant = _participants(world).get(key)
    if participant is not None and participant["state"] == "CONNECTED":
        raise ApiError("AlreadyConnected", "This participant is already connected.", status=409)
    if participant is None:
        participant = {
            "participantId": record["participantId"],
            "stageArn": stage["arn"],
            "sessionId": session_id,
            "userId": record["userId"],
            "attributes": record["attributes"],
            "firstJoinTime": now,
            "published": False,
            "everPublished": False,
            "events": [],
            "client": dict(client or {}),
        }
        _participants(world)[key] = participant
    participant["state"] = "CONNECTED"
    _event(participant, "JOINED", now)
    if publish:
        participant_publish(world, stage["arn"], record["participantId"], True)
    return {"stageArn": stage["arn"], "sessionId": session_id, "participantId": record["participantId"]}


def _connected(world: World, stage_arn: str, participant_id: str) -> dict[str, Any]:
    stage = _stages(world).get(stage_arn)
    session_id = stage.get("activeSessionId") if stage else None
    participant = _participants(world).get(f"{session_id}/{participant_id}") if session_id else None
    if participant is None or participant["state"] != "CONNECTED":
        raise ApiError("NotConnected", f"Participant {participant_id} is not connected to {stage_arn}.", status=404)
    return participant


def participant_leave(world: World, stageArn: str, participantId: str) -> dict[str, Any]:
    participant = _connected(world, stageArn, participantId)
    _disconnect(world, participant, world.clock.time())
    return {"state": participant["state"]}


def participant_publish(world: World, stageArn: str, participantId: str, published: bool = True) -> dict[str, Any]:
    now = world.clock.time()
    participant = _connected(world, stageArn, participantId)
    token = next(
        (t for t in _tokens(world).values() if t["participantId"] == participantId and t["stageArn"] == stageArn), None
    )
    if published and not participant["published"]:
        publishers = sum(
            1
            for x in _participants(world).values()
            if x["sessionId"] == participant["sessionId"] and x["published"] and x["state"] == "CONNECTED"
        )
        if token is not None and "PUBLISH" not in token["capabilities"]:
            _event(participant, "PUBLISH_ERROR", now, errorCode="INSUFFICIENT_CAPABILITIES")
        elif publishers >= MAX_PUBLISHERS:
            _event(participant, "PUBLISH_ERROR", now, errorCode="QUOTA_EXCEEDED")
        else:
            participant["published"] = participant["everPublished"] = True
            _event(participant, "PUBLISH_STARTED", now)
    elif not published and participant["published"]:
        participant["published"] = False
        _event(participant, "PUBLISH_STOPPED", now)
    return {"published": participant["published"]}


@ticker
def end_idle_sessions(world: World, now: float) -> bool:
    """A session ends a few minutes after its last participant left."""
    ended = False
    for stage in _stages(world).values():
        session_id = stage.get("activeSessionId")
        if not session_id:
            continue
        connected = any(
            x["sessionId"] == session_id and x["state"] == "CONNECTED" for x in _participants(world).values()
        )
        last_leave = stage.get("lastLeaveAt")
        if not connected and last_leave is not None and now >= last_leave + world.timing.stage_session_end:
            _sessions(world)[session_id]["endTime"] = last_leave + world.timing.stage_session_end
            stage["activeSessionId"] = None
            ended = True
    return ended
