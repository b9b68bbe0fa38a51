"""The channels refresher: CREATING/UPDATING/DELETING channels polled fast, the fleet reconciled from the listing.

Every cycle (core's refresher: lease, bounded fan-out, the shared rate limiter) describes the channels in transition,
those someone has open and those an operation asked to read again (DescribeSignalingChannel, 300 TPS), reads the
endpoints of a channel that just became ACTIVE (GetSignalingChannelEndpoint for MASTER and VIEWER), and reads the tags
of a few channels in turn (ListTagsForResource: the listing does not carry tags). Every 30 s ListSignalingChannels,
every page of 500, reconciles the whole fleet: channels in AWS the portal did not create appear as found, channels
gone from AWS are marked gone, and TTL or tag changes made outside the portal are recorded as drift (portal.core.drift)
instead of being written over the portal's values. A channel with an operation in flight is left to that operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.aws import kinesis_video as kvs
from portal.aws.errors import AwsNotFound
from portal.channels.models import Channel
from portal.core.drift import drift_changed, drift_found, drift_gone, drift_settle
from portal.core.models import Operation
from portal.core.refresh import Cycle, Items, Observed, Refresher, refresh_run, refresher_register

HOT_PER_CYCLE = 250  # within DescribeSignalingChannel's 300 TPS for a cycle of about a second
TAGS_PER_CYCLE = 20  # ListTagsForResource in turn: 10,000 channels every ~8 minutes at the 1 s tick
LISTING_EVERY_SECONDS = 30
SYNCED_FIELDS = ["status", "version", "channel_type", "aws_created_at", "refreshed_at", "drifted"]
# What a listing is compared with: a row's tags and endpoints (JSON) are not read for 10,000 rows every 30 s.
COMPARED_FIELDS = ["arn", "name", "message_ttl", "changed_at", *SYNCED_FIELDS]


@dataclass(frozen=True)
class ChannelItem:
    pk: int
    arn: str
    describe: bool  # DescribeSignalingChannel (and the endpoints, once ACTIVE, if the portal has none)
    read_tags: bool
    has_endpoints: bool


@dataclass(frozen=True)
class ChannelSeen:
    info: dict[str, Any] | None = None  # None with `described`: AWS does not know the channel
    described: bool = False
    endpoints: dict[str, dict[str, str]] | None = None
    tags: dict[str, str] | None = None


def _busy_ids() -> set[int]:
    """Channels with an operation queued or running: that operation owns their row until it ends."""
    return set(
        Operation.objects.filter(
            resource_type=ContentType.objects.get_for_model(Channel), status__in=Operation.UNFINISHED
        ).values_list("resource_id", flat=True)
    )


def _items(watched: set[str]) -> Items[ChannelItem]:
    busy = _busy_ids()
    known = Channel.objects.filter(arn__isnull=False).exclude(pk__in=busy)
    watched_ids = [int(key) for key in watched if key.isdigit()]
    hot = list(
        known.filter(
            Q(status__in=Channel.IN_TRANSITION)
            | Q(status__in=Channel.IN_AWS, refreshed_at__isnull=True)
            | Q(status__in=Channel.IN_AWS, pk__in=watched_ids)
        ).order_by(F("refreshed_at").asc(nulls_first=True), "pk")[:HOT_PER_CYCLE]
    )
    cold = list(
        known.filter(status=Channel.Status.ACTIVE)
        .exclude(pk__in=[channel.pk for channel in hot])
        .order_by(F("tags_read_at").asc(nulls_first=True), "pk")[:TAGS_PER_CYCLE]
    )
    return Items(
        hot=[ChannelItem(c.pk, c.arn or "", True, c.pk in watched_ids or c.tags_read_at is None, bool(c.endpoints))
             for c in hot],
        cold=[ChannelItem(c.pk, c.arn or "", False, True, True) for c in cold],
    )  # fmt: skip


async def _observe(client: Any, item: ChannelItem) -> ChannelSeen:
    info = endpoints = None
    if item.describe:
        try:
            info = await kvs.channel_describe(arn=item.arn)
        except AwsNotFound:
            return ChannelSeen(described=True)
        if info["ChannelStatus"] == "ACTIVE" and not item.has_endpoints:
            endpoints = await kvs.channel_endpoints(arn=item.arn)
    deleting = info is not None and info["ChannelStatus"] == "DELETING"
    tags = await kvs.channel_tags(arn=item.arn) if item.read_tags and not deleting else None
    return ChannelSeen(info=info, described=item.describe, endpoints=endpoints, tags=tags)


async def _listing(client: Any) -> list[dict[str, Any]]:
    return await kvs.channels_list_all()


def _ttl_of(info: dict[str, Any]) -> int:
    return int(info.get("SingleMasterConfiguration", {}).get("MessageTtlSeconds", 60))


def _synced(channel: Channel, info: dict[str, Any], now: datetime) -> bool:
    """Write what AWS says of the channel's state into the row (not its settings: those are compared). Changed?"""
    values = {
        "status": Channel.AWS_STATUS.get(info["ChannelStatus"], channel.status),
        "version": info.get("Version", ""),
        "channel_type": info.get("ChannelType", channel.channel_type),
        "aws_created_at": info.get("CreationTime") or channel.aws_created_at,
    }
    changed = any(getattr(channel, key) != value for key, value in values.items())
    for key, value in values.items():
        setattr(channel, key, value)
    channel.refreshed_at = now
    return changed


