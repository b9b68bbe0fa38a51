"""Media capture pipelines in the sandbox: lifecycle, sinks, artifacts, limits."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def recording(boto_client, sandbox):
    """A meeting with a connected attendee and an empty bucket."""
    chime, s3 = boto_client("chime-sdk-meetings"), boto_client("s3")
    bucket = f"rec-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    meeting = chime.create_meeting(
        ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="rec"
    )["Meeting"]
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="speaker")["Attendee"]
    sandbox.meeting_join(attendee["JoinToken"])
    return {"bucket": bucket, "meeting": meeting, "attendee": attendee, "s3": s3, "chime": chime}


def _create(pipelines, recording, **extra):
    kwargs = {
        "SourceType": "ChimeSdkMeeting",
        "SourceArn": f"arn:aws:chime::123456789012:meeting:{recording['meeting']['MeetingId']}",
        "SinkType": "S3Bucket",
        "SinkArn": f"arn:aws:s3:::{recording['bucket']}",
    }
    return pipelines.create_media_capture_pipeline(**{**kwargs, **extra})["MediaCapturePipeline"]


def _status(pipelines, pipeline_id: str) -> str:
    return pipelines.get_media_capture_pipeline(MediaPipelineId=pipeline_id)["MediaCapturePipeline"]["Status"]


def _code(raised) -> str:
    return raised.value.response["Error"]["Code"]


def test_lifecycle_and_artifacts(boto_client, sandbox, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    pipeline = _create(pipelines, recording)
    assert pipeline["Status"] == "Initializing"
    assert pipeline["MediaPipelineArn"].endswith(f":media-pipeline/{pipeline['MediaPipelineId']}")
    assert not recording["s3"].list_objects_v2(Bucket=recording["bucket"]).get("Contents")
    sandbox.advance(6)
    assert _status(pipelines, pipeline["MediaPipelineId"]) == "InProgress"
    keys = [o["Key"] for o in recording["s3"].list_objects_v2(Bucket=recording["bucket"])["Contents"]]
    meeting_id = recording["meeting"]["MeetingId"]
    folders = {key.split("/")[1] for key in keys}
    assert {"audio", "video", "data-channel"} <= folders
    assert all(key.startswith(f"{meeting_id}/") for key in keys)
    assert any(recording["attendee"]["AttendeeId"] in key for key in keys if "/video/" in key)
    sandbox.advance(10)
    later = recording["s3"].list_objects_v2(Bucket=recording["bucket"])["KeyCount"]
    assert later > len(keys)
    pipelines.delete_media_capture_pipeline(MediaPipelineId=pipeline["MediaPipelineId"])
    assert _status(pipelines, pipeline["MediaPipelineId"]) == "Stopping"
    sandbox.advance(4)
    stopped = pipelines.get_media_pipeline(MediaPipelineId=pipeline["MediaPipelineId"])["MediaPipeline"]
    assert stopped["MediaCapturePipeline"]["Status"] == "Stopped"


def test_a_sink_prefix_is_kept(boto_client, sandbox, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    _create(pipelines, recording, SinkArn=f"arn:aws:s3:::{recording['bucket']}/calls/2026")
    sandbox.advance(6)
    keys = [o["Key"] for o in recording["s3"].list_objects_v2(Bucket=recording["bucket"])["Contents"]]
    assert keys
    assert all(key.startswith("calls/2026/") for key in keys)


def test_client_request_token_makes_create_idempotent(boto_client, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    first = _create(pipelines, recording, ClientRequestToken="same-request")
    again = _create(pipelines, recording, ClientRequestToken="same-request")
    assert first["MediaPipelineId"] == again["MediaPipelineId"]
    assert len(pipelines.list_media_capture_pipelines()["MediaCapturePipelines"]) == 1


def test_source_meeting_and_sink_bucket_must_exist(boto_client, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    for extra in (
        {"SourceArn": f"arn:aws:chime::123456789012:meeting:{uuid.uuid4()}"},
        {"SinkArn": "arn:aws:s3:::no-such-bucket-anywhere"},
        {"SinkArn": "arn:aws:sqs:us-east-1:123456789012:not-a-bucket"},
    ):
        with pytest.raises(ClientError) as raised:
            _create(pipelines, recording, **extra)
        assert _code(raised) == "BadRequestException", extra


def test_at_most_25_selected_video_streams(boto_client, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    streams = {"ExternalUserIds": [f"user-{n}" for n in range(26)]}
    configuration = {
        "SourceConfiguration": {"SelectedVideoStreams": streams},
        "ArtifactsConfiguration": {
            "Audio": {"MuxType": "AudioOnly"},
            "Video": {"State": "Enabled", "MuxType": "VideoOnly"},
            "Content": {"State": "Disabled"},
        },
    }
    with pytest.raises(ClientError) as raised:
        _create(pipelines, recording, ChimeSdkMeetingConfiguration=configuration)
    assert _code(raised) == "BadRequestException"


def test_one_active_pipeline_per_meeting(boto_client, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    _create(pipelines, recording)
    with pytest.raises(ClientError) as raised:
        _create(pipelines, recording)
    assert _code(raised) == "ResourceLimitExceededException"


def test_active_pipelines_per_region(boto_client, sandbox, monkeypatch):
    from rtc_sandbox import pipelines as model

    monkeypatch.setattr(model, "active_limit", lambda region: 1)
    pipelines, chime, s3 = (
        boto_client("chime-sdk-media-pipelines"),
        boto_client("chime-sdk-meetings"),
        boto_client("s3"),
    )
    bucket = f"rec-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    for attempt in range(2):
        meeting = chime.create_meeting(
            ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="lim"
        )
        kwargs = {
            "SourceType": "ChimeSdkMeeting",
            "SourceArn": meeting["Meeting"]["MeetingArn"],
            "SinkType": "S3Bucket",
            "SinkArn": f"arn:aws:s3:::{bucket}",
        }
        if attempt == 0:
            pipelines.create_media_capture_pipeline(**kwargs)
        else:
            with pytest.raises(ClientError) as raised:
                pipelines.create_media_capture_pipeline(**kwargs)
            assert _code(raised) == "ResourceLimitExceededException"


def test_the_meeting_ending_stops_the_pipeline(boto_client, sandbox, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    pipeline = _create(pipelines, recording)
    sandbox.advance(6)
    recording["chime"].delete_meeting(MeetingId=recording["meeting"]["MeetingId"])
    sandbox.advance(0.1)
    assert _status(pipelines, pipeline["MediaPipelineId"]) == "Stopping"
    sandbox.advance(4)
    assert _status(pipelines, pipeline["MediaPipelineId"]) == "Stopped"


def test_a_running_pipeline_keeps_an_empty_meeting_alive(boto_client, sandbox, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    pipeline = _create(pipelines, recording)
    sandbox.meeting_leave(recording["meeting"]["MeetingId"], recording["attendee"]["AttendeeId"])
    sandbox.advance(400)
    assert recording["chime"].get_meeting(MeetingId=recording["meeting"]["MeetingId"])
    pipelines.delete_media_capture_pipeline(MediaPipelineId=pipeline["MediaPipelineId"])
    sandbox.advance(400)
    with pytest.raises(ClientError):
        recording["chime"].get_meeting(MeetingId=recording["meeting"]["MeetingId"])


def test_list_paginates_and_tags(boto_client, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    pipeline = _create(pipelines, recording, Tags=[{"Key": "case", "Value": "42"}])
    arn = pipeline["MediaPipelineArn"]
    listed = pipelines.list_media_pipelines(MaxResults=1)["MediaPipelines"]
    assert listed == [{"MediaPipelineId": pipeline["MediaPipelineId"], "MediaPipelineArn": arn}]
    pipelines.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "rtc"}])
    pipelines.untag_resource(ResourceARN=arn, TagKeys=["case"])
    assert pipelines.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "rtc"}]


def _keys(recording, prefix: str = "") -> list[str]:
    listed = recording["s3"].list_objects_v2(Bucket=recording["bucket"], Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_media_is_written_only_while_attendees_are_connected(boto_client, sandbox, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    _create(pipelines, recording)
    meeting_id = recording["meeting"]["MeetingId"]
    sandbox.meeting_leave(meeting_id, recording["attendee"]["AttendeeId"])
    sandbox.advance(6)
    assert _keys(recording, f"{meeting_id}/audio/") == []
    assert _keys(recording, f"{meeting_id}/video/") == []
    events = _keys(recording, f"{meeting_id}/meeting-events/")
    assert len(events) == 1
    recording["s3"].get_object(Bucket=recording["bucket"], Key=events[0])
    body = recording["s3"].raw_bodies[-1][2].decode()  # the test client keeps (and so consumes) every raw body
    lines = [json.loads(line) for line in body.splitlines()]
    assert [line["EventType"] for line in lines] == ["AttendeeLeft"]
    assert set(lines[0]) == {"Timestamp", "EventType", "EventParameters"}


def test_state_changes_go_to_the_meetings_queue(boto_client, sandbox):
    sqs, s3, chime = boto_client("sqs"), boto_client("s3"), boto_client("chime-sdk-meetings")
    queue = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bucket = f"rec-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    meeting = chime.create_meeting(
        ClientRequestToken=uuid.uuid4().hex,
        MediaRegion="us-east-1",
        ExternalMeetingId="evented",
        NotificationsConfiguration={"SqsQueueArn": arn},
    )["Meeting"]
    pipelines = boto_client("chime-sdk-media-pipelines")
    pipeline = _create(pipelines, {"meeting": meeting, "bucket": bucket})
    sandbox.advance(6)
    pipelines.delete_media_capture_pipeline(MediaPipelineId=pipeline["MediaPipelineId"])
    sandbox.advance(4)
    received = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        received += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)]
        )
    states = [e for e in received if e["detail-type"] == "Chime Media Pipeline State Change"]
    assert [e["detail"]["eventType"] for e in states] == ["chime:MediaPipelineInProgress", "chime:MediaPipelineDeleted"]
    assert {e["detail"]["mediaPipelineId"] for e in states} == {pipeline["MediaPipelineId"]}
    assert states[0]["detail"]["meetingId"] == meeting["MeetingId"]
    assert states[0]["source"] == "aws.chime"


def _concatenation(pipelines, source_arn: str, destination: str, **states: str):
    artifacts = {"Audio": {"State": "Enabled"}} | {
        name: {"State": states.get(name, "Disabled")}
        for name in ("Video", "Content", "DataChannel", "TranscriptionMessages", "MeetingEvents", "CompositedVideo")
    }
    source = {"MediaPipelineArn": source_arn, "ChimeSdkMeetingConfiguration": {"ArtifactsConfiguration": artifacts}}
    return pipelines.create_media_concatenation_pipeline(
        Sources=[{"Type": "MediaCapturePipeline", "MediaCapturePipelineSourceConfiguration": source}],
        Sinks=[{"Type": "S3Bucket", "S3BucketSinkConfiguration": {"Destination": destination}}],
    )["MediaConcatenationPipeline"]


def test_concatenation_waits_for_the_capture_and_writes_one_file(boto_client, sandbox, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    capture = _create(pipelines, recording)
    sandbox.advance(6)
    sandbox.advance(10)
    concatenation = _concatenation(pipelines, capture["MediaPipelineArn"], f"arn:aws:s3:::{recording['bucket']}/joined")
    assert concatenation["Status"] == "Initializing"
    sandbox.advance(1)
    get = pipelines.get_media_pipeline(MediaPipelineId=concatenation["MediaPipelineId"])["MediaPipeline"]
    assert get["MediaConcatenationPipeline"]["Status"] == "Initializing"  # the capture is still running
    pipelines.delete_media_capture_pipeline(MediaPipelineId=capture["MediaPipelineId"])
    sandbox.advance(4)
    sandbox.advance(4)
    get = pipelines.get_media_pipeline(MediaPipelineId=concatenation["MediaPipelineId"])["MediaPipeline"]
    assert get["MediaConcatenationPipeline"]["Status"] == "Stopped"
    assert _keys(recording, "joined/") == [f"joined/audio/{concatenation['MediaPipelineId']}.mp4"]
    listed = {p["MediaPipelineId"] for p in pipelines.list_media_pipelines()["MediaPipelines"]}
    assert concatenation["MediaPipelineId"] in listed
    pipelines.delete_media_pipeline(MediaPipelineId=concatenation["MediaPipelineId"])
    with pytest.raises(ClientError) as raised:
        pipelines.get_media_pipeline(MediaPipelineId=concatenation["MediaPipelineId"])
    assert _code(raised) == "NotFoundException"


def test_concatenation_refuses_what_aws_refuses(boto_client, sandbox, recording):
    pipelines = boto_client("chime-sdk-media-pipelines")
    capture = _create(pipelines, recording)
    missing = capture["MediaPipelineArn"].rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    for source, destination in (
        (missing, f"arn:aws:s3:::{recording['bucket']}"),
        (capture["MediaPipelineArn"], "arn:aws:s3:::no-such-bucket-anywhere"),
    ):
        with pytest.raises(ClientError) as raised:
            _concatenation(pipelines, source, destination)
        assert _code(raised) == "BadRequestException"
    unvalidated = boto_client("chime-sdk-media-pipelines", validate=False)
    source = {
        "MediaPipelineArn": capture["MediaPipelineArn"],
        "ChimeSdkMeetingConfiguration": {"ArtifactsConfiguration": {"Audio": {"State": "Enabled"}}},
    }
    with pytest.raises(ClientError) as raised:
        unvalidated.create_media_concatenation_pipeline(
            Sources=[{"Type": "MediaCapturePipeline", "MediaCapturePipelineSourceConfiguration": source}],
            Sinks=[
                {
                    "Type": "S3Bucket",
                    "S3BucketSinkConfiguration": {"Destination": f"arn:aws:s3:::{recording['bucket']}"},
                }
            ],
        )
    assert _code(raised) == "BadRequestException"  # every artifact's state is required
