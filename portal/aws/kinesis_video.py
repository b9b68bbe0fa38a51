"""Kinesis Video Streams signaling channels, thin and typed: one coroutine per API call the portal makes, and
GetIceServerConfig of the `kinesis-video-signaling` service, called at the channel's own HTTPS endpoint."""

from __future__ import annotations

from typing import Any

from portal.aws.clients import aws_client

SERVICE = "kinesisvideo"
SIGNALING = "kinesis-video-signaling"
ROLES = ("MASTER", "VIEWER")
PROTOCOLS = ("WSS", "HTTPS", "WEBRTC")
LIST_PAGE = 500  # ListSignalingChannels' default and largest page


async def channel_create(*, name: str, channel_type: str, ttl: int, tags: dict[str, str]) -> str:
    """CreateSignalingChannel; the new channel's ARN (it is CREATING)."""
    async with aws_client(SERVICE, mutating=True) as kvs:
        response = await kvs.create_signaling_channel(
            ChannelName=name,
            ChannelType=channel_type,
            SingleMasterConfiguration={"MessageTtlSeconds": ttl},
            **({"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]} if tags else {}),
        )
    return str(response["ChannelARN"])


async def channel_describe(*, arn: str = "", name: str = "") -> dict[str, Any]:
    async with aws_client(SERVICE) as kvs:
        response = await kvs.describe_signaling_channel(**({"ChannelARN": arn} if arn else {"ChannelName": name}))
    return dict(response["ChannelInfo"])


async def channel_update_ttl(*, arn: str, version: str, ttl: int) -> None:
    async with aws_client(SERVICE, mutating=True) as kvs:
        await kvs.update_signaling_channel(
            ChannelARN=arn, CurrentVersion=version, SingleMasterConfiguration={"MessageTtlSeconds": ttl}
        )


async def channel_delete(*, arn: str, version: str) -> None:
    async with aws_client(SERVICE, mutating=True) as kvs:
        await kvs.delete_signaling_channel(ChannelARN=arn, CurrentVersion=version)


async def channels_list_all(*, prefix: str = "") -> list[dict[str, Any]]:
    """Every channel in the region (or whose name begins with `prefix`): ListSignalingChannels, every page."""
    condition = {"ChannelNameCondition": {"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": prefix}}
    listed: list[dict[str, Any]] = []
    token = ""
    async with aws_client(SERVICE) as kvs:
        while True:
            response = await kvs.list_signaling_channels(
                MaxResults=LIST_PAGE, **(condition if prefix else {}), **({"NextToken": token} if token else {})
            )
            listed.extend(response.get("ChannelInfoList", []))
            token = response.get("NextToken", "")
            if not token:
                return listed


async def channel_endpoints(*, arn: str) -> dict[str, dict[str, str]]:
    """{role: {protocol: endpoint}} for MASTER and VIEWER, every protocol: two GetSignalingChannelEndpoint calls."""
    endpoints: dict[str, dict[str, str]] = {}
    async with aws_client(SERVICE) as kvs:
        for role in ROLES:
            response = await kvs.get_signaling_channel_endpoint(
                ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": list(PROTOCOLS), "Role": role}
            )
            endpoints[role] = {e["Protocol"]: e["ResourceEndpoint"] for e in response["ResourceEndpointList"]}
    return endpoints


async def channel_tags(*, arn: str) -> dict[str, str]:
    """ListTagsForResource, every page.
    https://docs.aws.amazon.com/kinesisvideostreams/latest/dg/API_ListTagsForResource.html"""
    tags: dict[str, str] = {}
    token = ""
    async with aws_client(SERVICE) as kvs:
        while True:
            response = await kvs.list_tags_for_resource(ResourceARN=arn, **({"NextToken": token} if token else {}))
            tags.update(response.get("Tags", {}))
            token = response.get("NextToken", "")
            if not token:
                return tags


async def tags_add(*, arn: str, tags: dict[str, str]) -> None:
    async with aws_client(SERVICE, mutating=True) as kvs:
        await kvs.tag_resource(ResourceARN=arn, Tags=[{"Key": key, "Value": value} for key, value in tags.items()])


async def tags_remove(*, arn: str, keys: list[str]) -> None:
    async with aws_client(SERVICE, mutating=True) as kvs:
        await kvs.untag_resource(ResourceARN=arn, TagKeyList=keys)


async def ice_servers(*, arn: str, https_endpoint: str, client_id: str) -> list[dict[str, Any]]:
    """GetIceServerConfig at the channel's HTTPS endpoint: TURN servers with credentials for `client_id`."""
    async with aws_client(SIGNALING, resource_endpoint=https_endpoint) as signaling:
        response = await signaling.get_ice_server_config(ChannelARN=arn, ClientId=client_id, Service="TURN")
    return list(response.get("IceServerList", []))
