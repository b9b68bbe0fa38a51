"""Protection as AWS sees it, per cleanup kind against the sandbox (operations run eagerly): a resource tagged
rtc-portal:keep directly in AWS after the portal last read it survives a run that matches it, its report says why,
the tag is recorded and audited, and the next preview knows it; an untagged one is still acted on; a tag read that
fails leaves the resource; a person's deletion is not refused by the tag."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from portal.channels.models import Channel
from portal.cleanup.models import CleanupPolicy, CleanupRun
from portal.cleanup.services import cleanup_plan, cleanup_run
from portal.core.models import AuditEntry, Drift
from portal.core.protection import PROTECTION_TAG
from portal.meetings.models import Meeting
from portal.pipelines.models import CapturePipeline
from portal.stages.models import ParticipantToken, Stage
from portal.stages.services import stage_delete, stages_reconcile
from rtc_sandbox.client import SandboxControlError
from tests.conftest import login, sandbox_boto
from tests.factories import ParticipantTokenFactory

pytestmark = pytest.mark.django_db

KEPT_AT_RUN_TIME = f"skipped: protected in AWS: tagged {PROTECTION_TAG}=ops when it ran, not adopted"
SEEN_IN_AWS = f"protected in AWS: tagged {PROTECTION_TAG}, not adopted"


@pytest.fixture
def ivs(sandbox, aws_endpoint):
    sandbox.quotas(enabled=False)
    return sandbox_boto(sandbox.endpoint, "ivs-realtime")


def _stages(ivs, *names: str) -> dict[str, Stage]:
    """Stages made in the sandbox and brought into the registry (ListStages, as the refresh does), two days old."""
    for name in names:
        ivs.create_stage(name=name)
    with transaction.atomic():
        stages_reconcile(listed=ivs.list_stages()["stages"], region="us-east-1")
    Stage.objects.update(created_at=timezone.now() - timedelta(days=2))
    return {stage.name: stage for stage in Stage.objects.all()}


def _run(policy: CleanupPolicy, admin, capture, **kwargs: object) -> CleanupRun:
    with capture(execute=True):
        return cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL, **kwargs)


def _states(run: CleanupRun) -> dict[str, str]:
    return {item.label: item.state for item in run.items.select_related("operation")}


def _kept_as_reported(run: CleanupRun, label: str, admin, asked: str) -> None:
    """The run's report and the audit log say the resource was kept, protected in AWS when the run acted."""
    item = run.items.get(label=label)
    report = login(admin).get(f"/cleanup/runs/{run.pk}/").content.decode()
    row = report.split(f'id="item-{item.pk}"', 1)[1].split("</tr>", 1)[0]
    assert row.startswith(' data-state="protected"')
    assert "Kept: protected in AWS" in row
    assert KEPT_AT_RUN_TIME in row
    entry = AuditEntry.objects.get(kind="protection.kept")
    assert (entry.operation_id, entry.actor_name) == (item.operation_id, admin.username)
    assert (entry.summary, entry.detail) == (
        f"Not done: {asked}",
        f"{KEPT_AT_RUN_TIME}; AWS's tags: {PROTECTION_TAG}=ops",
    )


def _tags_recorded(row: object) -> None:
    """The portal recorded the tags it saw as drift on the row, not adopted."""
    record = Drift.objects.get(object_id=row.pk, field="tags", resolved_at__isnull=True)
    assert (record.change, record.aws_value) == ("changed", {PROTECTION_TAG: "ops"})
    assert PROTECTION_TAG not in type(row).objects.get(pk=row.pk).tags