def _compare(channel: Channel, field: str, aws: Any) -> bool:
    """Record a setting changed outside the portal as drift, and one that agrees again as settled: core is told only
    when the answer changes (the row keeps which settings it last saw drifted). Changed the row?"""
    portal = getattr(channel, field)
    differs = portal != aws
    if not differs and field not in channel.drifted:
        return False
    drift_changed(channel, field, portal=portal, aws=aws)
    drifted = [name for name in channel.drifted if name != field] + ([field] if differs else [])
    changed = drifted != channel.drifted
    channel.drifted = drifted
    return changed


def _found_row(info: dict[str, Any], region: str, now: datetime) -> Channel:
    return Channel(
        arn=info["ChannelARN"], name=info["ChannelName"], region=region, origin=Channel.Origin.FOUND,
        status=Channel.AWS_STATUS.get(info["ChannelStatus"], Channel.Status.ACTIVE), version=info.get("Version", ""),
        channel_type=info.get("ChannelType", Channel.Type.SINGLE_MASTER), message_ttl=_ttl_of(info),
        aws_created_at=info.get("CreationTime"), refreshed_at=now, changed_at=now,
    )  # fmt: skip


def channels_reconcile(*, listed: list[dict[str, Any]], region: str, observed_at: datetime) -> dict[str, int]:
    """Make the registry agree with a full ListSignalingChannels: found, gone, state written, settings compared.

    A row the portal changed after the listing began, or one with an operation in flight, is left alone.
    """
    now = timezone.now()
    by_arn = {item["ChannelARN"]: item for item in listed}
    busy = _busy_ids()
    rows = Channel.objects.filter(region=region, arn__isnull=False, status__in=Channel.IN_AWS).only(*COMPARED_FIELDS)
    known = {channel.arn: channel for channel in rows}
    summary = {"listed": len(by_arn), "found": 0, "returned": 0, "gone": 0, "deleted": 0}
    synced = []
    for arn, info in by_arn.items():
        channel = known.get(arn)
        if channel is None or channel.pk in busy or channel.changed_at > observed_at:
            continue
        if _synced(channel, info, now) | _compare(channel, "message_ttl", _ttl_of(info)):
            synced.append(channel)
    Channel.objects.bulk_update(synced, SYNCED_FIELDS, batch_size=500)
    # A name the registry still holds for a live channel AWS did not list (a creation whose ARN is not recorded yet,
    # a channel with an operation in flight) is not found again under another ARN: a later listing decides.
    unrecorded = Channel.objects.filter(region=region, arn__isnull=True, status__in=Channel.IN_AWS)
    held = set(unrecorded.values_list("name", flat=True))
    for arn, channel in known.items():
        if arn in by_arn:
            continue
        if channel.pk in busy or channel.changed_at > observed_at:
            held.add(channel.name)
            continue
        summary["deleted" if channel.status == Channel.Status.DELETING else "gone"] += 1
        _gone(channel, now)
    unknown = {arn: info for arn, info in by_arn.items() if arn not in known and info["ChannelName"] not in held}
    # A row marked gone that AWS lists again (an earlier listing missed it) comes back; it is not found twice.
    returned = list(Channel.objects.filter(arn__in=list(unknown)))
    for channel in returned:
        _synced(channel, unknown.pop(channel.arn), now)
        channel.deleted_at = None
        channel.changed_at = now
        channel.save(update_fields=[*SYNCED_FIELDS, "deleted_at", "changed_at"])
        drift_settle(channel)
    found = [_found_row(info, region, now) for info in unknown.values()]
    for channel in Channel.objects.bulk_create(found):
        drift_found(channel)
    summary |= {"found": len(found), "returned": len(returned)}
    return summary


