"""Signaling channel reads. Each page's queries are a fixed number, whatever the number of channels."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from portal.aws.kinesis_video import PROTOCOLS, ROLES
from portal.channels.models import Channel
from portal.core.batches import batches_recent
from portal.core.models import Drift, Operation, OperationBatch
from portal.core.sections import Figure
from portal.core.services import operations_of

LIST_COLUMNS = ("id", "arn", "name", "channel_type", "status", "message_ttl", "version", "tags", "origin",
                "aws_created_at", "created_at")  # fmt: skip


def channels_listed() -> QuerySet[Channel]:
    """The list's rows: only the columns it shows (no endpoints), newest first."""
    return Channel.objects.only(*LIST_COLUMNS)


@dataclass(frozen=True)
class Endpoint:
    role: str
    protocol: str
    url: str

    @property
    def element_id(self) -> str:
        return f"endpoint-{self.role.lower()}-{self.protocol.lower()}"


def channel_endpoints(*, channel: Channel) -> list[Endpoint]:
    """The endpoints GetSignalingChannelEndpoint returned, MASTER then VIEWER, WSS, HTTPS then WEBRTC."""
    return [
        Endpoint(role, protocol, channel.endpoints[role][protocol])
        for role in ROLES
        for protocol in PROTOCOLS
        if channel.endpoints.get(role, {}).get(protocol)
    ]


def channel_ttl_in_aws(*, channel: Channel) -> int | None:
    """The message TTL AWS holds at the version the portal last read, or None while the portal has not read the
    channel since its last change. The row keeps the portal's own TTL: one changed outside the portal is AWS's side
    of the channel's open drift record."""
    if channel.refreshed_at is None:
        return None
    if "message_ttl" not in channel.drifted:
        return channel.message_ttl
    aws = (
        Drift.objects.filter(
            content_type=ContentType.objects.get_for_model(Channel),
            object_id=channel.pk,
            field="message_ttl",
            resolved_at__isnull=True,
        )
        .values_list("aws_value", flat=True)
        .first()
    )
    return aws if isinstance(aws, int) else None


def channel_aws_words(*, channel: Channel) -> str:
    """What AWS holds of the channel, as the portal last read it; or that the portal does not know yet."""
    ttl = channel_ttl_in_aws(channel=channel)
    if ttl is None:
        return "The portal has not read the channel in AWS since it last changed, and is reading it now."
    return f"AWS holds version {channel.version} with a message TTL of {ttl} s."


def channel_fleets_recent() -> list[OperationBatch]:
    """Fleets requested in the last day, newest first (their pages can be left and come back to): one query."""
    return batches_recent(kind="channels.create")


def channel_operations(*, channel: Channel) -> QuerySet[Operation]:
    return operations_of(channel)[:10]


def channels_figures() -> list[Figure]:
    """The overview's channel counts in one query: ACTIVE channels, channels being created, gone from AWS."""
    counts = Channel.objects.aggregate(
        active=Count("pk", filter=Q(status=Channel.Status.ACTIVE)),
        creating=Count("pk", filter=Q(status=Channel.Status.CREATING)),
        gone=Count("pk", filter=Q(status=Channel.Status.GONE)),
    )
    channels = reverse("channels")
    return [
        Figure("Active signaling channels", counts["active"], f"{channels}?status={Channel.Status.ACTIVE}"),
        Figure("Channels being created", counts["creating"], f"{channels}?status={Channel.Status.CREATING}"),
        Figure("Channels gone from AWS", counts["gone"], f"{channels}?status={Channel.Status.GONE}",
               attention=bool(counts["gone"])),
    ]  # fmt: skip
