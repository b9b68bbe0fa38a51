"""The channels refresher against the sandbox: transitions polled, the fleet reconciled, changes made outside the
portal recorded as drift, and GetIceServerConfig's passwords shown once."""

from __future__ import annotations

import pytest

from portal.channels.models import Channel
from portal.channels.refresh import channels_refresh
from portal.channels.services import ChannelSpec, channel_create
from portal.core.drift import drift_gone
from portal.core.models import Drift, Operation, RefresherState
from tests.conftest import login, sandbox_boto

pytestmark = pytest.mark.django_db


@pytest.fixture
def kvs(sandbox):
    return sandbox_boto(sandbox.endpoint, "kinesisvideo")


@pytest.fixture
def active(admin, aws_endpoint, sandbox, kvs, django_capture_on_commit_callbacks):
    """A channel created through the portal, ACTIVE, with its endpoints and tags read."""
    sandbox.quotas(enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        channel_create(actor=admin, spec=ChannelSpec("door-cam", "SINGLE_MASTER", 60, {"site": "berlin"}))
    sandbox.advance(3)
    channels_refresh()
    channel = Channel.objects.get()
    assert channel.status == Channel.Status.ACTIVE
    return channel


def _listing_due() -> None:
    RefresherState.objects.filter(name="channels").update(listed_at=None)


def _open_drift() -> list[tuple[str, str, str, object, object]]:
    return sorted(
        (d.label, d.change, d.field, d.portal_value, d.aws_value)
        for d in Drift.objects.filter(kind="channel", resolved_at__isnull=True)
    )


def test_channels_made_outside_appear_as_found_with_their_tags(active, kvs, sandbox):
    kvs.create_signaling_channel(
        ChannelName="lobby", ChannelType="FULL_MESH", SingleMasterConfiguration={"MessageTtlSeconds": 15},
        Tags=[{"Key": "team", "Value": "ops"}],
    )  # fmt: skip
    _listing_due()
    channels_refresh()
    found = Channel.objects.get(name="lobby")
    assert (found.origin, found.status, found.channel_type, found.message_ttl) == ("found", "creating", "FULL_MESH", 15)
    assert found.arn.startswith("arn:aws:kinesisvideo:us-east-1:123456789012:channel/lobby/")
    assert _open_drift() == [("lobby", "found", "", None, None)]
    sandbox.advance(3)
    channels_refresh()  # in transition, so read at once: ACTIVE, its endpoints and its tags
    found.refresh_from_db()
    assert found.status == Channel.Status.ACTIVE
    assert found.tags == {"team": "ops"}
    assert found.drifted == []
    assert "VIEWER" in found.endpoints


def test_a_channel_deleted_outside_is_marked_gone(active, kvs, sandbox):
    kvs.delete_signaling_channel(ChannelARN=active.arn)
    sandbox.advance(3)
    _listing_due()
    channels_refresh()
    active.refresh_from_db()
    assert active.status == Channel.Status.GONE
    assert _open_drift() == [("door-cam", "gone", "", None, None)]


def test_a_ttl_changed_outside_is_drift_not_overwritten_and_settles_when_it_agrees_again(active, admin, kvs, sandbox):
    kvs.update_signaling_channel(
        ChannelARN=active.arn, CurrentVersion=active.version, SingleMasterConfiguration={"MessageTtlSeconds": 90}
    )
    sandbox.advance(3)
    _listing_due()
    channels_refresh()
    active.refresh_from_db()
    info = kvs.describe_signaling_channel(ChannelARN=active.arn)["ChannelInfo"]
    assert (active.message_ttl, active.drifted, active.version) == (60, ["message_ttl"], info["Version"])
    assert _open_drift() == [("door-cam", "changed", "message_ttl", 60, 90)]
    page = login(admin).get(f"/channels/{active.pk}/").content.decode()
    assert 'data-drift="message_ttl"' in page
    kvs.update_signaling_channel(
        ChannelARN=active.arn, CurrentVersion=info["Version"], SingleMasterConfiguration={"MessageTtlSeconds": 60}
    )
    sandbox.advance(3)
    _listing_due()
    channels_refresh()
    active.refresh_from_db()
    assert active.drifted == []
    assert _open_drift() == []
    assert Drift.objects.get().resolution == Drift.Resolution.SETTLED


def test_tags_changed_outside_are_drift(active, kvs):
    kvs.tag_resource(ResourceARN=active.arn, Tags=[{"Key": "owner", "Value": "mallory"}])
    Channel.objects.filter(pk=active.pk).update(tags_read_at=None)
    channels_refresh()
    active.refresh_from_db()
    assert active.tags == {"site": "berlin"}
    assert active.drifted == ["tags"]
    assert _open_drift() == [
        ("door-cam", "changed", "tags", {"site": "berlin"}, {"owner": "mallory", "site": "berlin"})
    ]


def test_drift_page_reapplies_the_portals_tags_and_adopts_a_ttl(
    active, admin, kvs, sandbox, django_capture_on_commit_callbacks
):
    kvs.tag_resource(ResourceARN=active.arn, Tags=[{"Key": "owner", "Value": "mallory"}, {"Key": "site", "Value": "x"}])
    kvs.update_signaling_channel(
        ChannelARN=active.arn, CurrentVersion=active.version, SingleMasterConfiguration={"MessageTtlSeconds": 90}
    )
    sandbox.advance(3)
    Channel.objects.filter(pk=active.pk).update(tags_read_at=None)
    _listing_due()
    channels_refresh()
    client = login(admin)
    page = client.get("/drift/").content.decode()
    assert "Signaling channels" in page
    tags = Drift.objects.get(field="tags", resolved_at__isnull=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/drift/{tags.pk}/resolve/", {"action": "reapply"}).status_code == 303
    assert kvs.list_tags_for_resource(ResourceARN=active.arn)["Tags"] == {"site": "berlin"}
    ttl = Drift.objects.get(field="message_ttl", resolved_at__isnull=True)
    assert client.post(f"/drift/{ttl.pk}/resolve/", {"action": "adopt"}).status_code == 303
    active.refresh_from_db()
    assert (active.message_ttl, active.drifted) == (90, ["tags"])
    Channel.objects.filter(pk=active.pk).update(tags_read_at=None)
    _listing_due()
    channels_refresh()
    active.refresh_from_db()
    assert active.drifted == []
    assert _open_drift() == []


def test_reconciliation_costs_one_listing_page_per_500_channels(active, kvs):
    for number in range(600):
        kvs.create_signaling_channel(ChannelName=f"cam-{number:03d}")
    _listing_due()
    channels_refresh()
    state = RefresherState.objects.get(name="channels")
    assert Channel.objects.count() == 601
    assert state.last_error == ""
    # Two listing pages, plus at most the fast lane and the tags of a few channels in turn.
    assert 2 <= state.last_calls <= 2 + 1 + 20


def test_ice_servers_shown_with_their_password_once(active, admin, django_capture_on_commit_callbacks):
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/channels/{active.pk}/ice-servers/")
    operation = Operation.objects.get(kind="channels.ice_servers")
    assert operation.status == Operation.Status.SUCCEEDED, operation.error_message
    servers = operation.result["servers"]
    assert len(servers) == 2
    assert servers[0]["uris"][0].startswith("turn:")
    assert servers[0]["uris"][0].endswith(":443?transport=udp")
    assert "password" not in str(operation.result).lower()
    page = client.get(response["Location"]).content.decode()
    assert servers[0]["username"] in page
    assert "Show the TURN passwords once" in page
    revealed = client.post(f"/operations/{operation.pk}/secrets/").content.decode()
    assert 'id="ice-password-1"' in revealed
    again = client.post(f"/operations/{operation.pk}/secrets/").content.decode()
    assert 'id="ice-password-1"' not in again


def test_a_channel_deleted_and_made_again_outside_is_gone_and_found(active, kvs, sandbox):
    kvs.delete_signaling_channel(ChannelARN=active.arn)
    sandbox.advance(3)
    again = kvs.create_signaling_channel(ChannelName="door-cam")["ChannelARN"]
    _listing_due()
    channels_refresh()
    assert sorted(Channel.objects.values_list("arn", "status", "origin")) == sorted(
        [(active.arn, "gone", "portal"), (again, "creating", "found")]
    )


def test_a_channel_marked_gone_that_aws_lists_again_comes_back_once(active):
    """A listing that missed a channel marked it gone; the next listing that has it brings the same row back (no
    second row for its ARN) and settles the gone record."""
    Channel.objects.filter(pk=active.pk).update(status=Channel.Status.GONE)
    Drift.objects.all().delete()
    drift_gone(Channel.objects.get(pk=active.pk))
    _listing_due()
    channels_refresh()
    assert list(Channel.objects.values_list("arn", "status")) == [(active.arn, Channel.Status.ACTIVE)]
    assert _open_drift() == []


def test_a_channel_deleted_between_two_listing_pages_moves_no_other_across_the_boundary(kvs, sandbox):
    """AWS's page tokens are stable: the sandbox's name the last channel returned, so a deletion on an earlier page
    does not make the next page skip one."""
    sandbox.quotas(enabled=False)
    for name in ("a-1", "a-2", "a-3", "a-4"):
        kvs.create_signaling_channel(ChannelName=name)
    sandbox.advance(3)
    first = kvs.list_signaling_channels(MaxResults=2)
    assert [c["ChannelName"] for c in first["ChannelInfoList"]] == ["a-1", "a-2"]
    kvs.delete_signaling_channel(ChannelARN=first["ChannelInfoList"][0]["ChannelARN"])
    sandbox.advance(60)
    second = kvs.list_signaling_channels(MaxResults=2, NextToken=first["NextToken"])
    assert [c["ChannelName"] for c in second["ChannelInfoList"]] == ["a-3", "a-4"]