def _gone(channel: Channel, now: datetime) -> None:
    """AWS no longer knows the channel: deleted by the portal (it was DELETING), or gone outside the portal."""
    if channel.status == Channel.Status.DELETING:
        Channel.objects.filter(pk=channel.pk).update(status=Channel.Status.DELETED, deleted_at=now, changed_at=now)
        drift_settle(channel, reason="AWS finished deleting it: neither AWS nor the portal has it any more.")
        return
    Channel.objects.filter(pk=channel.pk).update(status=Channel.Status.GONE, changed_at=now)
    channel.status = Channel.Status.GONE
    drift_gone(channel)


def _apply_one(observed: Observed[ChannelItem], now: datetime) -> None:
    seen: ChannelSeen = observed.result
    channel = Channel.objects.select_for_update().get(pk=observed.item.pk)
    if channel.changed_at > observed.observed_at or channel.status not in Channel.IN_AWS:
        return
    if seen.described and seen.info is None:
        _gone(channel, now)
        return
    fields = ["refreshed_at"]
    if seen.info is not None:
        _synced(channel, seen.info, now)
        fields = SYNCED_FIELDS
        _compare(channel, "message_ttl", _ttl_of(seen.info))
    if seen.endpoints is not None:
        channel.endpoints = seen.endpoints
        fields = [*fields, "endpoints"]
    if seen.tags is not None:
        fields = [*fields, *channel_tags_seen(channel, seen.tags, now)]
    channel.save(update_fields=fields)


def channel_tags_seen(channel: Channel, tags: dict[str, str], now: datetime) -> list[str]:
    """Tags read from AWS (ListTagsForResource, by this refresh or by an operation): the first read of a found
    channel's are its tags, nothing drifted; after that a difference is drift. The fields of the row it changed."""
    fields = ["tags_read_at", "drifted"]
    if channel.origin == Channel.Origin.FOUND and channel.tags_read_at is None:
        channel.tags = tags
        fields.append("tags")
    else:
        _compare(channel, "tags", tags)
    channel.tags_read_at = now
    return fields


def _apply(cycle: Cycle[ChannelItem]) -> dict[str, int]:
    summary = {"channels": 0}
    now = timezone.now()
    with transaction.atomic():
        if cycle.listing is not None and cycle.listing_observed_at is not None:
            summary |= channels_reconcile(
                listed=cycle.listing, region=settings.AWS_REGION, observed_at=cycle.listing_observed_at
            )
        for observed in cycle.observed:
            if observed.error is None:
                _apply_one(observed, now)
                summary["channels"] += 1
    return summary


CHANNELS_REFRESHER = refresher_register(
    Refresher(
        name="channels",
        service=kvs.SERVICE,
        items=_items,
        observe=_observe,
        apply=_apply,
        listing=_listing,
        listing_every_seconds=LISTING_EVERY_SECONDS,
        concurrency=20,
    )
)


def channels_refresh() -> dict[str, int] | None:
    """One cycle of the channels refresher, now."""
    return refresh_run(CHANNELS_REFRESHER.name)
