"""Drift: reconciliation records what differs between the registry and AWS; the Drift page resolves it, audited."""

from __future__ import annotations

import json

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from portal.core.drift import ENDED as DRIFT_ENDED
from portal.core.drift import drift_changed, drift_found, drift_gone, drift_settle
from portal.core.models import AuditEntry, Drift, Operation
from portal.core.overview import drift_figures
from portal.meetings.models import Meeting
from portal.meetings.refresh import meetings_refresh
from portal.stages.models import Stage
from tests.conftest import login, sandbox_boto
from tests.factories import StageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ivs(sandbox, aws_endpoint):
    sandbox.quotas(enabled=False)
    return sandbox_boto(sandbox.endpoint, "ivs-realtime")


def _sync(client, capture) -> Operation:
    with capture(execute=True):
        assert client.post("/stages/sync/").status_code == 303
    return Operation.objects.filter(kind="stages.sync").first()


def _open(**filters: object) -> list[Drift]:
    return list(Drift.objects.filter(resolved_at__isnull=True, **filters).order_by("change", "field"))


def test_one_open_record_per_field_touched_again_then_settled_by_equal_values():
    stage = StageFactory(name="portal-name")
    drift_changed(stage, "name", portal="portal-name", aws="aws-name")
    first = Drift.objects.get()
    drift_changed(stage, "name", portal="portal-name", aws="newer-aws-name")
    record = Drift.objects.get()
    assert (record.pk, record.aws_value, record.kind, record.change) == (first.pk, "newer-aws-name", "stage", "changed")
    assert record.last_seen > first.last_seen
    drift_changed(stage, "name", portal="portal-name", aws="portal-name")
    record.refresh_from_db()
    assert (record.resolution, record.resolved_by, record.is_open) == ("settled", None, False)
    drift_changed(stage, "name", portal="portal-name", aws="again")
    assert Drift.objects.count() == 2
    assert len(_open()) == 1


def test_found_and_gone_are_one_record_each_and_settle_clears_only_the_field_asked():
    stage = StageFactory()
    drift_found(stage)
    drift_found(stage)
    drift_gone(stage)
    drift_changed(stage, "tags", portal={"a": "1"}, aws={})
    assert [(r.change, r.field) for r in _open()] == [("changed", "tags"), ("found", ""), ("gone", "")]
    drift_settle(stage, "")
    assert [(r.change, r.field) for r in _open()] == [("changed", "tags")]
    drift_settle(stage)
    assert _open() == []


def test_a_sync_records_found_changed_and_gone_and_never_overwrites_the_portals_values(
    ivs, support, django_capture_on_commit_callbacks
):
    client = login(support)
    kept = ivs.create_stage(name="kept", tags={"team": "a"})["stage"]
    doomed = ivs.create_stage(name="doomed")["stage"]
    _sync(client, django_capture_on_commit_callbacks)
    assert {r.label for r in _open(change="found")} == {"kept", "doomed"}

    ivs.update_stage(arn=kept["arn"], name="renamed-outside")
    ivs.tag_resource(resourceArn=kept["arn"], tags={"owner": "cli"})
    ivs.delete_stage(arn=doomed["arn"])
    sync = _sync(client, django_capture_on_commit_callbacks)
    assert (sync.result["changed"], sync.result["gone"]) == (2, 1)
    stage = Stage.objects.get(arn=kept["arn"])
    assert (stage.name, stage.tags) == ("kept", {"team": "a"})  # the portal's values stay until someone adopts
    changed = {r.field: (r.portal_value, r.aws_value) for r in _open(change="changed")}
    assert changed == {"name": ("kept", "renamed-outside"), "tags": ({"team": "a"}, {"team": "a", "owner": "cli"})}
    assert Stage.objects.get(arn=doomed["arn"]).status == Stage.Status.GONE
    assert [r.label for r in _open(change="gone")] == ["doomed"]

    ivs.update_stage(arn=kept["arn"], name="kept")  # put back outside the portal: they agree again
    _sync(client, django_capture_on_commit_callbacks)
    assert [r.field for r in _open(change="changed")] == ["tags"]
    assert Drift.objects.get(field="name").resolution == "settled"


