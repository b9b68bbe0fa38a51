"""Chime SDK media capture pipelines: record a meeting into an S3 bucket on the moto side; concatenation pipelines
join what a capture wrote into one file per artifact."""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import math
import wave
from typing import Any

from rtc_sandbox.meetings import meeting_get, notify
from rtc_sandbox.protocol import ApiError
from rtc_sandbox.world import (
    Call,
    World,
    check_tag_keys,
    iso,
    new_uuid,
    operation,
    paginate,
    tag_list_to_map,
    tag_map_to_list,
    ticker,
)

SERVICE = "chime-sdk-media-pipelines"
BAD_REQUEST = "BadRequestException"
NOT_FOUND = "NotFoundException"
LIMIT = "ResourceLimitExceededException"
MAX_SELECTED_VIDEO_STREAMS = 25
MAX_TAGS = 200
MAX_SOURCE_AGE = 30 * 24 * 3600.0  # a concatenation's source capture is less than 30 days old
AUDIO_CHUNK_SECONDS = 2  # the sandbox's chunks: a short tone, playable in a browser
EVENT_DETAIL_TYPE = "Chime Media Pipeline State Change"
RUNNING = ("Initializing", "InProgress")
ACTIVE = ("Initializing", "InProgress", "Stopping")


def active_limit(region: str) -> int:
    return 100 if region == "us-east-1" else 10


def _pipelines(world: World) -> dict[str, Any]:
    return world.table("chime.capture_pipelines")


def _request_tokens(world: World) -> dict[str, Any]:
    return world.table("chime.capture_pipeline_tokens")


def pipeline_keeps_meeting_alive(world: World, meeting_id: str) -> bool:
    """A running capture pipeline counts as an attendee: the meeting does not end for idleness."""
    return any(p["meetingId"] == meeting_id and p["status"] in RUNNING for p in _pipelines(world).values())


def _meeting_id_from(source_arn: str) -> str:
    """arn:aws:chime::ACCOUNT:meeting:ID, or a MeetingArn (arn:aws:chime:REGION:ACCOUNT:meeting/ID)."""
    for marker in (":meeting:", ":meeting/"):
        if marker in source_arn:
            return source_arn.rsplit(marker, 1)[1]
    raise ApiError(BAD_REQUEST, f"SourceArn is not a Chime SDK meeting ARN: {source_arn}")


def _bucket_and_prefix(sink_arn: str) -> tuple[str, str]:
    if not sink_arn.startswith("arn:aws:s3:::"):
        raise ApiError(BAD_REQUEST, f"SinkArn is not an S3 bucket ARN: {sink_arn}")
    bucket, _, prefix = sink_arn.removeprefix("arn:aws:s3:::").partition("/")
    if not bucket:
        raise ApiError(BAD_REQUEST, "SinkArn names no bucket.")
    return bucket, prefix.strip("/")


def _view(pipeline: dict[str, Any]) -> dict[str, Any]:
    view = {
        "MediaPipelineId": pipeline["id"],
        "MediaPipelineArn": pipeline["arn"],
        "SourceType": "ChimeSdkMeeting",
        "SourceArn": pipeline["sourceArn"],
        "Status": pipeline["status"],
        "SinkType": "S3Bucket",
        "SinkArn": pipeline["sinkArn"],
        "CreatedTimestamp": iso(pipeline["createdAt"]),
        "UpdatedTimestamp": iso(pipeline["updatedAt"]),
    }
    for key in ("ChimeSdkMeetingConfiguration", "SseAwsKeyManagementParams", "SinkIamRoleArn"):
        if pipeline.get(key) is not None:
            view[key] = pipeline[key]
    return view


def _pipeline(world: World, pipeline_id: str) -> dict[str, Any]:
    pipeline = _pipelines(world).get(pipeline_id)
    if pipeline is None:
        raise ApiError(NOT_FOUND, f"The media pipeline {pipeline_id} was not found.")
    return pipeline


def _check_tags(tags: list[dict[str, str]]) -> None:
    check_tag_keys([tag["Key"] for tag in tags], BAD_REQUEST)


