"""Kinesis Video Streams signaling channels in the sandbox: asynchronous lifecycle and versions."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def kvs(boto_client):
    return boto_client("kinesisvideo")


def _code(raised) -> str:
    return raised.value.response["Error"]["Code"]


def _status(kvs, arn: str) -> str:
    return kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["ChannelStatus"]


def test_create_is_asynchronous_and_names_are_unique(kvs, sandbox):
    arn = kvs.create_signaling_channel(ChannelName="door-cam", SingleMasterConfiguration={"MessageTtlSeconds": 30})[
        "ChannelARN"
    ]
    assert arn.startswith("arn:aws:kinesisvideo:us-east-1:123456789012:channel/door-cam/")
    info = kvs.describe_signaling_channel(ChannelName="door-cam")["ChannelInfo"]
    assert info["ChannelStatus"] == "CREATING"
    assert info["ChannelType"] == "SINGLE_MASTER"
    assert info["SingleMasterConfiguration"] == {"MessageTtlSeconds": 30}
    with pytest.raises(ClientError) as raised:
        kvs.create_signaling_channel(ChannelName="door-cam")
    assert _code(raised) == "ResourceInUseException"
    sandbox.advance(3)
    assert _status(kvs, arn) == "ACTIVE"


def test_ttl_defaults_to_60_and_is_bounded(boto_client, kvs):
    arn = kvs.create_signaling_channel(ChannelName="ttl")["ChannelARN"]
    info = kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]
    assert info["SingleMasterConfiguration"]["MessageTtlSeconds"] == 60
    raw = boto_client("kinesisvideo", validate=False)
    for ttl in (4, 121):
        with pytest.raises(ClientError) as raised:
            raw.create_signaling_channel(ChannelName=f"ttl-{ttl}", SingleMasterConfiguration={"MessageTtlSeconds": ttl})
        assert _code(raised) == "InvalidArgumentException"


def test_endpoints_only_for_an_active_channel(kvs, sandbox):
    arn = kvs.create_signaling_channel(ChannelName="ep")["ChannelARN"]
    with pytest.raises(ClientError) as raised:
        kvs.get_signaling_channel_endpoint(ChannelARN=arn)
    assert _code(raised) == "ResourceInUseException"
    sandbox.advance(3)
    endpoints = kvs.get_signaling_channel_endpoint(
        ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS", "HTTPS"], "Role": "MASTER"}
    )["ResourceEndpointList"]
    assert [e["Protocol"] for e in endpoints] == ["WSS", "HTTPS"]
    assert endpoints[0]["ResourceEndpoint"].startswith("wss://m-")
    assert endpoints[1]["ResourceEndpoint"].startswith("https://r-")


def test_update_changes_the_version_and_stale_versions_are_refused(kvs, sandbox):
    arn = kvs.create_signaling_channel(ChannelName="versions")["ChannelARN"]
    sandbox.advance(3)
    version = kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["Version"]
    kvs.update_signaling_channel(
        ChannelARN=arn, CurrentVersion=version, SingleMasterConfiguration={"MessageTtlSeconds": 90}
    )
    info = kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]
    assert info["ChannelStatus"] == "UPDATING"
    assert info["Version"] != version
    sandbox.advance(3)
    assert _status(kvs, arn) == "ACTIVE"
    for call in (
        lambda: kvs.update_signaling_channel(ChannelARN=arn, CurrentVersion=version),
        lambda: kvs.delete_signaling_channel(ChannelARN=arn, CurrentVersion=version),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert _code(raised) == "VersionMismatchException"
    assert kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["SingleMasterConfiguration"] == {
        "MessageTtlSeconds": 90
    }


def test_delete_goes_through_deleting_to_gone(kvs, sandbox):
    arn = kvs.create_signaling_channel(ChannelName="bye")["ChannelARN"]
    with pytest.raises(ClientError) as raised:
        kvs.delete_signaling_channel(ChannelARN=arn)
    assert _code(raised) == "ResourceInUseException"  # still CREATING
    sandbox.advance(3)
    kvs.delete_signaling_channel(ChannelARN=arn)
    assert _status(kvs, arn) == "DELETING"
    sandbox.advance(3)
    with pytest.raises(ClientError) as raised:
        kvs.describe_signaling_channel(ChannelARN=arn)
    assert _code(raised) == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    kvs.create_signaling_channel(ChannelName="bye")  # the name is free again


def test_list_filters_by_prefix_and_paginates(kvs):
    for name in ("cam-1", "cam-2", "cam-3", "door"):
        kvs.create_signaling_channel(ChannelName=name)
    condition = {"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "cam-"}
    first = kvs.list_signaling_channels(ChannelNameCondition=condition, MaxResults=2)
    assert [c["ChannelName"] for c in first["ChannelInfoList"]] == ["cam-1", "cam-2"]
    rest = kvs.list_signaling_channels(ChannelNameCondition=condition, MaxResults=2, NextToken=first["NextToken"])
    assert [c["ChannelName"] for c in rest["ChannelInfoList"]] == ["cam-3"]
    assert "NextToken" not in rest
    assert len(kvs.list_signaling_channels()["ChannelInfoList"]) == 4


def test_tags(kvs):
    arn = kvs.create_signaling_channel(ChannelName="tagged", Tags=[{"Key": "a", "Value": "1"}])["ChannelARN"]
    kvs.tag_resource(ResourceARN=arn, Tags=[{"Key": "b", "Value": "2"}])
    kvs.untag_resource(ResourceARN=arn, TagKeyList=["a"])
    assert kvs.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as raised:
        kvs.tag_resource(ResourceARN=arn, Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(50)])
    assert _code(raised) == "TagsPerResourceExceededLimitException"


def test_ice_server_config_at_the_https_endpoint(boto_client, kvs, sandbox):
    arn = kvs.create_signaling_channel(ChannelName="ice")["ChannelARN"]
    signaling = boto_client("kinesis-video-signaling")
    with pytest.raises(ClientError) as raised:
        signaling.get_ice_server_config(ChannelARN=arn, ClientId="viewer-1")
    assert _code(raised) == "ResourceNotFoundException"  # not ACTIVE yet
    sandbox.advance(3)
    servers = signaling.get_ice_server_config(ChannelARN=arn, ClientId="viewer-1", Service="TURN")["IceServerList"]
    assert len(servers) == 2
    for server in servers:
        assert [uri.split(":")[0] for uri in server["Uris"]] == ["turn", "turns", "turns"]
        assert [uri.rsplit("transport=", 1)[1] for uri in server["Uris"]] == ["udp", "udp", "tcp"]
        assert server["Ttl"] == 300
        assert server["Username"].endswith(".viewer-1")
        assert len(server["Password"]) >= 20
    assert servers[0]["Password"] != servers[1]["Password"]
    raw = boto_client("kinesis-video-signaling", validate=False)
    with pytest.raises(ClientError) as raised:
        raw.get_ice_server_config(ChannelARN=arn, Service="STUN")
    assert _code(raised) == "InvalidArgumentException"
