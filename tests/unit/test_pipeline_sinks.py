"""Capture links only into sink buckets (issue 21, item 2): a capture found in AWS names its own sink, and the portal
lists, reads and signs links to objects in configured capture sink buckets (CAPTURE_SINK_BUCKETS) only."""

from __future__ import annotations

import uuid

import pytest

from portal.pipelines.models import Artifact, CapturePipeline, Concatenation
from portal.pipelines.refresh import pipelines_refresh
from tests.conftest import login, sandbox_boto

pytestmark = pytest.mark.django_db
EVENTS = '{"Timestamp": "2026-01-01T00:00:00Z", "EventType": "AttendeeJoined", "EventParameters": {}}'
PLANTED = '{"Timestamp": "2026-01-01T00:00:00Z", "EventType": "PLANTED-SECRET-TEXT", "EventParameters": {}}'


def _found_capture(sandbox, bucket: str, prefix: str) -> CapturePipeline:
    """A capture started outside the portal into s3://bucket/prefix, with objects there, as the refresher saw it."""
    s3 = sandbox_boto(sandbox.endpoint, "s3")
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    made = chime.create_meeting(ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="found")
    pipeline = sandbox_boto(sandbox.endpoint, "chime-sdk-media-pipelines").create_media_capture_pipeline(
        SourceType="ChimeSdkMeeting", SourceArn=made["Meeting"]["MeetingArn"], SinkType="S3Bucket",
        SinkArn=f"arn:aws:s3:::{bucket}/{prefix}",
    )["MediaCapturePipeline"]  # fmt: skip
    s3.put_object(Bucket=bucket, Key=f"{prefix}/meeting-events/2026-01-01-00-00-00-000.txt", Body=PLANTED.encode())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/audio/2026-01-01-00-00-00-000.wav", Body=b"RIFF private")
    sandbox.advance(6)  # Initializing -> InProgress
    pipelines_refresh()  # found
    pipelines_refresh()  # described: its sink and status
    pipelines_refresh()  # in progress: listed, if the portal may
    return CapturePipeline.objects.get(media_pipeline_id=pipeline["MediaPipelineId"])


def _media_src(response) -> str:
    policy = response["Content-Security-Policy"]
    return policy.split("media-src", 1)[1].split(";", 1)[0] if "media-src" in policy else ""


def test_a_found_capture_outside_the_sinks_offers_nothing_of_its_bucket(aws_endpoint, sandbox, settings, viewer):
    """The issue's probe: a capture found in AWS with its sink at s3://secf-private/leak gave a Viewer working links
    to every object there, showed a planted meeting-events file's text, and widened media-src to that origin."""
    sandbox.quotas(enabled=False)
    s3 = sandbox_boto(sandbox.endpoint, "s3")
    s3.create_bucket(Bucket="recordings")
    s3.create_bucket(Bucket="secf-private")
    settings.CAPTURE_SINK_BUCKETS = ["recordings"]
    capture = _found_capture(sandbox, "secf-private", "leak")
    assert (capture.sink_bucket, capture.status) == ("secf-private", "InProgress")
    assert not Artifact.objects.filter(pipeline=capture).exists()  # never listed, never read

    # Rows as if an older portal had listed the bucket: still nothing of them is offered.
    Artifact.objects.create(pipeline=capture, key="leak/audio/2026-01-01-00-00-00-000.wav", folder="audio", size=12)
    Artifact.objects.create(
        pipeline=capture, key="leak/meeting-events/2026-01-01-00-00-00-000.txt", folder="meeting-events", text=PLANTED
    )
    Concatenation.objects.create(
        capture=capture, media_pipeline_id=str(uuid.uuid4()), status="Stopped", sink_bucket="secf-private",
        output_key="leak/audio/2026-01-01-00-00-00-000.wav", output_size=12,
    )  # fmt: skip
    client = login(viewer)
    page = client.get(f"/pipelines/{capture.pk}/")
    html = page.content.decode().replace("\n", " ")
    assert page.status_code == 200
    assert "X-Amz-Signature" not in html
    assert "PLANTED-SECRET-TEXT" not in html
    assert sandbox.endpoint not in _media_src(page)
    assert "Its sink s3://secf-private is not a configured capture sink bucket (CAPTURE_SINK_BUCKETS)" in html
    for panel in ("artifacts", "concatenations"):
        answer = client.get(f"/pipelines/{capture.pk}/?panel={panel}", headers={"HX-Request": "true"})
        assert "X-Amz-Signature" not in answer.content.decode(), panel
        assert "PLANTED-SECRET-TEXT" not in answer.content.decode(), panel


