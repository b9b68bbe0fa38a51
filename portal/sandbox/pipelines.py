"""Chime SDK media capture pipelines: record a meeting into an S3 bucket on the moto side."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from portal.sandbox.meetings import meeting_get
from portal.sandbox.protocol import ApiError
from portal.sandbox.world import (
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
    if meeting_get(call.world, meeting_id) is None:
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
    return {"MediaPipeline": {"MediaCapturePipeline": _view(_pipeline(call.world, p["MediaPipelineId"]))}}


def _summaries(call: Call, p: dict[str, Any], key: str) -> dict[str, Any]:
    pipelines = sorted(
        (x for x in _pipelines(call.world).values() if x["region"] == call.region), key=lambda x: x["createdAt"]
    )
    page, token = paginate(pipelines, p.get("NextToken"), p.get("MaxResults"), 100, BAD_REQUEST)
    result: dict[str, Any] = {key: [{"MediaPipelineId": x["id"], "MediaPipelineArn": x["arn"]} for x in page]}
    if token:
        result["NextToken"] = token
    return result


@operation(SERVICE, "ListMediaCapturePipelines")
def list_media_capture_pipelines(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return _summaries(call, p, "MediaCapturePipelines")


@operation(SERVICE, "ListMediaPipelines")
def list_media_pipelines(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return _summaries(call, p, "MediaPipelines")


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
    _stop(call.world, _pipeline(call.world, p["MediaPipelineId"]), call.now)
    return {}


def _tagged(world: World, arn: str) -> dict[str, Any]:
    for pipeline in _pipelines(world).values():
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


# --- lifecycle and artifacts ------------------------------------------------------------------------------------------


def _stamp(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]


def _write_artifacts(world: World, pipeline: dict[str, Any], now: float) -> None:
    """What a capture pipeline writes while InProgress, in the folders AWS uses."""
    meeting = meeting_get(world, pipeline["meetingId"]) or {}
    artifacts = (pipeline.get("ChimeSdkMeetingConfiguration") or {}).get("ArtifactsConfiguration") or {}
    stamp = _stamp(now)
    base = pipeline["prefix"]
    objects: dict[str, bytes] = {f"{base}/audio/{stamp}.mp4": b"sandbox audio chunk"}
    connected = [a for a in (meeting.get("attendees") or {}).values() if a["connected"]]
    if (artifacts.get("Video") or {}).get("State", "Enabled") == "Enabled":
        for attendee in connected:
            objects[f"{base}/video/{stamp}-{attendee['AttendeeId']}.mp4"] = b"sandbox video chunk"
    if (artifacts.get("Content") or {}).get("State", "Enabled") == "Enabled":
        objects[f"{base}/content/{stamp}.mp4"] = b"sandbox content chunk"
    events = [e for e in meeting.get("events", []) if e["timestamp"] >= int(pipeline["createdAt"] * 1000)]
    objects[f"{base}/meeting-events/{stamp}.txt"] = "\n".join(json.dumps(e) for e in events).encode()
    objects[f"{base}/data-channel/{stamp}.txt"] = b""
    if meeting.get("transcription"):
        objects[f"{base}/transcription-messages/{stamp}.txt"] = b""
    for key, body in objects.items():
        world.moto.put_object(pipeline["bucket"], key, body)
        pipeline["artifacts"].append(key)
    pipeline["nextArtifactAt"] = now + world.timing.pipeline_artifact_interval


@ticker
def advance_pipelines(world: World, now: float) -> None:
    for pipeline in _pipelines(world).values():
        status = pipeline["status"]
        if status in RUNNING and meeting_get(world, pipeline["meetingId"]) is None:
            _stop(world, pipeline, now)  # the meeting ended: the pipeline stops with it
            continue
        if status in RUNNING and not world.moto.bucket_exists(pipeline["bucket"]):
            pipeline.update(status="Failed", updatedAt=now, dueAt=None)
            continue
        if status == "Initializing" and now >= pipeline["dueAt"]:
            pipeline.update(status="InProgress", updatedAt=pipeline["dueAt"], dueAt=None)
            _write_artifacts(world, pipeline, now)
        elif status == "InProgress" and now >= pipeline["nextArtifactAt"]:
            _write_artifacts(world, pipeline, now)
        elif status == "Stopping" and now >= pipeline["dueAt"]:
            pipeline.update(status="Stopped", updatedAt=pipeline["dueAt"], dueAt=None)
