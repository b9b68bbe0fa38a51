"""Kinesis Video Streams WebRTC signaling channels: asynchronous create, versioned update and delete, endpoints, and
the `kinesis-video-signaling` service's GetIceServerConfig, answered at the channel's HTTPS endpoint."""

from __future__ import annotations

from typing import Any

from rtc_sandbox.protocol import ApiError
from rtc_sandbox.world import (
    Call,
    World,
    check_tag_keys,
    iso,
    operation,
    paginate,
    random_id,
    tag_list_to_map,
    ticker,
)

SERVICE = "kinesisvideo"
SIGNALING = "kinesis-video-signaling"
INVALID = "InvalidArgumentException"
NOT_FOUND = "ResourceNotFoundException"
IN_USE = "ResourceInUseException"
DEFAULT_TTL = 60
MAX_TAGS = 50
ICE_SERVERS = 2  # KVS answers two TURN servers, each with a UDP, a TURNS-over-UDP and a TURNS-over-TCP URI
ICE_TTL = 300


def channel_limit(region: str) -> int:
    return 10_000 if region in ("us-east-1", "us-west-2") else 5_000


def _channels(world: World) -> dict[str, Any]:
    return world.table("kvs.channels")


def _by_arn(world: World, arn: str) -> dict[str, Any]:
    channel = _channels(world).get(arn)
    if channel is None:
        raise ApiError(NOT_FOUND, f"The requested channel is not found or not active: {arn}")
    return channel


def _view(channel: dict[str, Any]) -> dict[str, Any]:
    return {
        "ChannelName": channel["name"],
        "ChannelARN": channel["arn"],
        "ChannelType": channel["type"],
        "ChannelStatus": channel["status"],
        "CreationTime": iso(channel["createdAt"]),
        "SingleMasterConfiguration": {"MessageTtlSeconds": channel["ttl"]},
        "Version": channel["version"],
    }


def _begin(world: World, channel: dict[str, Any], status: str, now: float) -> None:
    channel["status"] = status
    channel["transitionAt"] = now + world.timing.channel_transition


def _check_version(channel: dict[str, Any], version: str | None) -> None:
    if version is not None and version != channel["version"]:
        raise ApiError(
            "VersionMismatchException",
            f"The channel version {version} does not match the current version {channel['version']}.",
        )


def _check_tags(tags: dict[str, str]) -> None:
    check_tag_keys(list(tags), INVALID)
    if len(tags) > MAX_TAGS:
        raise ApiError("TagsPerResourceExceededLimitException", f"A channel can have at most {MAX_TAGS} tags.")


