"""Capture pipelines without AWS: state-change events (dispatch, dedupe, order), the one-capture rule, stops and
their states, policies, the start form's rules, the pages' permissions and query counts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.core.errors import Conflict, NotAllowedInState
from portal.core.events import events_dispatch
from portal.core.models import DeadLetter, Operation
from portal.meetings.models import Attendee, Meeting, MeetingEvent
from portal.pipelines.forms import CaptureStartForm
from portal.pipelines.models import Artifact, CapturePipeline, PipelineEvent
from portal.pipelines.services import (
    CaptureSpec,
    capture_start,
    capture_status_apply,
    capture_stop,
    captures_due_a_policy_stop,
)
from tests.conftest import login

pytestmark = pytest.mark.django_db
T0 = 1_790_000_000_000
HTMX = {"HX-Request": "true"}


@pytest.fixture
def meeting() -> Meeting:
    return Meeting.objects.create(
        meeting_id=str(uuid.uuid4()),
        external_meeting_id="standup",
        media_region="us-east-1",
        status="active",
        meeting_arn="arn:aws:chime:us-east-1:123456789012:meeting/x",
    )


def _capture(meeting: Meeting, status: str = "InProgress", **fields: object) -> CapturePipeline:
    fields.setdefault("media_pipeline_id", str(uuid.uuid4()))
    return CapturePipeline.objects.create(meeting=meeting, status=status, sink_bucket="recordings", **fields)


def _event(event_type: str, at: int, capture: CapturePipeline, **extra: str) -> str:
    detail = {"version": "0", "eventType": f"chime:{event_type}", "timestamp": at,
              "meetingId": capture.meeting.meeting_id if capture.meeting else "", "externalMeetingId": "standup",
              "mediaPipelineId": capture.media_pipeline_id, "mediaRegion": "us-east-1"}  # fmt: skip
    return json.dumps({"version": "0", "id": extra.get("id", str(uuid.uuid4())), "source": "aws.chime",
                       "detail-type": "Chime Media Pipeline State Change", "time": "", "region": "us-east-1",
                       "resources": [], "detail": detail})  # fmt: skip


def test_events_go_to_the_handler_of_their_detail_type(meeting):
    capture = _capture(meeting, status="Initializing")
    meeting_event = json.dumps({"id": "m-1", "detail-type": "Chime Meeting State Change", "detail": {
        "eventType": "chime:MeetingStarted", "timestamp": T0, "meetingId": meeting.meeting_id}})  # fmt: skip
    stranger = json.dumps({"id": "s-1", "detail-type": "Something Else", "detail": {}})
    messages = [(meeting_event, "1"), (_event("MediaPipelineInProgress", T0, capture), "2"), (stranger, "3")]
    assert events_dispatch(messages).outcomes == ["applied", "applied", "dead-letter"]
    assert MeetingEvent.objects.get().event_type == "MeetingStarted"
    assert CapturePipeline.objects.get(pk=capture.pk).status == "InProgress"
    assert "Something Else" in DeadLetter.objects.get().error


def test_pipeline_events_are_applied_once_and_never_backwards(meeting):
    capture = _capture(meeting, status="Initializing")
    started = _event("MediaPipelineInProgress", T0, capture, id="e-1")
    assert events_dispatch([(started, "1")]).outcomes == ["applied"]
    assert events_dispatch([(started, "1")]).outcomes == ["duplicate"]
    deleted = _event("MediaPipelineDeleted", T0 + 9000, capture)
    late = _event("MediaPipelineInProgress", T0 + 1000, capture)
    assert events_dispatch([(deleted, "2"), (late, "3")]).outcomes == ["applied", "applied"]
    capture.refresh_from_db()
    assert capture.status == "Stopped"  # the late InProgress is kept on the timeline, not applied
    assert capture.started_at == datetime.fromtimestamp(T0 / 1000, tz=UTC)
    assert capture.ended_at == datetime.fromtimestamp((T0 + 9000) / 1000, tz=UTC)
    assert PipelineEvent.objects.filter(pipeline=capture).count() == 3


def test_an_unknown_pipeline_is_ignored_and_one_being_created_waits(meeting):
    capture = _capture(meeting, status="requested")
    unknown = _event("MediaPipelineInProgress", T0, capture)
    CapturePipeline.objects.filter(pk=capture.pk).update(media_pipeline_id=None)
    assert events_dispatch([(unknown, "1")]).outcomes == ["deferred"]  # its creation is not recorded yet
    CapturePipeline.objects.filter(pk=capture.pk).update(status="Failed")
    assert events_dispatch([(unknown, "1")]).outcomes == ["ignored"]
    assert events_dispatch([("{not json", "2")]).outcomes == ["dead-letter"]


def test_one_capture_per_meeting_is_said_before_anything_is_queued(admin, meeting):
    _capture(meeting)
    with pytest.raises(Conflict, match="already being recorded"):
        capture_start(actor=admin, meeting=meeting, spec=CaptureSpec(bucket="recordings"))
    assert not Operation.objects.filter(kind="pipelines.start").exists()
    page = login(admin).get(f"/pipelines/meetings/{meeting.pk}/record/").content.decode()
    assert 'id="capture-running"' in page


def test_start_records_the_operation_with_the_aws_request(admin, meeting, django_capture_on_commit_callbacks):
    spec = CaptureSpec(bucket="recordings", prefix="calls", video=True, content=False, external_user_ids=["alice"],
                       tags={"case": "7"}, stop_when_empty_minutes=5)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        operation = capture_start(actor=admin, meeting=meeting, spec=spec)
    p = operation.parameters
    assert p["sink_arn"] == "arn:aws:s3:::recordings/calls"
    assert p["source_arn"] == f"arn:aws:chime::123456789012:meeting:{meeting.meeting_id}"
    artifacts = {"Audio": {"MuxType": "AudioOnly"}, "Video": {"State": "Enabled", "MuxType": "VideoOnly"},
                 "Content": {"State": "Disabled"}}  # fmt: skip
    assert p["configuration"] == {
        "ArtifactsConfiguration": artifacts,
        "SourceConfiguration": {"SelectedVideoStreams": {"ExternalUserIds": ["alice"]}},
    }
    assert CapturePipeline.objects.get().status == "requested"
    assert operation.resource == CapturePipeline.objects.get()


def test_a_stop_is_asked_once_and_only_of_a_running_capture(admin, meeting, django_capture_on_commit_callbacks):
    starting = _capture(meeting, status="requested", media_pipeline_id=None)
    with pytest.raises(NotAllowedInState, match="still being created"):
        capture_stop(actor=admin, capture=starting)
    CapturePipeline.objects.filter(pk=starting.pk).update(status="Stopped")
    capture = _capture(meeting)
    with django_capture_on_commit_callbacks(execute=False):
        capture_stop(actor=admin, capture=capture)
    capture.refresh_from_db()
    assert capture.is_stopping
    with pytest.raises(NotAllowedInState, match="already asked"):
        capture_stop(actor=admin, capture=capture)


def test_status_follows_aws_forward_only(meeting):
    capture = _capture(meeting, status="Stopping", status_at=timezone.now())
    assert not capture_status_apply(capture=capture, status="InProgress", at=timezone.now() + timedelta(seconds=5))
    assert capture_status_apply(capture=capture, status="Stopped", at=timezone.now() - timedelta(seconds=5))
    assert CapturePipeline.objects.get(pk=capture.pk).status == "Stopped"


def test_policies_stop_empty_and_overlong_captures(meeting):
    now = timezone.now()
    empty = _capture(meeting, stop_when_empty_minutes=5)
    other = Meeting.objects.create(meeting_id=str(uuid.uuid4()), external_meeting_id="b", media_region="us-east-1")
    joined = _capture(other, stop_when_empty_minutes=5)
    third = Meeting.objects.create(meeting_id=str(uuid.uuid4()), external_meeting_id="c", media_region="us-east-1")
    long = _capture(third, max_duration_minutes=60)
    CapturePipeline.objects.update(created_at=now - timedelta(minutes=61))
    Attendee.objects.create(meeting=other, attendee_id="a-1", external_user_id="alice", joined_at=now)
    due = {stop.capture.pk: stop.why for stop in captures_due_a_policy_stop(now=now)}
    assert due == {
        empty.pk: "policy: nobody joined within 5 minutes",
        long.pk: "policy: maximum duration of 1 hour",
    }
    assert joined.pk not in due


def test_the_start_form_refuses_what_aws_would(meeting, settings):
    settings.CAPTURE_SINK_BUCKETS = ["recordings"]
    Attendee.objects.create(meeting=meeting, attendee_id="a-1", external_user_id="alice")
    data = {"bucket": "recordings", "prefix": "bad prefix!", "audio_mux": "AudioOnly", "video": "",
            "video_streams": "a-1\nbob"}  # fmt: skip
    form = CaptureStartForm(data, meeting=meeting)
    assert not form.is_valid()
    assert "prefix" in form.errors
    assert form.errors["video_streams"] == ["Chosen video streams need Video on."]
    many = "\n".join(f"user-{n}" for n in range(26))
    form = CaptureStartForm(data | {"prefix": "ok", "video": "on", "video_streams": many}, meeting=meeting)
    assert form.errors["video_streams"] == ["At most 25 video streams; 26 are listed."]
    form = CaptureStartForm(data | {"prefix": "ok/calls", "video": "on"}, meeting=meeting)
    assert form.is_valid(), form.errors
    spec = form.spec({})
    assert (spec.attendee_ids, spec.external_user_ids, spec.prefix) == (["a-1"], ["bob"], "ok/calls")


def test_the_meeting_panel_offers_what_each_role_may_do(admin, support, viewer, meeting):
    capture = _capture(meeting)
    assert 'id="capture-stop"' in login(support).get(f"/meetings/{meeting.pk}/").content.decode()
    page = login(viewer).get(f"/meetings/{meeting.pk}/").content.decode()
    assert f'href="/pipelines/{capture.pk}/"' in page
    assert 'id="capture-stop"' not in page
    CapturePipeline.objects.filter(pk=capture.pk).update(status="Stopped")
    assert 'id="capture-start"' in login(admin).get(f"/meetings/{meeting.pk}/").content.decode()
    assert login(viewer).post(f"/pipelines/{capture.pk}/stop/").status_code == 403


def test_the_list_and_the_meetings_column_cost_the_same_queries_whatever_the_rows(admin, meeting):
    client = login(admin)
    client.get("/pipelines/")
    _capture(meeting)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as counted:
            assert client.get(url).status_code == 200
        return len(counted)

    few = (queries("/pipelines/"), queries("/meetings/"))
    for n in range(30):
        other = Meeting.objects.create(meeting_id=str(uuid.uuid4()), external_meeting_id=f"m{n}", media_region="x")
        capture = _capture(other, status="Stopped")
        Artifact.objects.create(pipeline=capture, key=f"{n}/audio/x.mp4", folder="audio", size=5)
    assert (queries("/pipelines/"), queries("/meetings/")) == few
    listing = client.get("/meetings/").content.decode()
    assert listing.count('data-capture="running"') == 1


def test_htmx_answers_the_panel_and_varies_on_it(admin, meeting):
    capture = _capture(meeting, status="Stopped")
    response = login(admin).get(f"/pipelines/{capture.pk}/?panel=status", headers=HTMX)
    assert response.status_code == 286  # Stopped: nothing more will change, polling stops
    assert 'id="capture-status"' in response.content.decode()
    assert "<html" not in response.content.decode()
    full = login(admin).get(f"/pipelines/{capture.pk}/")
    assert "HX-Request" in full["Vary"]


def test_reconciliation_records_pipelines_found_in_aws_and_gone_from_it(aws_endpoint, sandbox, meeting):
    from portal.core.models import Drift
    from portal.pipelines.refresh import pipelines_refresh
    from tests.conftest import sandbox_boto

    sandbox.quotas(enabled=False)
    s3, chime = sandbox_boto(sandbox.endpoint, "s3"), sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    aws = sandbox_boto(sandbox.endpoint, "chime-sdk-media-pipelines")
    s3.create_bucket(Bucket="elsewhere")
    made = chime.create_meeting(ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="xx")
    outside = aws.create_media_capture_pipeline(
        SourceType="ChimeSdkMeeting", SourceArn=made["Meeting"]["MeetingArn"], SinkType="S3Bucket",
        SinkArn="arn:aws:s3:::elsewhere",
    )["MediaCapturePipeline"]  # fmt: skip
    lost = _capture(meeting, changed_at=timezone.now() - timedelta(minutes=1))
    assert pipelines_refresh() == {"checked": 0, "changed": 0, "skipped": 0, "gone": 1, "found": 1}
    found = CapturePipeline.objects.get(media_pipeline_id=outside["MediaPipelineId"])
    assert (found.origin, found.status) == ("found", "Initializing")
    assert CapturePipeline.objects.get(pk=lost.pk).status == "gone"
    assert set(Drift.objects.values_list("kind", "change", "object_id")) == {
        ("pipeline", "found", found.pk),
        ("pipeline", "gone", lost.pk),
    }
    pipelines_refresh()
    assert Drift.objects.count() == 2  # seen again: the open records are touched, not doubled
    found.refresh_from_db()
    assert (found.sink_bucket, found.artifact_prefix) == ("elsewhere", "")  # described from GetMediaCapturePipeline
