"""Capture pipelines end to end: browser requests → views → Operation → real Celery worker over Redis → the sandbox
(its capture writing into moto's S3, its state-change events on the meeting's SQS queue) → the events consumer and
the pipelines refresher → the pages, the artifacts and their presigned links, the audit log."""

from __future__ import annotations

import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command

from portal.core.models import AuditEntry, Operation
from portal.meetings.models import Meeting
from portal.meetings.services import AttendeeSpec, meeting_create
from portal.pipelines.models import CapturePipeline, Concatenation
from portal.pipelines.refresh import pipelines_refresh
from portal.pipelines.services import captures_enforce_policies
from tests.backing_services import wait_until
from tests.conftest import login, sandbox_boto

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
HTMX = {"HX-Request": "true"}


def _settled(operation: Operation) -> Operation:
    wait_until(lambda: Operation.objects.get(pk=operation.pk).is_settled)
    return Operation.objects.get(pk=operation.pk)


def _latest(kind: str) -> Operation:
    return Operation.objects.filter(kind=kind).latest("pk")


def _capture(pk: int) -> CapturePipeline:
    return CapturePipeline.objects.get(pk=pk)


def _follow_until(check) -> None:
    """What the meeting-events process and the pipelines refresher do, a receive and a cycle at a time."""

    def followed() -> bool:
        call_command("events", "--once", "--wait", "0")
        pipelines_refresh()
        return check()

    wait_until(followed, timeout=40, interval=0.3)


@pytest.fixture
def estate(admin, aws_endpoint, sandbox, settings, real_worker, redis_broker):
    """A worker, the events queue, a bucket the form offers (and one that does not exist), a meeting of two."""
    real_worker(redis_broker)
    sandbox.quotas(enabled=False)
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    settings.MEETING_EVENTS_QUEUE_URL = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    bucket = f"recordings-{uuid.uuid4().hex[:8]}"
    sandbox_boto(sandbox.endpoint, "s3").create_bucket(Bucket=bucket)
    settings.CAPTURE_SINK_BUCKETS = [bucket, "no-such-bucket-anywhere"]
    return {"bucket": bucket}


def _meeting(admin, sandbox, name: str, join: tuple[str, ...] = ()) -> Meeting:
    created = meeting_create(
        actor=admin, external_meeting_id=name, media_region="us-east-1", features={}, tenant_ids=[], tags={},
        primary=None, attendees=[AttendeeSpec("alice"), AttendeeSpec("bob")],
    )  # fmt: skip
    assert _settled(created).status == Operation.Status.SUCCEEDED
    meeting = Meeting.objects.get(pk=created.parameters["meeting_pk"])
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    for attendee in chime.list_attendees(MeetingId=meeting.meeting_id)["Attendees"]:
        if attendee["ExternalUserId"] in join:
            sandbox.meeting_join(attendee["JoinToken"])
    return meeting


def _form(bucket: str, **extra: str) -> dict[str, str]:
    form = {"bucket": bucket, "prefix": "", "audio_mux": "AudioOnly", "video": "on", "content": "on",
            "video_streams": "", "stop_when_empty_minutes": "", "max_duration_minutes": "",
            "tags-TOTAL_FORMS": "1", "tags-INITIAL_FORMS": "0", "tags-0-key": "case", "tags-0-value": "42"}  # fmt: skip
    return form | extra


def _record(client, meeting: Meeting, bucket: str, **extra: str) -> Operation:
    response = client.post(f"/pipelines/meetings/{meeting.pk}/record/", _form(bucket, **extra))
    assert response.status_code == 303, response.content.decode()[:2000]
    return _settled(_latest("pipelines.start"))