def test_a_stage_tagged_keep_in_aws_after_the_last_listing_survives_a_run_that_matches_it(
    ivs, admin, django_capture_on_commit_callbacks
):
    stages = _stages(ivs, "test-kept", "test-plain")
    kept = stages["test-kept"]
    ivs.tag_resource(resourceArn=kept.arn, tags={PROTECTION_TAG: "ops"})  # outside the portal, after its listing
    policy = CleanupPolicy.objects.create(name="old test stages", kind="stage", name_pattern="test-*",
                                          condition="older_than", amount=1, unit="days", max_actions=10)  # fmt: skip
    run = _run(policy, admin, django_capture_on_commit_callbacks)
    assert _states(run) == {"test-kept": "protected", "test-plain": "acted"}
    assert {stage["name"] for stage in ivs.list_stages()["stages"]} == {"test-kept"}
    assert Stage.objects.get(pk=kept.pk).status == Stage.Status.ACTIVE
    _kept_as_reported(run, "test-kept", admin, "Delete stage test-kept")
    _tags_recorded(kept)
    assert [(entry.label, entry.why) for entry in cleanup_plan(policy=policy, now=timezone.now()).skip] == [
        ("test-kept", f"{SEEN_IN_AWS} (found 2 days ago)")
    ]
    runs = login(admin).get("/cleanup/runs/").content.decode().split(f'id="run-{run.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "<td>1</td>\n      <td>1</td>" in runs  # one acted, one skipped

    with django_capture_on_commit_callbacks(execute=True):
        stage_delete(actor=admin, stage=Stage.objects.get(pk=kept.pk))  # by hand: the tag does not refuse it
    assert ivs.list_stages()["stages"] == []


def test_the_preview_counts_a_keep_tag_the_listing_saw_in_aws_as_protection(ivs, viewer):
    stage = _stages(ivs, "test-a")["test-a"]
    ivs.tag_resource(resourceArn=stage.arn, tags={PROTECTION_TAG: "1"})
    with transaction.atomic():
        stages_reconcile(listed=ivs.list_stages()["stages"], region="us-east-1")
    assert Stage.objects.get().tags == {}  # recorded as drift, not adopted
    policy = CleanupPolicy.objects.create(name="all test", kind="stage", name_pattern="test-*",
                                          condition="older_than", amount=1, unit="days", max_actions=10)  # fmt: skip
    page = login(viewer).get(f"/cleanup/{policy.pk}/preview/", headers={"HX-Request": "true"}).content.decode()
    assert 'data-act="0" data-skip="1"' in page
    assert f"{SEEN_IN_AWS} (found 2 days ago)" in page


def test_a_tag_read_that_fails_leaves_the_stage_and_fails_with_awss_code(
    ivs, sandbox, admin, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    settings.OPERATION_MAX_ATTEMPTS = 1
    _stages(ivs, "test-a")
    sandbox.inject_fault("ivs-realtime:ListTagsForResource", error=1.0)
    policy = CleanupPolicy.objects.create(name="old test stages", kind="stage", name_pattern="test-*",
                                          condition="older_than", amount=1, unit="days", max_actions=10)  # fmt: skip
    run = _run(policy, admin, django_capture_on_commit_callbacks)
    item = run.items.select_related("operation").get()
    assert item.state == "failed"
    assert item.failure[0] == "InternalServerException"
    assert [stage["name"] for stage in ivs.list_stages()["stages"]] == ["test-a"]
    assert Stage.objects.get().status == Stage.Status.ACTIVE


def test_a_token_whose_stage_is_tagged_keep_in_aws_is_not_revoked(
    ivs, sandbox, admin, django_capture_on_commit_callbacks
):
    stages = _stages(ivs, "kept", "plain")
    minted = {}
    for name, stage in stages.items():
        minted[name] = ivs.create_participant_token(stageArn=stage.arn, userId=f"guest-{name}")["participantToken"]
        ParticipantTokenFactory(stage=stage, user_id=f"guest-{name}", participant_id=minted[name]["participantId"],
                                expires_at=timezone.now() - timedelta(minutes=1))  # fmt: skip
    ivs.tag_resource(resourceArn=stages["kept"].arn, tags={PROTECTION_TAG: "ops"})
    policy = CleanupPolicy.objects.create(name="expired tokens", kind="token", condition="token_expired",
                                          max_actions=5)  # fmt: skip
    run = _run(policy, admin, django_capture_on_commit_callbacks)
    assert _states(run) == {"guest-kept": "protected", "guest-plain": "acted"}
    revoked = {token.user_id: token.revoked_at is not None for token in ParticipantToken.objects.all()}
    assert revoked == {"guest-kept": False, "guest-plain": True}
    sandbox.stage_join(minted["kept"]["token"])  # its token still joins
    with pytest.raises(SandboxControlError):
        sandbox.stage_join(minted["plain"]["token"])
    participant = minted["kept"]["participantId"]
    _kept_as_reported(
        run, "guest-kept", admin, f"Disconnect participant guest-kept ({participant}) from kept, token revoked"
    )
    _tags_recorded(stages["kept"])
    assert [(entry.label, entry.why[: len(SEEN_IN_AWS)]) for entry in cleanup_plan(policy=policy,
            now=timezone.now()).skip] == [("guest-kept", SEEN_IN_AWS)]  # fmt: skip


def test_a_channel_tagged_keep_in_aws_after_its_last_tag_read_is_not_deleted(
    aws_endpoint, sandbox, admin, django_capture_on_commit_callbacks
):
    sandbox.quotas(enabled=False)
    kvs = sandbox_boto(sandbox.endpoint, "kinesisvideo")
    channels = {}
    for name in ("test-kept", "test-plain"):
        arn = kvs.create_signaling_channel(ChannelName=name)["ChannelARN"]
        info = kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]
        channels[name] = Channel.objects.create(name=name, arn=arn, region="us-east-1", status="active",
                                                version=info["Version"], tags_read_at=timezone.now(),
                                                aws_created_at=timezone.now() - timedelta(days=3))  # fmt: skip
    kvs.tag_resource(ResourceARN=channels["test-kept"].arn, Tags=[{"Key": PROTECTION_TAG, "Value": "ops"}])
    sandbox.advance(30)  # the channels leave CREATING: AWS refuses to delete one before it is ACTIVE
    policy = CleanupPolicy.objects.create(name="old cams", kind="channel", name_pattern="test-*",
                                          condition="older_than", amount=2, unit="days", max_actions=5)  # fmt: skip
    run = _run(policy, admin, django_capture_on_commit_callbacks)
    assert _states(run) == {"test-kept": "protected", "test-plain": "acted"}
    statuses = {c["ChannelName"]: c["ChannelStatus"] for c in kvs.list_signaling_channels()["ChannelInfoList"]}
    assert statuses.get("test-kept") == "ACTIVE"
    assert statuses.get("test-plain", "DELETING") == "DELETING"
    kept = Channel.objects.get(pk=channels["test-kept"].pk)
    assert (kept.status, kept.drifted) == (Channel.Status.ACTIVE, ["tags"])
    _kept_as_reported(run, "test-kept", admin, f"Delete signaling channel test-kept (version {kept.version})")
    _tags_recorded(kept)
    skipped = {entry.label: entry.why for entry in cleanup_plan(policy=policy, now=timezone.now()).skip}
    assert skipped == {"test-kept": f"{SEEN_IN_AWS} (created 3 days ago)", "test-plain": "in transition: being deleted"}


MEETING = {"media_region": "us-east-1", "attendee_lines": "", "audio": "SendReceive", "video": "SendReceive",
           "content": "SendReceive", "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0"}  # fmt: skip


def test_a_meeting_tagged_keep_in_aws_is_not_ended(aws_endpoint, sandbox, admin, django_capture_on_commit_callbacks):
    sandbox.quotas(enabled=False)
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("kept", "plain"):
            client.post("/meetings/new/", MEETING | {"external_meeting_id": name})
    kept = Meeting.objects.get(external_meeting_id="kept")
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    chime.tag_resource(ResourceARN=kept.meeting_arn, Tags=[{"Key": PROTECTION_TAG, "Value": "ops"}])
    policy = CleanupPolicy.objects.create(name="idle meetings", kind="meeting", condition="idle_for", amount=10,
                                          unit="minutes", max_actions=5)  # fmt: skip
    later = timezone.now() + timedelta(minutes=11)
    run = _run(policy, admin, django_capture_on_commit_callbacks, now=later)
    assert _states(run) == {"kept": "protected", "plain": "acted"}
    assert chime.get_meeting(MeetingId=kept.meeting_id)["Meeting"]["ExternalMeetingId"] == "kept"
    with pytest.raises(chime.exceptions.NotFoundException):
        chime.get_meeting(MeetingId=Meeting.objects.get(external_meeting_id="plain").meeting_id)
    assert dict(Meeting.objects.values_list("external_meeting_id", "status")) == {"kept": "active", "plain": "ended"}
    _kept_as_reported(run, "kept", admin, f"End meeting kept ({kept.meeting_id})")
    _tags_recorded(kept)
    assert cleanup_plan(policy=policy, now=later).skip[0].why.startswith(SEEN_IN_AWS)


def test_a_capture_tagged_keep_in_aws_is_not_stopped(aws_endpoint, sandbox, admin, django_capture_on_commit_callbacks):
    sandbox.quotas(enabled=False)
    s3, chime = sandbox_boto(sandbox.endpoint, "s3"), sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    aws = sandbox_boto(sandbox.endpoint, "chime-sdk-media-pipelines")
    s3.create_bucket(Bucket="recordings")
    captures = {}
    for name in ("kept", "plain"):
        made = chime.create_meeting(ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1",
                                    ExternalMeetingId=name)["Meeting"]  # fmt: skip
        pipeline = aws.create_media_capture_pipeline(SourceType="ChimeSdkMeeting", SourceArn=made["MeetingArn"],
                                                     SinkType="S3Bucket", SinkArn="arn:aws:s3:::recordings",
                                                     )["MediaCapturePipeline"]  # fmt: skip
        meeting = Meeting.objects.create(meeting_id=made["MeetingId"], external_meeting_id=name, status="active",
                                         media_region="us-east-1", meeting_arn=made["MeetingArn"])  # fmt: skip
        captures[name] = CapturePipeline.objects.create(
            meeting=meeting, media_pipeline_id=pipeline["MediaPipelineId"], status="InProgress",
            sink_bucket="recordings", started_at=timezone.now() - timedelta(minutes=30),
            arn="" if name == "kept" else pipeline["MediaPipelineArn"],  # without one, GetMediaCapturePipeline's
        )  # fmt: skip
    kept_arn = aws.get_media_capture_pipeline(MediaPipelineId=captures["kept"].media_pipeline_id)
    aws.tag_resource(ResourceARN=kept_arn["MediaCapturePipeline"]["MediaPipelineArn"],
                     Tags=[{"Key": PROTECTION_TAG, "Value": "ops"}])  # fmt: skip
    policy = CleanupPolicy.objects.create(name="long captures", kind="capture", condition="running_longer_than",
                                          amount=10, unit="minutes", max_actions=5)  # fmt: skip
    run = _run(policy, admin, django_capture_on_commit_callbacks)
    assert _states(run) == {"kept": "protected", "plain": "acted"}
    status = {name: aws.get_media_capture_pipeline(MediaPipelineId=c.media_pipeline_id)["MediaCapturePipeline"]
              ["Status"] for name, c in captures.items()}  # fmt: skip
    assert status["kept"] not in ("Stopping", "Stopped")
    assert status["plain"] in ("Stopping", "Stopped")
    kept = CapturePipeline.objects.get(pk=captures["kept"].pk)
    assert (kept.status, kept.stop_operation_id, kept.stop_reason) == ("InProgress", None, "")
    why = run.items.get(label="kept").operation.parameters["why"]
    _kept_as_reported(run, "kept", admin, f"Stop capture {kept.media_pipeline_id} of meeting kept ({why})")
    _tags_recorded(kept)
    skipped = {entry.label: entry.why for entry in cleanup_plan(policy=policy, now=timezone.now()).skip}
    assert skipped == {"kept": f"{SEEN_IN_AWS} (recording for 30 minutes)", "plain": "in transition: being stopped"}
