"""Signaling channels through the portal's forms, services and refresher, against the sandbox (tasks run eagerly)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.channels.forms import ChannelCreateForm, FleetCreateForm, TtlForm, fleet_names
from portal.channels.models import Channel
from portal.channels.refresh import channels_refresh
from portal.channels.services import ChannelSpec, channel_update_ttl, channels_create_fleet
from portal.core.errors import Conflict
from portal.core.models import Operation, OperationBatch
from portal.core.services import operation_execute
from tests.conftest import login, sandbox_boto
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def _form(name: str = "door-cam", **extra: str) -> dict[str, str]:
    return {"name": name, "channel_type": "SINGLE_MASTER", "message_ttl": "30", "tags": "site=berlin", **extra}


@pytest.fixture
def quotas_off(sandbox):
    sandbox.quotas(enabled=False)


@pytest.fixture
def kvs(sandbox):
    return sandbox_boto(sandbox.endpoint, "kinesisvideo")


@pytest.fixture
def created(admin, aws_endpoint, quotas_off, django_capture_on_commit_callbacks):
    """A channel created through the form, its operation run, and the admin's client."""
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/channels/new/", _form())
    operation = Operation.objects.get(kind="channels.create")
    assert (response.status_code, response["Location"]) == (303, f"/operations/{operation.pk}/")
    return {"client": client, "operation": operation, "channel": Channel.objects.get()}


def _active(sandbox) -> Channel:
    sandbox.advance(3)
    channels_refresh()
    return Channel.objects.get()


def test_create_then_creating_then_active_with_endpoints(created, sandbox, kvs):
    channel = created["channel"]
    assert channel.status == Channel.Status.CREATING
    assert channel.arn.startswith("arn:aws:kinesisvideo:us-east-1:123456789012:channel/door-cam/")
    info = kvs.describe_signaling_channel(ChannelARN=channel.arn)["ChannelInfo"]
    assert info["SingleMasterConfiguration"] == {"MessageTtlSeconds": 30}
    assert kvs.list_tags_for_resource(ResourceARN=channel.arn)["Tags"] == {"site": "berlin"}
    channel = _active(sandbox)
    assert channel.status == Channel.Status.ACTIVE
    assert channel.version == info["Version"]
    assert channel.endpoints["VIEWER"]["WSS"].startswith("wss://v-")
    assert set(channel.endpoints["MASTER"]) == {"WSS", "HTTPS", "WEBRTC"}
    page = created["client"].get(f"/channels/{channel.pk}/").content.decode()
    assert 'id="endpoint-viewer-wss"' in page
    assert channel.endpoints["VIEWER"]["WSS"] in page


def test_endpoints_only_for_an_active_channel_and_the_page_says_why(created):
    page = created["client"].get(f"/channels/{created['channel'].pk}/").content.decode()
    assert "Endpoints exist only for an ACTIVE channel, and this one is creating." in page
    assert 'id="endpoint-viewer-wss"' not in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "a b"}, "name", "A channel name contains characters AWS does not accept."),
        ({"name": "x" * 257}, "name", "A channel name has at most 256 characters."),
        ({"message_ttl": "4"}, "message_ttl", "greater than or equal to 5"),
        ({"message_ttl": "121"}, "message_ttl", "less than or equal to 120"),
        ({"channel_type": "MESH"}, "channel_type", "Select a valid choice"),
        ({"tags": "aws:team=x"}, "tags", "reserved by AWS"),
        ({"tags": "team"}, "tags", "Line 1: write key=value."),
        ({"tags": "a=1\na=2"}, "tags", "appears twice"),
        ({"tags": "t=<x>"}, "tags", "use letters, digits"),
    ],
)
def test_create_form_rules(data, field, message):
    form = ChannelCreateForm(_form(**data))
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_create_form_defaults_and_accepts_dots():
    form = ChannelCreateForm({"name": "cam.01_a-b", "channel_type": "FULL_MESH", "message_ttl": "60", "tags": ""})
    assert form.is_valid(), form.errors
    assert form.spec("cam.01_a-b") == ChannelSpec("cam.01_a-b", "FULL_MESH", 60, {})
    assert ChannelCreateForm().fields["message_ttl"].initial == 60