def test_record_follow_browse_stop_and_concatenate(admin, support, sandbox, estate):
    meeting = _meeting(admin, sandbox, "board-review", join=("alice",))
    admin_client = login(admin)
    started = _record(admin_client, meeting, estate["bucket"])
    assert started.status == Operation.Status.SUCCEEDED, started.error_message
    capture = CapturePipeline.objects.get(meeting=meeting)
    aws = sandbox_boto(sandbox.endpoint, "chime-sdk-media-pipelines")
    created = aws.get_media_capture_pipeline(MediaPipelineId=capture.media_pipeline_id)["MediaCapturePipeline"]
    assert created["SinkArn"] == f"arn:aws:s3:::{estate['bucket']}"
    assert aws.list_tags_for_resource(ResourceARN=capture.arn)["Tags"] == [{"Key": "case", "Value": "42"}]
    assert capture.status == CapturePipeline.Status.INITIALIZING

    page = admin_client.get(f"/pipelines/meetings/{meeting.pk}/record/").content.decode()
    assert 'id="capture-running"' in page  # the form says so before anything is queued
    refused = admin_client.post(f"/pipelines/meetings/{meeting.pk}/record/", _form(estate["bucket"]))
    assert refused.status_code == 409
    assert Operation.objects.filter(kind="pipelines.start").count() == 1
    listing = admin_client.get("/meetings/").content.decode()
    assert f'<tr id="meeting-{meeting.pk}">' in listing
    assert 'data-capture="running"' in listing

    sandbox.advance(6)
    _follow_until(lambda: _capture(capture.pk).status == CapturePipeline.Status.IN_PROGRESS)
    sandbox.advance(10)
    _follow_until(lambda: _capture(capture.pk).artifacts.filter(folder="audio").count() >= 2)
    capture = _capture(capture.pk)
    assert capture.bytes_written > 0
    assert capture.started_at is not None
    artifacts = admin_client.get(f"/pipelines/{capture.pk}/?panel=artifacts", headers=HTMX).content.decode()
    assert 'data-folder="audio"' in artifacts
    assert 'data-folder="video"' in artifacts
    url = artifacts.split('<audio controls preload="none" src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url) as chunk:  # the presigned link serves the chunk itself
        assert chunk.read(4) == b"RIFF"
    full = admin_client.get(f"/pipelines/{capture.pk}/")
    assert sandbox.endpoint in full["Content-Security-Policy"].split("media-src", 1)[1].split(";", 1)[0]

    support_client = login(support)
    assert support_client.post(f"/pipelines/{capture.pk}/stop/").status_code == 303
    stop = _settled(_latest("pipelines.stop"))
    assert stop.status == Operation.Status.SUCCEEDED, stop.error_message
    assert _capture(capture.pk).status == CapturePipeline.Status.STOPPING
    status = admin_client.get(f"/pipelines/{capture.pk}/?panel=status", headers=HTMX).content.decode()
    assert 'data-capture-status="Stopping"' in status
    assert "does not stop a capture at once" in status
    sandbox.advance(4)
    _follow_until(lambda: _capture(capture.pk).status == CapturePipeline.Status.STOPPED)
    events = list(_capture(capture.pk).events.values_list("event_type", flat=True))
    assert events == ["MediaPipelineInProgress", "MediaPipelineDeleted"]
    assert 'data-capture="none"' in admin_client.get("/meetings/").content.decode()

    response = admin_client.post(f"/pipelines/{capture.pk}/concatenate/", {"bucket": estate["bucket"], "prefix": "one"})
    assert response.status_code == 303
    assert _settled(_latest("pipelines.concatenate")).status == Operation.Status.SUCCEEDED
    sandbox.advance(4)
    _follow_until(lambda: Concatenation.objects.get().status == Concatenation.Status.STOPPED)
    concatenation = Concatenation.objects.get()
    s3 = sandbox_boto(sandbox.endpoint, "s3")
    written = [o["Key"] for o in s3.list_objects_v2(Bucket=estate["bucket"], Prefix="one/")["Contents"]]
    assert written == [concatenation.output_key] == [f"one/audio/{concatenation.media_pipeline_id}.mp4"]
    panel = admin_client.get(f"/pipelines/{capture.pk}/?panel=concatenations", headers=HTMX).content.decode()
    assert f'id="concatenation-{concatenation.pk}-download"' in panel

    entries = AuditEntry.objects.filter(kind="pipelines.stop").order_by("id")
    assert [(e.actor_name, e.event) for e in entries] == [("sam", "requested"), ("sam", "succeeded")]


def test_the_meeting_ending_stops_it_and_an_empty_meeting_is_stopped_by_the_policy(admin, sandbox, estate):
    admin_client = login(admin)
    meeting = _meeting(admin, sandbox, "all-hands", join=("alice",))
    _record(admin_client, meeting, estate["bucket"])
    sandbox.advance(6)
    _follow_until(lambda: CapturePipeline.objects.get(meeting=meeting).status == CapturePipeline.Status.IN_PROGRESS)
    assert admin_client.post(f"/meetings/{meeting.pk}/end/", {"confirm": "all-hands"}).status_code == 303
    assert _settled(_latest("meetings.end")).status == Operation.Status.SUCCEEDED
    sandbox.advance(4)
    _follow_until(lambda: CapturePipeline.objects.get(meeting=meeting).status == CapturePipeline.Status.STOPPED)

    empty = _meeting(admin, sandbox, "nobody-came")
    _record(admin_client, empty, estate["bucket"], stop_when_empty_minutes="5")
    capture = CapturePipeline.objects.get(meeting=empty)
    assert captures_enforce_policies() == 0  # five minutes have not passed
    CapturePipeline.objects.filter(pk=capture.pk).update(created_at=capture.created_at - timedelta(minutes=6))
    assert captures_enforce_policies() == 1
    stop = _settled(_latest("pipelines.stop"))
    assert (stop.actor_name, stop.status) == ("scheduler", Operation.Status.SUCCEEDED)
    assert "nobody joined within 5 minutes" in AuditEntry.objects.filter(operation=stop).first().summary
    sandbox.advance(4)
    _follow_until(lambda: _capture(capture.pk).status == CapturePipeline.Status.STOPPED)
    assert captures_enforce_policies() == 0


def test_a_missing_bucket_or_meeting_gives_aws_error_next_to_the_action(admin, sandbox, estate):
    admin_client = login(admin)
    meeting = _meeting(admin, sandbox, "error-cases")
    failed = _record(admin_client, meeting, "no-such-bucket-anywhere")
    assert (failed.status, failed.error_code) == (Operation.Status.FAILED, "BadRequestException")
    capture = CapturePipeline.objects.get(meeting=meeting)
    assert capture.status == CapturePipeline.Status.FAILED
    assert "no-such-bucket-anywhere" in capture.failure
    progress = admin_client.get(f"/operations/{failed.pk}/", headers=HTMX).content.decode()
    assert "BadRequestException" in progress
    assert "no-such-bucket-anywhere" in progress

    sandbox_boto(sandbox.endpoint, "chime-sdk-meetings").delete_meeting(MeetingId=meeting.meeting_id)
    failed = _record(admin_client, meeting, estate["bucket"])  # the portal has not seen the meeting end yet
    assert (failed.status, failed.error_code) == (Operation.Status.FAILED, "BadRequestException")
    assert meeting.meeting_id in failed.error_message
    panel = admin_client.get(f"/pipelines/meetings/{meeting.pk}/capture/", headers=HTMX).content.decode()
    assert "BadRequestException" in panel