@operation(SERVICE, "CreateMediaCapturePipeline")
def create_media_capture_pipeline(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    token = p.get("ClientRequestToken")
    if token and token in _request_tokens(call.world):
        return {"MediaCapturePipeline": _view(_pipelines(call.world)[_request_tokens(call.world)[token]])}
    meeting_id = _meeting_id_from(p["SourceArn"])
    meeting = meeting_get(call.world, meeting_id)
    if meeting is None:
        raise ApiError(BAD_REQUEST, f"The source meeting {meeting_id} does not exist or has ended.")
    bucket, prefix = _bucket_and_prefix(p["SinkArn"])
    if not call.world.moto.bucket_exists(bucket):
        raise ApiError(BAD_REQUEST, f"The sink bucket {bucket} does not exist.")
    configuration = p.get("ChimeSdkMeetingConfiguration") or {}
    streams = ((configuration.get("SourceConfiguration") or {}).get("SelectedVideoStreams")) or {}
    selected = len(streams.get("AttendeeIds") or []) + len(streams.get("ExternalUserIds") or [])
    if selected > MAX_SELECTED_VIDEO_STREAMS:
        raise ApiError(BAD_REQUEST, f"SelectedVideoStreams allows at most {MAX_SELECTED_VIDEO_STREAMS} streams.")
    tags = p.get("Tags") or []
    _check_tags(tags)
    pipelines = _pipelines(call.world).values()
    if any(x["meetingId"] == meeting_id and x["status"] in ACTIVE for x in pipelines):
        raise ApiError(LIMIT, f"The meeting {meeting_id} already has an active capture pipeline.")
    if sum(1 for x in pipelines if x["region"] == call.region and x["status"] in ACTIVE) >= active_limit(call.region):
        raise ApiError(LIMIT, f"The limit of {active_limit(call.region)} active media pipelines is reached.")
    pipeline_id = new_uuid()
    pipeline = {
        "id": pipeline_id,
        "arn": f"arn:aws:chime:{call.region}:{call.account}:media-pipeline/{pipeline_id}",
        "region": call.region,
        "sourceArn": p["SourceArn"],
        "sinkArn": p["SinkArn"],
        "meetingId": meeting_id,
        "bucket": bucket,
        "prefix": prefix or meeting_id,
        "status": "Initializing",
        "createdAt": call.now,
        "updatedAt": call.now,
        "dueAt": call.now + call.world.timing.pipeline_start,
        "nextArtifactAt": None,
        "artifacts": [],
        "tags": tag_list_to_map(tags),
        "notifications": meeting.get("NotificationsConfiguration"),
        "externalMeetingId": meeting.get("ExternalMeetingId"),
        "mediaRegion": meeting.get("MediaRegion"),
        "eventsWrittenUntil": int(call.now * 1000),
        "ChimeSdkMeetingConfiguration": configuration or None,
        "SseAwsKeyManagementParams": p.get("SseAwsKeyManagementParams"),
        "SinkIamRoleArn": p.get("SinkIamRoleArn"),
    }
    _pipelines(call.world)[pipeline_id] = pipeline
    if token:
        _request_tokens(call.world)[token] = pipeline_id
    return {"MediaCapturePipeline": _view(pipeline)}


@operation(SERVICE, "GetMediaCapturePipeline")
def get_media_capture_pipeline(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"MediaCapturePipeline": _view(_pipeline(call.world, p["MediaPipelineId"]))}


@operation(SERVICE, "GetMediaPipeline")
def get_media_pipeline(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    concatenation = _concatenations(call.world).get(p["MediaPipelineId"])
    if concatenation is not None:
        return {"MediaPipeline": {"MediaConcatenationPipeline": _concatenation_view(concatenation)}}
    return {"MediaPipeline": {"MediaCapturePipeline": _view(_pipeline(call.world, p["MediaPipelineId"]))}}


def _summaries(call: Call, p: dict[str, Any], key: str, pipelines: list[dict[str, Any]]) -> dict[str, Any]:
    in_region = sorted((x for x in pipelines if x["region"] == call.region), key=lambda x: x["createdAt"])
    page, token = paginate(in_region, p.get("NextToken"), p.get("MaxResults"), 100, BAD_REQUEST)
    result: dict[str, Any] = {key: [{"MediaPipelineId": x["id"], "MediaPipelineArn": x["arn"]} for x in page]}
    if token:
        result["NextToken"] = token
    return result


@operation(SERVICE, "ListMediaCapturePipelines")
def list_media_capture_pipelines(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return _summaries(call, p, "MediaCapturePipelines", list(_pipelines(call.world).values()))


@operation(SERVICE, "ListMediaPipelines")
def list_media_pipelines(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    every = [*_pipelines(call.world).values(), *_concatenations(call.world).values()]
    return _summaries(call, p, "MediaPipelines", every)


def _stop(world: World, pipeline: dict[str, Any], now: float) -> None:
    if pipeline["status"] in RUNNING:
        pipeline["status"] = "Stopping"
        pipeline["updatedAt"] = now
        pipeline["dueAt"] = now + world.timing.pipeline_stop


@operation(SERVICE, "DeleteMediaCapturePipeline")
def delete_media_capture_pipeline(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    _stop(call.world, _pipeline(call.world, p["MediaPipelineId"]), call.now)
    return {}


@operation(SERVICE, "DeleteMediaPipeline")
def delete_media_pipeline(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """A capture pipeline stops; a concatenation pipeline is deleted (what it wrote stays in the bucket)."""
    if _concatenations(call.world).pop(p["MediaPipelineId"], None) is None:
        _stop(call.world, _pipeline(call.world, p["MediaPipelineId"]), call.now)
    return {}


def _tagged(world: World, arn: str) -> dict[str, Any]:
    for pipeline in [*_pipelines(world).values(), *_concatenations(world).values()]:
        if pipeline["arn"] == arn:
            return pipeline
    raise ApiError(NOT_FOUND, f"The resource {arn} was not found.")


@operation(SERVICE, "TagResource")
def tag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    pipeline = _tagged(call.world, p["ResourceARN"])
    _check_tags(p["Tags"])
    merged = {**pipeline["tags"], **tag_list_to_map(p["Tags"])}
    if len(merged) > MAX_TAGS:
        raise ApiError(BAD_REQUEST, f"A media pipeline can have at most {MAX_TAGS} tags.")
    pipeline["tags"] = merged
    return {}


@operation(SERVICE, "UntagResource")
def untag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    pipeline = _tagged(call.world, p["ResourceARN"])
    for key in p["TagKeys"]:
        pipeline["tags"].pop(key, None)
    return {}


@operation(SERVICE, "ListTagsForResource")
def list_tags_for_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    tags = _tagged(call.world, p["ResourceARN"])["tags"]
    return {"Tags": tag_map_to_list(tags)} if tags else {}


# --- concatenation ---------------------------------------------------------------------------------------------------


def _concatenations(world: World) -> dict[str, Any]:
    return world.table("chime.concatenation_pipelines")


def _concatenation_view(concatenation: dict[str, Any]) -> dict[str, Any]:
    return {
        "MediaPipelineId": concatenation["id"],
        "MediaPipelineArn": concatenation["arn"],
        "Sources": concatenation["sources"],
        "Sinks": concatenation["sinks"],
        "Status": concatenation["status"],
        "CreatedTimestamp": iso(concatenation["createdAt"]),
        "UpdatedTimestamp": iso(concatenation["updatedAt"]),
    }


def _capture_by_arn(world: World, arn: str) -> dict[str, Any] | None:
    return next((x for x in _pipelines(world).values() if x["arn"] == arn), None)


@operation(SERVICE, "CreateMediaConcatenationPipeline")
def create_media_concatenation_pipeline(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """One capture pipeline's artifacts into one file each. The source is a capture pipeline of this account and
    region, less than 30 days old and not failed; the concatenation waits for it to stop."""
    tokens = call.world.table("chime.concatenation_pipeline_tokens")
    token = p.get("ClientRequestToken")
    if token and token in tokens and tokens[token] in _concatenations(call.world):
        return {"MediaConcatenationPipeline": _concatenation_view(_concatenations(call.world)[tokens[token]])}
    source = p["Sources"][0]["MediaCapturePipelineSourceConfiguration"]
    capture = _capture_by_arn(call.world, source["MediaPipelineArn"])
    if capture is None or capture["region"] != call.region:
        raise ApiError(BAD_REQUEST, f"The source media capture pipeline {source['MediaPipelineArn']} was not found.")
    if call.now - capture["createdAt"] > MAX_SOURCE_AGE:
        raise ApiError(BAD_REQUEST, "The source media capture pipeline is more than 30 days old.")
    if capture["status"] == "Failed":
        raise ApiError(BAD_REQUEST, "The source media capture pipeline failed: it has nothing to concatenate.")
    bucket, prefix = _bucket_and_prefix(p["Sinks"][0]["S3BucketSinkConfiguration"]["Destination"])
    if not call.world.moto.bucket_exists(bucket):
        raise ApiError(BAD_REQUEST, f"The sink bucket {bucket} does not exist.")
    tags = p.get("Tags") or []
    _check_tags(tags)
    pipeline_id = new_uuid()
    concatenation = {
        "id": pipeline_id,
        "arn": f"arn:aws:chime:{call.region}:{call.account}:media-pipeline/{pipeline_id}",
        "region": call.region,
        "sources": p["Sources"],
        "sinks": p["Sinks"],
        "captureId": capture["id"],
        "bucket": bucket,
        "prefix": prefix or pipeline_id,
        "status": "Initializing",
        "createdAt": call.now,
        "updatedAt": call.now,
        "dueAt": None,
        "tags": tag_list_to_map(tags),
    }
    _concatenations(call.world)[pipeline_id] = concatenation
    if token:
        tokens[token] = pipeline_id
    return {"MediaConcatenationPipeline": _concatenation_view(concatenation)}


def _concatenate(world: World, concatenation: dict[str, Any], capture: dict[str, Any]) -> None:
    """One object per enabled artifact the capture wrote: `<prefix>/<folder>/<pipeline id>.mp4` (`.txt` for text)."""
    states = concatenation["sources"][0]["MediaCapturePipelineSourceConfiguration"]["ChimeSdkMeetingConfiguration"][
        "ArtifactsConfiguration"
    ]
    folders = {"Audio": "audio", "Video": "video", "Content": "content", "DataChannel": "data-channel",
               "TranscriptionMessages": "transcription-messages", "MeetingEvents": "meeting-events",
               "CompositedVideo": "composited-video"}  # fmt: skip
    for artifact, folder in folders.items():
        chunks = [key for key in capture["artifacts"] if f"/{folder}/" in key]
        if states[artifact]["State"] != "Enabled" or not chunks:
            continue
        text = folder in ("data-channel", "transcription-messages", "meeting-events")
        name = f"{concatenation['prefix']}/{folder}/{concatenation['id']}.{'txt' if text else 'mp4'}"
        body = b"\n".join(key.encode() for key in chunks) if text else _tone(AUDIO_CHUNK_SECONDS * len(chunks))
        world.moto.put_object(concatenation["bucket"], name, body)


# --- lifecycle and artifacts ------------------------------------------------------------------------------------------


def _stamp(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]


@functools.cache
def _tone(seconds: int) -> bytes:
    """A quiet 440 Hz tone as 8 kHz mono PCM: small, and a browser plays it."""
    rate = 8000
    samples = bytes(int(128 + 20 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(rate * seconds))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(samples)
    return buffer.getvalue()


def _write_artifacts(world: World, pipeline: dict[str, Any], now: float) -> None:
    """What a capture pipeline writes while InProgress, in the folders AWS uses: media chunks while attendees are
    connected (video for each connected attendee, content for those sharing), the meeting events since the last
    chunk, and data-channel and transcription messages when there are any."""
    meeting = meeting_get(world, pipeline["meetingId"]) or {}
    artifacts = (pipeline.get("ChimeSdkMeetingConfiguration") or {}).get("ArtifactsConfiguration") or {}
    stamp = _stamp(now)
    base = pipeline["prefix"]
    objects: dict[str, bytes] = {}
    connected = [a for a in (meeting.get("attendees") or {}).values() if a["connected"]]
    if connected:
        objects[f"{base}/audio/{stamp}.mp4"] = _tone(AUDIO_CHUNK_SECONDS)
        objects[f"{base}/data-channel/{stamp}.txt"] = b""
    if connected and (artifacts.get("Video") or {}).get("State", "Enabled") == "Enabled":
        for attendee in connected:
            objects[f"{base}/video/{stamp}-{attendee['AttendeeId']}.mp4"] = b"sandbox video chunk"
    if connected and (artifacts.get("Content") or {}).get("State", "Enabled") == "Enabled":
        for attendee in (a for a in connected if a.get("content")):
            objects[f"{base}/content/{stamp}-{attendee['AttendeeId']}#content.mp4"] = b"sandbox content chunk"
    since = pipeline["eventsWrittenUntil"]
    events = [e for e in meeting.get("events", []) if e["timestamp"] >= since]
    if events:
        lines = [
            {"Timestamp": iso(e["timestamp"] / 1000).isoformat(), "EventType": e["eventType"].removeprefix("chime:"),
             "EventParameters": {k: v for k, v in e.items() if k not in ("eventType", "timestamp", "version")}}
            for e in events
        ]  # fmt: skip
        objects[f"{base}/meeting-events/{stamp}.txt"] = "\n".join(json.dumps(line) for line in lines).encode()
        pipeline["eventsWrittenUntil"] = events[-1]["timestamp"] + 1
    if connected and meeting.get("transcription"):
        objects[f"{base}/transcription-messages/{stamp}.txt"] = b""
    for key, body in objects.items():
        world.moto.put_object(pipeline["bucket"], key, body)
        pipeline["artifacts"].append(key)
    pipeline["nextArtifactAt"] = now + world.timing.pipeline_artifact_interval


def _event(world: World, pipeline: dict[str, Any], event_type: str, at: float) -> None:
    """A "Chime Media Pipeline State Change" event to the meeting's notification targets, as AWS sends it."""
    detail = {
        "version": "0",
        "eventType": f"chime:{event_type}",
        "timestamp": int(at * 1000),
        "meetingId": pipeline["meetingId"],
        "externalMeetingId": pipeline.get("externalMeetingId"),
        "mediaPipelineId": pipeline["id"],
        "mediaRegion": pipeline.get("mediaRegion") or pipeline["region"],
    }
    notify(world, pipeline.get("notifications"), region=pipeline["region"], detail_type=EVENT_DETAIL_TYPE,
           detail=detail)  # fmt: skip


def _settle(world: World, pipeline: dict[str, Any], status: str, at: float) -> None:
    pipeline.update(status=status, updatedAt=at, dueAt=None)
    events = {"InProgress": "MediaPipelineInProgress", "Stopped": "MediaPipelineDeleted",
              "Failed": "MediaPipelinePermanentFailure"}  # fmt: skip
    _event(world, pipeline, events[status], at)


@ticker
def advance_pipelines(world: World, now: float) -> bool:
    changed = False
    for pipeline in _pipelines(world).values():
        status = pipeline["status"]
        if status in RUNNING and meeting_get(world, pipeline["meetingId"]) is None:
            _stop(world, pipeline, now)  # the meeting ended: the pipeline stops with it
        elif status in RUNNING and not world.moto.bucket_exists(pipeline["bucket"]):
            _settle(world, pipeline, "Failed", now)
        elif status == "Initializing" and now >= pipeline["dueAt"]:
            _settle(world, pipeline, "InProgress", pipeline["dueAt"])
            _write_artifacts(world, pipeline, now)
        elif status == "InProgress" and now >= pipeline["nextArtifactAt"]:
            _write_artifacts(world, pipeline, now)
        elif status == "Stopping" and now >= pipeline["dueAt"]:
            _settle(world, pipeline, "Stopped", pipeline["dueAt"])
        else:
            continue
        changed = True
    for concatenation in _concatenations(world).values():
        capture = _pipelines(world).get(concatenation["captureId"])
        if concatenation["status"] == "Initializing" and capture is not None and capture["status"] == "Stopped":
            concatenation.update(status="InProgress", updatedAt=now, dueAt=now + world.timing.concatenation_run)
        elif concatenation["status"] == "Initializing" and (capture is None or capture["status"] == "Failed"):
            concatenation.update(status="Failed", updatedAt=now)
        elif concatenation["status"] == "InProgress" and now >= concatenation["dueAt"] and capture is not None:
            _concatenate(world, concatenation, capture)
            concatenation.update(status="Stopped", updatedAt=concatenation["dueAt"], dueAt=None)
        else:
            continue
        changed = True
    return changed