def test_a_capture_in_a_sink_bucket_is_listed_read_and_linked(aws_endpoint, sandbox, settings, viewer):
    sandbox.quotas(enabled=False)
    bucket = f"recordings-{uuid.uuid4().hex[:8]}"
    sandbox_boto(sandbox.endpoint, "s3").create_bucket(Bucket=bucket)
    settings.CAPTURE_SINK_BUCKETS = [bucket]
    capture = _found_capture(sandbox, bucket, "kept")
    folders = set(Artifact.objects.filter(pipeline=capture).values_list("folder", flat=True))
    assert folders == {"audio", "meeting-events"}
    page = login(viewer).get(f"/pipelines/{capture.pk}/")
    html = page.content.decode()
    assert "X-Amz-Signature" in html
    assert "PLANTED-SECRET-TEXT" in html  # the timeline of what the capture recorded
    assert sandbox.endpoint in _media_src(page)


def test_with_no_sink_bucket_configured_the_page_says_so_and_offers_nothing(aws_endpoint, sandbox, settings, viewer):
    sandbox.quotas(enabled=False)
    sandbox_boto(sandbox.endpoint, "s3").create_bucket(Bucket="secf-private")
    settings.CAPTURE_SINK_BUCKETS = []
    capture = _found_capture(sandbox, "secf-private", "leak")
    assert not Artifact.objects.filter(pipeline=capture).exists()
    page = login(viewer).get(f"/pipelines/{capture.pk}/")
    html = page.content.decode().replace("\n", " ")
    assert "No capture sink bucket is configured (CAPTURE_SINK_BUCKETS)" in html
    assert "X-Amz-Signature" not in html
    assert sandbox.endpoint not in _media_src(page)


def test_a_concatenation_into_a_bucket_outside_the_sinks_ends_without_being_listed(aws_endpoint, sandbox, settings):
    """The refresher does not list a concatenation's output outside the sinks; it still follows it to its end."""
    sandbox.quotas(enabled=False)
    s3 = sandbox_boto(sandbox.endpoint, "s3")
    bucket = f"recordings-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket="secf-private")
    settings.CAPTURE_SINK_BUCKETS = [bucket]
    capture = _found_capture(sandbox, bucket, "kept")
    aws = sandbox_boto(sandbox.endpoint, "chime-sdk-media-pipelines")
    aws.delete_media_capture_pipeline(MediaPipelineId=capture.media_pipeline_id)
    made = aws.create_media_concatenation_pipeline(
        Sources=[{"Type": "MediaCapturePipeline", "MediaCapturePipelineSourceConfiguration": {
            "MediaPipelineArn": capture.arn, "ChimeSdkMeetingConfiguration": {"ArtifactsConfiguration": {
                "Audio": {"State": "Enabled"}, "Video": {"State": "Disabled"}, "Content": {"State": "Disabled"},
                "DataChannel": {"State": "Disabled"}, "TranscriptionMessages": {"State": "Disabled"},
                "MeetingEvents": {"State": "Disabled"}, "CompositedVideo": {"State": "Disabled"}}}}}],
        Sinks=[{"Type": "S3Bucket", "S3BucketSinkConfiguration": {"Destination": "arn:aws:s3:::secf-private/joined"}}],
    )["MediaConcatenationPipeline"]  # fmt: skip
    concatenation = Concatenation.objects.create(
        capture=capture, media_pipeline_id=made["MediaPipelineId"], status="Initializing", sink_bucket="secf-private",
        sink_prefix="joined",
    )  # fmt: skip
    for _ in range(3):  # InProgress once its source has stopped, then Stopped: the file is written
        sandbox.advance(60)
    s3.put_object(Bucket="secf-private", Key="joined/audio/private.mp4", Body=b"private")
    pipelines_refresh()
    concatenation.refresh_from_db()
    assert (concatenation.status, concatenation.output_key) == ("Stopped", "")