def test_the_registry_is_checked_first_and_the_form_keeps_the_input(admin):
    ChannelFactory(name="door-cam")
    response = login(admin).post("/channels/new/", _form())
    assert response.status_code == 400
    page = response.content.decode()
    assert "The portal already has a channel named door-cam in this region." in page
    assert 'value="door-cam"' in page
    assert "site=berlin" in page
    assert not Operation.objects.exists()


def test_a_name_taken_outside_the_portal_is_shown_next_to_the_name(admin, aws_endpoint, quotas_off, kvs,
                                                                    django_capture_on_commit_callbacks):  # fmt: skip
    kvs.create_signaling_channel(ChannelName="door-cam")
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/channels/new/", _form())
    operation = Operation.objects.get(kind="channels.create")
    assert (operation.status, operation.error_code) == (Operation.Status.FAILED, "ResourceInUseException")
    assert Channel.objects.get().status == Channel.Status.FAILED
    progress = client.get(f"/operations/{operation.pk}/").content.decode()
    assert "Choose another name" in progress
    page = client.get(f"/channels/new/?retry={operation.pk}").content.decode()
    assert 'id="name-aws-error"' in page
    assert "ResourceInUseException" in page
    assert 'value="door-cam"' in page
    assert "site=berlin" in page
    retry = client.post("/channels/new/", _form())  # the failed row no longer holds the name
    assert retry.status_code == 303


def test_a_retry_after_a_lost_outcome_takes_its_own_channel(admin, aws_endpoint, quotas_off, kvs):
    from portal.channels.services import channel_create

    operation = channel_create(actor=admin, spec=ChannelSpec("door-cam", "SINGLE_MASTER", 60, {}))
    arn = kvs.create_signaling_channel(ChannelName="door-cam")["ChannelARN"]  # the first attempt's, answer lost
    Operation.objects.filter(pk=operation.pk).update(attempts=1)
    operation_execute(operation_id=operation.pk)
    operation.refresh_from_db()
    assert operation.status == Operation.Status.SUCCEEDED, operation.error_message
    assert operation.result == {"arn": arn, "recovered": True}
    assert Channel.objects.get().arn == arn
    assert len(kvs.list_signaling_channels()["ChannelInfoList"]) == 1


def test_a_retry_does_not_take_a_channel_made_before_the_request(admin, aws_endpoint, quotas_off, kvs):
    from portal.channels.services import channel_create

    kvs.create_signaling_channel(ChannelName="door-cam")
    operation = channel_create(actor=admin, spec=ChannelSpec("door-cam", "SINGLE_MASTER", 60, {}))
    Operation.objects.filter(pk=operation.pk).update(
        attempts=1,
        parameters={
            **operation.parameters,
            "requested_at": (timezone.now() + timezone.timedelta(minutes=1)).isoformat(),
        },
    )
    operation_execute(operation_id=operation.pk)
    operation.refresh_from_db()
    assert (operation.status, operation.error_code) == (Operation.Status.FAILED, "ResourceInUseException")