def test_the_drift_page_adopts_reapplies_and_marks_gone_each_audited(
    ivs, admin, support, viewer, django_capture_on_commit_callbacks
):
    client = login(admin)
    arn = ivs.create_stage(name="shared", tags={"team": "a"})["stage"]["arn"]
    gone_arn = ivs.create_stage(name="short-lived")["stage"]["arn"]
    _sync(client, django_capture_on_commit_callbacks)
    ivs.update_stage(arn=arn, name="renamed-outside")
    ivs.tag_resource(resourceArn=arn, tags={"owner": "cli"})
    ivs.delete_stage(arn=gone_arn)
    _sync(client, django_capture_on_commit_callbacks)

    page = login(viewer).get("/drift/").content.decode()
    assert '<section class="card" id="drift-stage">' in page
    assert "renamed-outside" in page
    assert "owner: cli" in page
    assert "Re-apply the portal" not in page  # a viewer sees the differences, not the actions
    assert login(viewer).post(f"/drift/{_open(field='name')[0].pk}/resolve/", {"action": "adopt"}).status_code == 403
    page = login(support).get("/drift/?kind=stage").content.decode()
    assert "Keep in the portal" in page
    assert "Mark gone" in page
    assert "Re-apply the portal" not in page  # re-applying is a change in AWS: Admins only
    page = client.get("/drift/?kind=stage").content.decode()
    assert "Re-apply the portal&#x27;s value" in page

    found = _open(change="found", label="shared")[0]
    assert client.post(f"/drift/{found.pk}/resolve/", {"action": "keep"}).status_code == 303
    tags = _open(field="tags")[0]
    assert client.post(f"/drift/{tags.pk}/resolve/", {"action": "adopt"})["Location"] == "/drift/"
    name = _open(field="name")[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/drift/{name.pk}/resolve/", {"action": "reapply"})
    reapplied = Operation.objects.get(kind="stages.rename")
    assert (response.status_code, response["Location"]) == (303, f"/operations/{reapplied.pk}/")
    assert reapplied.status == Operation.Status.SUCCEEDED
    assert ivs.get_stage(arn=arn)["stage"]["name"] == "shared"
    gone = _open(change="gone")[0]
    assert client.post(f"/drift/{gone.pk}/resolve/", {"action": "mark_gone"}).status_code == 303

    stage = Stage.objects.get(arn=arn)
    assert (stage.name, stage.tags) == ("shared", {"team": "a", "owner": "cli"})
    resolved = {(r.label, r.change, r.field): (r.resolution, r.resolved_by) for r in Drift.objects.exclude(label="")}
    assert resolved[("shared", "found", "")] == ("kept", admin)
    assert resolved[("shared", "changed", "tags")] == ("adopted", admin)
    assert resolved[("shared", "changed", "name")] == ("reapplied", admin)
    assert resolved[("short-lived", "gone", "")] == ("marked_gone", admin)
    entries = AuditEntry.objects.filter(kind__startswith="drift.").order_by("id")
    assert [(e.actor_name, e.kind, e.resource_name) for e in entries] == [
        (admin.username, "drift.keep", "shared"),
        (admin.username, "drift.adopt", "shared"),
        (admin.username, "drift.reapply", "shared"),
        (admin.username, "drift.mark_gone", "short-lived"),
    ]
    assert entries[2].operation == reapplied
    refused = client.post(f"/drift/{gone.pk}/resolve/", {"action": "mark_gone"})
    assert "already resolved" in refused.content.decode()
    _sync(client, django_capture_on_commit_callbacks)
    assert _open(label="short-lived") == []
    assert _open(label="shared") == []


def test_reapplying_tags_makes_awss_tags_the_portals_again(ivs, admin, django_capture_on_commit_callbacks):
    client = login(admin)
    arn = ivs.create_stage(name="tagged", tags={"team": "a", "env": "prod"})["stage"]["arn"]
    _sync(client, django_capture_on_commit_callbacks)
    ivs.untag_resource(resourceArn=arn, tagKeys=["env"])
    ivs.tag_resource(resourceArn=arn, tags={"team": "b", "owner": "cli"})
    _sync(client, django_capture_on_commit_callbacks)
    record = _open(field="tags")[0]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/drift/{record.pk}/resolve/", {"action": "reapply"})
    operation = Operation.objects.get(kind="stages.tags_put")
    assert (operation.status, operation.result["removed"]) == ("succeeded", ["owner"])
    assert ivs.get_stage(arn=arn)["stage"]["tags"] == {"team": "a", "env": "prod"}
    _sync(client, django_capture_on_commit_callbacks)
    assert _open(field="tags") == []


def test_a_meeting_aws_ended_is_gone_drift_and_marking_it_gone_resolves_it(
    admin, support, aws_endpoint, sandbox, django_capture_on_commit_callbacks
):
    sandbox.quotas(enabled=False)
    form = {"external_meeting_id": "standup", "media_region": "us-east-1", "attendee_lines": "",
            "audio": "SendReceive", "video": "SendReceive", "content": "SendReceive",
            "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        login(admin).post("/meetings/new/", form)
    meeting = Meeting.objects.get()
    sandbox_boto(sandbox.endpoint, "chime-sdk-meetings").delete_meeting(MeetingId=meeting.meeting_id)
    assert meetings_refresh()["ended"] == 1
    record = Drift.objects.get()
    assert (record.kind, record.change, record.label, record.row) == ("meeting", "gone", "standup", meeting)
    page = login(support).get("/drift/?kind=meeting").content.decode()
    assert '<section class="card" id="drift-meeting">' in page
    assert "Adopt AWS" not in page
    login(support).post(f"/drift/{record.pk}/resolve/", {"action": "mark_gone"})
    record.refresh_from_db()
    assert (record.resolution, record.resolved_by) == ("marked_gone", support)
    assert Meeting.objects.get().status == Meeting.Status.ENDED


def test_open_drift_is_a_figure_on_the_overview(viewer):
    drift_gone(StageFactory(name="vanished", status=Stage.Status.GONE))
    page = login(viewer).get("/").content.decode()
    assert "Open drift" in page
    assert 'href="/drift/"' in page


def test_a_listing_that_agrees_with_the_registry_costs_the_same_queries_for_few_or_many_stages():
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from portal.stages.services import stages_reconcile

    def reconcile_queries(count: int) -> int:
        stages = [StageFactory(name=f"agree-{n}", tags={"team": "a"}) for n in range(len(Stage.objects.all()), count)]
        assert stages or count == 0
        listed = [{"arn": s.arn, "name": s.name, "tags": s.tags} for s in Stage.objects.all()]
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            stages_reconcile(listed=listed, region="us-east-1")
        return len(queries)

    assert reconcile_queries(3) == reconcile_queries(30)
    assert _open() == []


# --- each resolution says what it did; a removed resource's drift settles --------------------------------------------


def _resolve(client, record: Drift, action: str, capture) -> str:
    """Post the resolution as the page's button does and answer the page the person lands on."""
    with capture(execute=True):
        response = client.post(f"/drift/{record.pk}/resolve/", {"action": action}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_each_resolution_confirms_it_naming_the_resource_and_its_audit_entry_says_the_same(
    ivs, admin, django_capture_on_commit_callbacks
):
    client = login(admin)
    arn = ivs.create_stage(name="shared", tags={"team": "a"})["stage"]["arn"]
    gone_arn = ivs.create_stage(name="short-lived")["stage"]["arn"]
    _sync(client, django_capture_on_commit_callbacks)
    ivs.update_stage(arn=arn, name="renamed-outside")
    ivs.tag_resource(resourceArn=arn, tags={"owner": "cli"})
    ivs.delete_stage(arn=gone_arn)
    _sync(client, django_capture_on_commit_callbacks)

    kept = _resolve(client, _open(change="found", label="shared")[0], "keep", django_capture_on_commit_callbacks)
    assert "Kept shared in the portal, as found in AWS." in kept
    adopted = _resolve(client, _open(field="tags")[0], "adopt", django_capture_on_commit_callbacks)
    assert "Adopted AWS&#x27;s tags for shared: team: a · owner: cli (the portal had team: a)." in adopted
    reapplied = _resolve(client, _open(field="name")[0], "reapply", django_capture_on_commit_callbacks)
    assert "Re-applying the portal&#x27;s name to shared in AWS: shared (AWS had renamed-outside)." in reapplied
    marked = _resolve(client, _open(change="gone")[0], "mark_gone", django_capture_on_commit_callbacks)
    assert "Marked short-lived gone: it no longer exists in AWS." in marked

    entries = AuditEntry.objects.filter(kind__startswith="drift.").order_by("id")
    assert [(e.kind, e.summary) for e in entries] == [
        ("drift.keep", "Kept shared in the portal, as found in AWS."),
        ("drift.adopt", "Adopted AWS's tags for shared: team: a · owner: cli (the portal had team: a)."),
        ("drift.reapply", "Re-applying the portal's name to shared in AWS: shared (AWS had renamed-outside)."),
        ("drift.mark_gone", "Marked short-lived gone: it no longer exists in AWS."),
    ]
    audit = client.get("/audit/").content.decode()
    assert "Kept shared in the portal, as found in AWS." in audit
    assert "Adopt AWS&#x27;s value: shared: found in aws" not in audit
    assert Drift.objects.get(change="found", label="shared").resolution == Drift.Resolution.KEPT


def test_the_drift_page_polls_its_records_and_answers_htmx_with_them_only(viewer):
    drift_gone(StageFactory(name="vanished", status=Stage.Status.GONE))
    client = login(viewer)
    page = client.get("/drift/?kind=stage")
    assert 'id="drift-records" hx-get="/drift/?kind=stage" hx-trigger="every 10s"' in page.content.decode()
    assert "HX-Request" in page["Vary"]
    drift_gone(StageFactory(name="also-vanished", status=Stage.Status.GONE))
    records = client.get("/drift/?kind=stage", headers={"HX-Request": "true"}).content.decode()
    assert records.strip().startswith('<div id="drift-records"')
    assert "also-vanished" in records
    assert "<html" not in records


def _settled_by_the_portal(row: object) -> None:
    records = list(Drift.objects.filter(content_type=ContentType.objects.get_for_model(row), object_id=row.pk))
    assert records
    assert [record for record in records if record.is_open] == []
    assert {record.resolution for record in records} == {Drift.Resolution.SETTLED}
    assert all(record.reason.startswith("Removed through the portal by ") for record in records)
    assert [figure.value for figure in drift_figures()] == [0]


def test_a_channel_found_outside_then_deleted_by_a_cleanup_run_is_settled_and_no_longer_counted(
    admin, aws_endpoint, sandbox, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from portal.channels.models import Channel
    from portal.channels.refresh import channels_refresh
    from portal.cleanup.models import CleanupPolicy, CleanupRun
    from portal.cleanup.services import cleanup_run
    from portal.core.models import RefresherState

    sandbox.quotas(enabled=False)
    kvs = sandbox_boto(sandbox.endpoint, "kinesisvideo")
    kvs.create_signaling_channel(ChannelName="stray-cam")
    channels_refresh()
    channel = Channel.objects.get(name="stray-cam")
    assert [(r.change, r.label) for r in _open()] == [("found", "stray-cam")]
    sandbox.advance(30)
    channels_refresh()
    Channel.objects.filter(pk=channel.pk).update(aws_created_at=timezone.now() - timedelta(days=3))
    policy = CleanupPolicy.objects.create(name="strays", kind="channel", origin="found", condition="older_than",
                                          amount=2, unit="days", max_actions=5)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        run = cleanup_run(policy=policy, actor=None, trigger=CleanupRun.Trigger.SCHEDULED)
    assert run.items.get().state == "acted"
    _settled_by_the_portal(channel)
    sandbox.advance(30)
    RefresherState.objects.filter(name="channels").update(listed_at=None)
    channels_refresh()  # AWS finished deleting it: nothing opens again
    assert Channel.objects.get(pk=channel.pk).status == Channel.Status.DELETED
    assert _open() == []


def test_a_stage_found_and_renamed_outside_then_deleted_through_the_portal_is_settled(
    ivs, admin, django_capture_on_commit_callbacks
):
    from portal.stages.services import stage_delete

    client = login(admin)
    arn = ivs.create_stage(name="stray")["stage"]["arn"]
    _sync(client, django_capture_on_commit_callbacks)
    ivs.update_stage(arn=arn, name="stray-renamed")
    _sync(client, django_capture_on_commit_callbacks)
    stage = Stage.objects.get(arn=arn)
    assert [(r.change, r.field) for r in _open()] == [("changed", "name"), ("found", "")]
    with django_capture_on_commit_callbacks(execute=True):
        stage_delete(actor=admin, stage=stage)
    assert Stage.objects.get(pk=stage.pk).status == Stage.Status.DELETED
    _settled_by_the_portal(stage)
    _sync(client, django_capture_on_commit_callbacks)
    assert _open() == []


def test_a_meeting_found_through_its_events_then_ended_through_the_portal_is_settled(
    admin, aws_endpoint, sandbox, django_capture_on_commit_callbacks
):
    import uuid

    from portal.meetings.services import meeting_end

    sandbox.quotas(enabled=False)
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    made = chime.create_meeting(
        ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="stray-room"
    )
    meeting = Meeting.objects.create(meeting_id=made["Meeting"]["MeetingId"], external_meeting_id="stray-room",
                                     media_region="us-east-1", status="active", origin="found")  # fmt: skip
    drift_found(meeting)  # as the events consumer records a meeting it had not created
    with django_capture_on_commit_callbacks(execute=True):
        meeting_end(actor=admin, meeting=meeting, reason="not ours")
    assert Meeting.objects.get(pk=meeting.pk).status == Meeting.Status.ENDED
    _settled_by_the_portal(meeting)


def test_a_capture_found_in_aws_then_stopped_through_the_portal_is_settled(
    admin, aws_endpoint, sandbox, django_capture_on_commit_callbacks
):
    import uuid

    from portal.pipelines.models import CapturePipeline
    from portal.pipelines.refresh import pipelines_refresh
    from portal.pipelines.services import capture_stop

    sandbox.quotas(enabled=False)
    s3, chime = sandbox_boto(sandbox.endpoint, "s3"), sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    s3.create_bucket(Bucket="elsewhere")
    made = chime.create_meeting(ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="xx")
    sandbox_boto(sandbox.endpoint, "chime-sdk-media-pipelines").create_media_capture_pipeline(
        SourceType="ChimeSdkMeeting", SourceArn=made["Meeting"]["MeetingArn"], SinkType="S3Bucket",
        SinkArn="arn:aws:s3:::elsewhere",
    )  # fmt: skip
    pipelines_refresh()
    sandbox.advance(10)
    pipelines_refresh()
    capture = CapturePipeline.objects.get(origin="found")
    assert capture.status in CapturePipeline.RUNNING
    with django_capture_on_commit_callbacks(execute=True):
        capture_stop(actor=admin, capture=capture, why="not ours")
    _settled_by_the_portal(capture)
    sandbox.advance(10)
    pipelines_refresh()
    assert _open() == []


def test_a_found_channel_aws_finishes_deleting_is_settled_by_the_listing(aws_endpoint, sandbox):
    from portal.channels.models import Channel
    from portal.channels.refresh import channels_refresh
    from portal.core.models import RefresherState

    sandbox.quotas(enabled=False)
    kvs = sandbox_boto(sandbox.endpoint, "kinesisvideo")
    arn = kvs.create_signaling_channel(ChannelName="stray-cam")["ChannelARN"]
    channels_refresh()
    sandbox.advance(30)
    channels_refresh()
    version = kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["Version"]
    kvs.delete_signaling_channel(ChannelARN=arn, CurrentVersion=version)
    RefresherState.objects.filter(name="channels").update(listed_at=None)
    channels_refresh()  # listed as DELETING
    assert Channel.objects.get(arn=arn).status == Channel.Status.DELETING
    sandbox.advance(30)
    RefresherState.objects.filter(name="channels").update(listed_at=None)
    channels_refresh()  # no longer listed: deleted, and nothing differs
    assert Channel.objects.get(arn=arn).status == Channel.Status.DELETED
    assert _open() == []
    assert Drift.objects.get().reason == "AWS finished deleting it: neither AWS nor the portal has it any more."


def test_a_meeting_found_through_its_events_then_ended_by_aws_is_settled():
    from portal.core.events import event_apply

    meeting = Meeting.objects.create(meeting_id="m-stray", external_meeting_id="stray-room", media_region="us-east-1",
                                     status="active", origin="found")  # fmt: skip
    drift_found(meeting)
    body = json.dumps({"id": "ended-1", "detail-type": "Chime Meeting State Change", "source": "aws.chime",
                       "detail": {"eventType": "chime:MeetingEnded", "timestamp": 1_800_000_000_000,
                                  "meetingId": "m-stray", "externalMeetingId": "stray-room"}})  # fmt: skip
    assert event_apply(body=body) == "applied"
    record = Drift.objects.get(object_id=meeting.pk)
    assert (record.resolution, record.reason) == (Drift.Resolution.SETTLED, DRIFT_ENDED)
    assert drift_figures()[0].value == 0


def test_a_capture_found_in_aws_that_stops_there_is_settled():
    from portal.pipelines.models import CapturePipeline
    from portal.pipelines.services import capture_status_apply

    capture = CapturePipeline.objects.create(media_pipeline_id="p-stray", status="InProgress", origin="found")
    drift_found(capture)
    assert capture_status_apply(capture=capture, status="Stopped", at=timezone.now())
    record = Drift.objects.get(object_id=capture.pk)
    assert (record.resolution, record.reason) == (Drift.Resolution.SETTLED, DRIFT_ENDED)