@operation(SERVICE, "CreateSignalingChannel")
def create_signaling_channel(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    in_region = [c for c in _channels(call.world).values() if c["region"] == call.region]
    if any(c["name"] == p["ChannelName"] for c in in_region):
        raise ApiError(IN_USE, f"A signaling channel named {p['ChannelName']} already exists.")
    if len(in_region) >= channel_limit(call.region):
        raise ApiError("AccountChannelLimitExceededException", "The account's signaling channel limit is reached.")
    tags = tag_list_to_map(p.get("Tags"))
    _check_tags(tags)
    created = call.now
    arn = f"arn:aws:kinesisvideo:{call.region}:{call.account}:channel/{p['ChannelName']}/{int(created * 1000)}"
    channel = {
        "arn": arn,
        "name": p["ChannelName"],
        "region": call.region,
        "type": p.get("ChannelType", "SINGLE_MASTER"),
        "ttl": (p.get("SingleMasterConfiguration") or {}).get("MessageTtlSeconds", DEFAULT_TTL),
        "version": random_id(20),
        "createdAt": created,
        "tags": tags,
    }
    _begin(call.world, channel, "CREATING", created)
    _channels(call.world)[arn] = channel
    return {"ChannelARN": arn}


@operation(SERVICE, "DescribeSignalingChannel")
def describe_signaling_channel(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    if "ChannelARN" in p:
        return {"ChannelInfo": _view(_by_arn(call.world, p["ChannelARN"]))}
    if "ChannelName" not in p:
        raise ApiError(INVALID, "Either ChannelName or ChannelARN must be specified.")
    for channel in _channels(call.world).values():
        if channel["name"] == p["ChannelName"] and channel["region"] == call.region:
            return {"ChannelInfo": _view(channel)}
    raise ApiError(NOT_FOUND, f"The requested channel is not found: {p['ChannelName']}")


@operation(SERVICE, "ListSignalingChannels")
def list_signaling_channels(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    channels = sorted(
        (c for c in _channels(call.world).values() if c["region"] == call.region), key=lambda c: c["name"]
    )
    condition = p.get("ChannelNameCondition")
    if condition:
        if "ComparisonValue" not in condition:
            raise ApiError(INVALID, "ChannelNameCondition needs a ComparisonValue.")
        channels = [c for c in channels if c["name"].startswith(condition["ComparisonValue"])]
    page, token = paginate(channels, p.get("NextToken"), p.get("MaxResults"), 100, INVALID, key=lambda c: c["name"])
    result: dict[str, Any] = {"ChannelInfoList": [_view(c) for c in page]}
    if token:
        result["NextToken"] = token
    return result


@operation(SERVICE, "UpdateSignalingChannel")
def update_signaling_channel(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    channel = _by_arn(call.world, p["ChannelARN"])
    _check_version(channel, p["CurrentVersion"])
    if channel["status"] != "ACTIVE":
        raise ApiError(IN_USE, f"The channel is {channel['status']}; only an ACTIVE channel can be updated.")
    if "SingleMasterConfiguration" in p:
        channel["ttl"] = p["SingleMasterConfiguration"].get("MessageTtlSeconds", channel["ttl"])
    channel["version"] = random_id(20)
    _begin(call.world, channel, "UPDATING", call.now)
    return {}


@operation(SERVICE, "DeleteSignalingChannel")
def delete_signaling_channel(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    channel = _by_arn(call.world, p["ChannelARN"])
    _check_version(channel, p.get("CurrentVersion"))
    if channel["status"] == "DELETING":
        raise ApiError(NOT_FOUND, f"The channel is already being deleted: {channel['arn']}")
    if channel["status"] != "ACTIVE":
        raise ApiError(IN_USE, f"The channel is {channel['status']}; wait until it is ACTIVE.")
    _begin(call.world, channel, "DELETING", call.now)
    return {}


@operation(SERVICE, "GetSignalingChannelEndpoint")
def get_signaling_channel_endpoint(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    channel = _by_arn(call.world, p["ChannelARN"])
    if channel["status"] != "ACTIVE":
        raise ApiError(IN_USE, f"The channel is {channel['status']}; endpoints exist only for an ACTIVE channel.")
    configuration = p.get("SingleMasterChannelEndpointConfiguration") or {}
    role = configuration.get("Role", "MASTER")
    protocols = configuration.get("Protocols") or ["WSS"]
    host = f"kinesisvideo.{call.region}.amazonaws.com"
    prefix = "m" if role == "MASTER" else "v"
    addresses = {
        "WSS": f"wss://{prefix}-{channel['version'][:8].lower()}.{host}",
        "HTTPS": f"https://r-{channel['version'][:8].lower()}.{host}",
        "WEBRTC": f"https://w-{channel['version'][:8].lower()}.webrtc.{host}",
    }
    unique = list(dict.fromkeys(protocols))
    return {"ResourceEndpointList": [{"Protocol": name, "ResourceEndpoint": addresses[name]} for name in unique]}


@operation(SERVICE, "TagResource")
def tag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    channel = _by_arn(call.world, p["ResourceARN"])
    merged = {**channel["tags"], **tag_list_to_map(p["Tags"])}
    _check_tags(merged)
    channel["tags"] = merged
    return {}


@operation(SERVICE, "UntagResource")
def untag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    channel = _by_arn(call.world, p["ResourceARN"])
    for key in p["TagKeyList"]:
        channel["tags"].pop(key, None)
    return {}


@operation(SERVICE, "ListTagsForResource")
def list_tags_for_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    channel = _by_arn(call.world, p["ResourceARN"])
    return {"Tags": dict(channel["tags"])} if channel["tags"] else {}


def _turn_host(channel: dict[str, Any], number: int, region: str) -> str:
    address = "-".join(str((int(channel["createdAt"] * 1000) >> shift) % 250 + 3) for shift in (0, 8, 16))
    return f"{number}-3-{address}.t-{channel['version'][:8].lower()}.kinesisvideo.{region}.amazonaws.com"


@operation(SIGNALING, "GetIceServerConfig")
def get_ice_server_config(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """TURN servers for one client of an ACTIVE channel, each with short-lived credentials for that client."""
    channel = _channels(call.world).get(p["ChannelARN"])
    if channel is None or channel["status"] != "ACTIVE":
        raise ApiError(NOT_FOUND, f"The requested channel is not found or not active: {p['ChannelARN']}")
    expires = int(call.now) + ICE_TTL
    client = p.get("ClientId") or p.get("Username") or "anonymous"
    servers = []
    for number in range(1, ICE_SERVERS + 1):
        host = _turn_host(channel, number, call.region)
        servers.append(
            {
                "Uris": [
                    f"turn:{host}:443?transport=udp",
                    f"turns:{host}:443?transport=udp",
                    f"turns:{host}:443?transport=tcp",
                ],
                "Username": f"{expires}-{number}.{client}"[:256],
                "Password": random_id(44),
                "Ttl": ICE_TTL,
            }
        )
    return {"IceServerList": servers}


@ticker
def finish_transitions(world: World, now: float) -> bool:
    channels = _channels(world)
    changed = False
    for arn, channel in list(channels.items()):
        due = channel.get("transitionAt")
        if due is None or now < due:
            continue
        changed = True
        if channel["status"] == "DELETING":
            del channels[arn]
        else:
            channel["status"] = "ACTIVE"
            channel["transitionAt"] = None
    return changed