def test_update_ttl_on_the_version_seen(created, sandbox, kvs, django_capture_on_commit_callbacks):
    channel = _active(sandbox)
    client = created["client"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/channels/{channel.pk}/ttl/", {"message_ttl": "90", "version": channel.version})
    assert response.status_code == 303
    info = kvs.describe_signaling_channel(ChannelARN=channel.arn)["ChannelInfo"]
    assert info["SingleMasterConfiguration"]["MessageTtlSeconds"] == 90
    assert info["ChannelStatus"] == "UPDATING"
    channel.refresh_from_db()
    assert (channel.status, channel.message_ttl) == (Channel.Status.UPDATING, 90)
    channel = _active(sandbox)
    assert (channel.status, channel.version) == (Channel.Status.ACTIVE, info["Version"])


def test_version_mismatch_shows_the_current_values_and_offers_to_apply_to_the_new_version(
    created, sandbox, kvs, django_capture_on_commit_callbacks
):
    channel = _active(sandbox)
    seen = channel.version
    kvs.update_signaling_channel(
        ChannelARN=channel.arn, CurrentVersion=seen, SingleMasterConfiguration={"MessageTtlSeconds": 45}
    )  # someone else, behind the portal's back
    client = created["client"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/channels/{channel.pk}/ttl/", {"message_ttl": "90", "version": seen})
    failed = Operation.objects.get(kind="channels.update_ttl")
    assert (failed.status, failed.error_code) == (Operation.Status.FAILED, "VersionMismatchException")
    assert "a message TTL of 45 s" in failed.error_message
    info = kvs.describe_signaling_channel(ChannelARN=channel.arn)["ChannelInfo"]
    assert info["SingleMasterConfiguration"]["MessageTtlSeconds"] == 45  # nothing was overwritten
    channel = _active(sandbox)
    assert channel.version == info["Version"]
    progress = client.get(f"/operations/{failed.pk}/").content.decode()
    assert f"AWS holds version {channel.version} with a message TTL of 45 s." in progress
    assert "of 30 s" not in progress  # the portal's own value is not AWS's
    assert f"/channels/{channel.pk}/ttl/{failed.pk}/" in progress
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/channels/{channel.pk}/ttl/{failed.pk}/")
    assert response.status_code == 303
    again = Operation.objects.filter(kind="channels.update_ttl").latest("pk")
    assert again.status == Operation.Status.SUCCEEDED
    assert again.parameters["version"] == channel.version
    info = kvs.describe_signaling_channel(ChannelARN=channel.arn)["ChannelInfo"]
    assert info["SingleMasterConfiguration"]["MessageTtlSeconds"] == 90


def test_a_version_the_portal_already_knows_is_stale_is_refused_before_aws(admin):
    channel = ChannelFactory(version="v2", message_ttl=45, refreshed_at=timezone.now())
    with pytest.raises(Conflict, match="AWS holds version v2 with a message TTL of 45 s"):
        channel_update_ttl(actor=admin, channel=channel, ttl=90, version="v1")
    assert not Operation.objects.exists()
    assert not TtlForm({"message_ttl": "90", "version": "v 1"}).is_valid()


def test_a_stale_version_is_refused_with_the_ttl_aws_holds_not_the_portals(
    created, sandbox, kvs, django_capture_on_commit_callbacks
):
    """Someone set 77 s outside the portal; the portal read it (drift) and keeps its own 30 s. Submitting 33 on the
    version the person saw is refused with AWS's 77 s; on a channel not read since its last change, with no TTL."""
    channel = _active(sandbox)
    seen = channel.version
    kvs.update_signaling_channel(
        ChannelARN=channel.arn, CurrentVersion=seen, SingleMasterConfiguration={"MessageTtlSeconds": 77}
    )
    client = created["client"]
    client.get(f"/channels/{channel.pk}/")  # someone has it open: the refresher reads it every cycle
    channel = _active(sandbox)
    assert (channel.message_ttl, channel.drifted) == (30, ["message_ttl"])
    refused = client.post(f"/channels/{channel.pk}/ttl/", {"message_ttl": "33", "version": seen})
    text = refused.content.decode()
    assert f"AWS holds version {channel.version} with a message TTL of 77 s." in text
    assert "30 s" not in text
    assert not Operation.objects.filter(kind="channels.update_ttl").exists()
    Channel.objects.filter(pk=channel.pk).update(refreshed_at=None)  # changed since the portal last read it
    unknown = client.post(f"/channels/{channel.pk}/ttl/", {"message_ttl": "33", "version": seen}).content.decode()
    assert "has not read the channel in AWS since it last changed" in unknown
    assert "message TTL of" not in unknown


def test_tags_add_and_remove(created, sandbox, kvs, django_capture_on_commit_callbacks):
    channel = _active(sandbox)
    client = created["client"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/channels/{channel.pk}/tags/add/", {"key": "floor", "value": "3"})
        client.post(f"/channels/{channel.pk}/tags/remove/", {"key": "site"})
    assert kvs.list_tags_for_resource(ResourceARN=channel.arn)["Tags"] == {"floor": "3"}
    channel.refresh_from_db()
    assert channel.tags == {"floor": "3"}
    refused = client.post(f"/channels/{channel.pk}/tags/add/", {"key": "aws:x", "value": "1"})
    assert refused.status_code == 400
    assert "reserved by AWS" in refused.content.decode()


def test_delete_one_with_its_name_then_deleting_until_gone(created, sandbox, kvs, django_capture_on_commit_callbacks):
    channel = _active(sandbox)
    client = created["client"]
    wrong = client.post(f"/channels/{channel.pk}/delete/", {"confirm": "door"})
    assert wrong.status_code == 400
    assert "Type &#x27;door-cam&#x27; exactly" in wrong.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/channels/{channel.pk}/delete/", {"confirm": "door-cam"})
    channel.refresh_from_db()
    assert channel.status == Channel.Status.DELETING
    assert _status(kvs, channel.arn) == "DELETING"
    channel = _active(sandbox)
    assert channel.status == Channel.Status.DELETED
    assert channel.deleted_at is not None
    assert kvs.list_signaling_channels()["ChannelInfoList"] == []


def _status(kvs, arn: str) -> str:
    return kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["ChannelStatus"]


def test_delete_a_selection_with_the_count_typed(admin, aws_endpoint, quotas_off, kvs, sandbox,
                                                 django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        channels_create_fleet(actor=admin, specs=[ChannelSpec(f"cam-{n}", "SINGLE_MASTER", 60, {}) for n in range(3)],
                              label="three")  # fmt: skip
    sandbox.advance(3)
    channels_refresh()
    chosen = [str(pk) for pk in Channel.objects.order_by("name").values_list("pk", flat=True)[:2]]
    client = login(admin)
    page = client.get("/channels/delete/", {"channels": chosen}).content.decode()
    assert "delete 2 channels" in page
    wrong = client.post("/channels/delete/", {"channels": chosen, "confirm": "delete 3 channels"})
    assert wrong.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/channels/delete/", {"channels": chosen, "confirm": "delete 2 channels"})
    batch = OperationBatch.objects.get(label="Delete 2 signaling channels")
    assert response["Location"] == f"/operations/batches/{batch.pk}/"
    assert sorted(Channel.objects.values_list("status", flat=True)) == ["active", "deleting", "deleting"]
    sandbox.advance(3)
    channels_refresh()
    assert sorted(Channel.objects.values_list("status", flat=True)) == ["active", "deleted", "deleted"]
    assert [c["ChannelName"] for c in kvs.list_signaling_channels()["ChannelInfoList"]] == ["cam-2"]


def test_fleet_names():
    assert fleet_names("cam-{0001..0003}") == ["cam-0001", "cam-0002", "cam-0003"]
    assert fleet_names("{8..10}.door") == ["8.door", "9.door", "10.door"]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("cam", "Put exactly one numeric range"),
        ("cam-{1..2}-{1..2}", "Put exactly one numeric range"),
        ("cam-{5..1}", "The range must go up"),
        ("cam {1..2}", "contains characters AWS does not accept"),
        ("cam-{1..20000}", "At most 10000 channels"),
    ],
)
def test_fleet_form_rules(pattern, message):
    form = FleetCreateForm({"pattern": pattern, "channel_type": "SINGLE_MASTER", "message_ttl": "60", "tags": ""})
    assert not form.is_valid()
    assert message in " ".join(form.errors["pattern"])


def test_fleet_form_refuses_names_the_registry_holds():
    ChannelFactory(name="cam-02")
    form = FleetCreateForm({"pattern": "cam-{01..03}", "channel_type": "SINGLE_MASTER", "message_ttl": "60"})
    assert not form.is_valid()
    assert "The portal already has 1 of these names (cam-02)" in form.errors["pattern"][0]


def test_a_fleet_of_120_at_the_quota_with_throttling_creates_each_channel_once(
    admin, aws_endpoint, sandbox, kvs, django_capture_on_commit_callbacks, settings
):
    settings.OPERATION_BACKOFF_BASE_SECONDS = 0
    sandbox.inject_fault("kinesisvideo:CreateSignalingChannel", throttle=0.1)
    client = login(admin)
    data = {"pattern": "cam-{001..120}", "channel_type": "SINGLE_MASTER", "message_ttl": "30", "tags": "fleet=a"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/channels/fleet/", data)
    batch = OperationBatch.objects.get()
    assert response["Location"] == f"/operations/batches/{batch.pk}/"
    operations = list(batch.operations.all())
    assert len(operations) == 120
    assert {operation.status for operation in operations} == {Operation.Status.SUCCEEDED}
    retried = [operation for operation in operations if operation.attempts > 1]
    assert retried, "10 % throttling should have made some creations retry"
    listed = []
    token = {}
    while True:
        page = kvs.list_signaling_channels(MaxResults=50, **token)
        listed += page["ChannelInfoList"]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    names = [info["ChannelName"] for info in listed]
    assert sorted(names) == [f"cam-{n:03d}" for n in range(1, 121)]  # each exactly once
    rows = Channel.objects.all()
    assert {row.arn for row in rows} == {info["ChannelARN"] for info in listed}
    assert {(row.message_ttl, row.tags["fleet"]) for row in rows} == {(30, "a")}
    progress = client.get(f"/operations/batches/{batch.pk}/").content.decode()
    assert "120 of 120 done" in progress
    assert progress.count('<tr id="batch-operation-') == 100  # a large batch lists the latest; the counts say all
    assert "20 more succeeded" in progress
    listed = client.get("/channels/").content.decode()
    assert f'href="/operations/batches/{batch.pk}/"' in listed  # a fleet's page can be left and come back to


def test_list_filters_and_constant_queries(admin):
    for number in range(30):
        ChannelFactory(name=f"cam-{number:02d}", tags={"site": "berlin" if number % 2 else "paris"})
    ChannelFactory(name="door", status="creating", origin="found", channel_type="FULL_MESH")
    client = login(admin)
    page = client.get("/channels/", {"prefix": "cam-1"}).content.decode()
    assert page.count('<tr id="channel-') == 10
    assert client.get("/channels/", {"status": "creating"}).content.decode().count('<tr id="channel-') == 1
    assert client.get("/channels/", {"channel_type": "FULL_MESH"}).content.decode().count('<tr id="channel-') == 1
    assert client.get("/channels/", {"tag": "site=berlin"}).content.decode().count('<tr id="channel-') == 15
    assert client.get("/channels/", {"origin": "found"}).content.decode().count('<tr id="channel-') == 1
    with CaptureQueriesContext(connection) as few:
        client.get("/channels/")
    for number in range(30, 130):
        ChannelFactory(name=f"cam-{number:03d}")
    with CaptureQueriesContext(connection) as many:
        client.get("/channels/")
    assert len(many) == len(few)


def test_list_htmx_partial_polls_while_a_channel_changes(admin):
    ChannelFactory(status="creating")
    response = login(admin).get("/channels/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    assert 'id="channel-table"' in response.content.decode()
    assert "every" in response.content.decode()


def test_a_batch_page_says_which_aws_codes_failed_how_often(admin):
    from tests.factories import OperationFactory

    batch = OperationBatch.objects.create(label="fleet", actor_name="ada")
    batch.operations.set(
        [
            OperationFactory(kind="channels.create", status="failed", error_code="ResourceInUseException"),
            OperationFactory(kind="channels.create", status="failed", error_code="ResourceInUseException"),
            OperationFactory(
                kind="channels.create", status="failed", error_code="AccountChannelLimitExceededException"
            ),
            OperationFactory(kind="channels.create", status="succeeded"),
        ]
    )
    page = login(admin).get(f"/operations/batches/{batch.pk}/").content.decode()
    summary = page.split('class="batch-failures"', 1)[1].split("</p>", 1)[0]
    assert '<span class="error-code">ResourceInUseException</span>: 2' in summary
    assert '<span class="error-code">AccountChannelLimitExceededException</span>: 1' in summary
