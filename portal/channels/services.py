"""Signaling channel writes. Each records its Operation(s) with the local change in one transaction; the worker does
the rest. A fleet is one batch of creations delivered in groups, each group's calls made side by side at the quota."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext

from portal.channels.models import Channel
from portal.channels.selectors import channel_aws_words
from portal.core.batches import operation_batch_each, operation_batch_record
from portal.core.errors import Conflict, NotAllowedInState
from portal.core.models import Operation, OperationBatch
from portal.core.protection import protection_parameters
from portal.core.services import OperationAsked, operation_request, operations_request_together

MAX_TAGS = 50
# Creations one courier makes side by side: one second of CreateSignalingChannel's 50 TPS, so two couriers keep the
# quota busy while each records the outcomes of its last group.
FLEET_GROUP = 50


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    channel_type: str
    ttl: int
    tags: dict[str, str]


def channel_limit(region: str) -> int:
    """AWS's signaling channels per account and region (AWS-FACTS.md)."""
    return 10_000 if region in ("us-east-1", "us-west-2") else 5_000


def channel_names_taken(*, names: list[str], region: str | None = None) -> list[str]:
    """The names among `names` the registry holds for a channel that exists (or is being created) in the region."""
    live = Channel.objects.filter(region=region or settings.AWS_REGION, status__in=Channel.IN_AWS, name__in=names)
    return sorted(live.values_list("name", flat=True))


def channel_require_active(*, channel: Channel) -> None:
    """Refuse a change to a channel that is not ACTIVE in AWS, saying why."""
    if channel.is_active:
        return
    reasons = {
        Channel.Status.CREATING: "This channel is still being created; it can be changed once it is ACTIVE.",
        Channel.Status.UPDATING: "This channel is being updated; it can be changed again once it is ACTIVE.",
        Channel.Status.DELETING: "This channel is being deleted; it cannot be changed.",
        Channel.Status.DELETED: "This channel was deleted; it cannot be changed.",
        Channel.Status.GONE: "This channel no longer exists in AWS: it was deleted outside the portal.",
        Channel.Status.FAILED: "This channel's creation failed; it cannot be changed. Create it again.",
    }
    raise NotAllowedInState(reasons.get(channel.status, "This channel cannot be changed now."))


def _room_for(count: int) -> None:
    region = settings.AWS_REGION
    existing = Channel.objects.filter(region=region, status__in=Channel.IN_AWS).count()
    if existing + count > channel_limit(region):
        raise Conflict(
            f"The account may have {channel_limit(region)} signaling channels in {region}; the portal knows "
            f"{existing}, so {count} more would go over the limit."
        )


def _create_asked(channel: Channel, spec: ChannelSpec) -> OperationAsked:
    parameters = {"channel_id": channel.pk, "name": spec.name, "channel_type": spec.channel_type, "ttl": spec.ttl,
                  "tags": spec.tags, "requested_at": timezone.now().isoformat()}  # fmt: skip
    return OperationAsked(target=f"channel {spec.name}", parameters=parameters, resource=channel)


def _new_row(spec: ChannelSpec, actor: AbstractBaseUser) -> Channel:
    return Channel(name=spec.name, region=settings.AWS_REGION, channel_type=spec.channel_type, message_ttl=spec.ttl,
                   tags=spec.tags, created_by=actor)  # fmt: skip


def channel_create(*, actor: AbstractBaseUser, spec: ChannelSpec) -> Operation:
    with transaction.atomic():
        if channel_names_taken(names=[spec.name]):
            raise Conflict(f"The portal already has a channel named {spec.name}: names are unique per region.")
        _room_for(1)
        channel = _new_row(spec, actor)
        channel.save()
        asked = _create_asked(channel, spec)
        return operation_request(
            kind="channels.create", actor=actor, target=asked.target, parameters=asked.parameters, resource=channel
        )


def channels_create_fleet(*, actor: AbstractBaseUser, specs: list[ChannelSpec], label: str) -> OperationBatch:
    """One creation per channel, requested together and followed on one batch page; couriers take them in groups and
    make each group's calls side by side, paced at CreateSignalingChannel's quota by the shared rate limiter."""
    with transaction.atomic():
        taken = channel_names_taken(names=[spec.name for spec in specs])
        if taken:
            raise Conflict(f"The portal already has {len(taken)} of these names, e.g. {', '.join(taken[:3])}.")
        _room_for(len(specs))
        channels = Channel.objects.bulk_create([_new_row(spec, actor) for spec in specs])
        operations = operations_request_together(
            kind="channels.create",
            actor=actor,
            asked=[_create_asked(channel, spec) for channel, spec in zip(channels, specs, strict=True)],
            per_courier=FLEET_GROUP,
        )
        return operation_batch_record(label=label, actor=actor, reason="", operations=operations)


def channel_update_ttl(*, actor: AbstractBaseUser, channel: Channel, ttl: int, version: str) -> Operation:
    """Set the message TTL on the version the person saw. If the portal has read a newer one meanwhile, refuse and
    show it; AWS refuses the same way (VersionMismatchException) when the change happened after the last read."""
    channel_require_active(channel=channel)
    if version != channel.version:
        raise Conflict(
            f"This channel changed since you opened it (version {version}). {channel_aws_words(channel=channel)} "
            "Look at it again and apply your change to the new version."
        )
    return operation_request(
        kind="channels.update_ttl",
        actor=actor,
        target=channel.arn or "",
        parameters={"channel_id": channel.pk, "arn": channel.arn, "version": version, "ttl": ttl},
        resource=channel,
    )


def channel_ttl_reapply(*, actor: AbstractBaseUser, channel: Channel, failed: Operation) -> Operation:
    """Apply the TTL of an update AWS refused for a stale version to the channel's current version, on request."""
    if failed.kind != "channels.update_ttl" or failed.parameters.get("channel_id") != channel.pk:
        raise Conflict("That operation is not a message TTL update of this channel.")
    if channel.version == failed.parameters["version"]:
        raise Conflict("The portal has not read the channel's new version yet; try again in a moment.")
    return channel_update_ttl(actor=actor, channel=channel, ttl=failed.parameters["ttl"], version=channel.version)


def _change(kind: str, *, actor: AbstractBaseUser, channel: Channel, **parameters: object) -> Operation:
    channel_require_active(channel=channel)
    return operation_request(
        kind=kind,
        actor=actor,
        target=channel.arn or "",
        parameters={"channel_id": channel.pk, "arn": channel.arn, **parameters},
        resource=channel,
    )


def channel_tag(*, actor: AbstractBaseUser, channel: Channel, tags: dict[str, str]) -> Operation:
    if len(channel.tags | tags) > MAX_TAGS:
        raise Conflict(f"This channel already has {len(channel.tags)} tags; KVS allows {MAX_TAGS}.")
    return _change("channels.tag", actor=actor, channel=channel, tags=tags)


def channel_untag(*, actor: AbstractBaseUser, channel: Channel, keys: list[str]) -> Operation:
    return _change("channels.untag", actor=actor, channel=channel, keys=keys)


def channel_ice_servers(*, actor: AbstractBaseUser, channel: Channel) -> Operation:
    """TURN servers for a client of this channel; their passwords are shown once, to the requester."""
    channel_require_active(channel=channel)
    if not channel.https_endpoint:
        raise NotAllowedInState("The portal has not read this channel's HTTPS endpoint yet; try again in a moment.")
    return _change(
        "channels.ice_servers",
        actor=actor,
        channel=channel,
        https_endpoint=channel.https_endpoint,
        client_id=f"rtc-portal-{actor.get_username()}"[:256],
    )


def channel_delete(
    *, actor: AbstractBaseUser | None, channel: Channel, reason: str = "", keep_if_protected: bool = False
) -> Operation:
    """DeleteSignalingChannel on the version the portal holds. `keep_if_protected` (a cleanup run): not when AWS
    holds the channel tagged PROTECTION_TAG as the worker acts; a person's deletion is not refused by the tag."""
    channel_require_active(channel=channel)
    with transaction.atomic():
        Channel.objects.filter(pk=channel.pk).update(status=Channel.Status.DELETING, changed_at=timezone.now())
        return operation_request(
            kind="channels.delete",
            actor=actor,
            target=channel.arn or "",
            reason=reason,
            parameters={
                "channel_id": channel.pk,
                "arn": channel.arn,
                "version": channel.version,
                **protection_parameters(keep_if_protected),
            },
            resource=channel,
        )


def channels_delete(*, actor: AbstractBaseUser, channels: list[Channel]) -> OperationBatch:
    """Delete several channels: one operation each, all requested in one transaction or none, on one batch page."""
    label = f"Delete {len(channels)} {ngettext('signaling channel', 'signaling channels', len(channels))}"
    return operation_batch_each(
        label=label, actor=actor, rows=channels, request=lambda channel: channel_delete(actor=actor, channel=channel)
    )


def channel_tags_set(*, actor: AbstractBaseUser, channel: Channel, tags: dict[str, str]) -> Operation:
    """Make the channel's tags in AWS exactly `tags` (the portal's, after they were changed outside the portal): one
    operation that reads them, untags what should not be there and tags what differs."""
    return _change("channels.tags_set", actor=actor, channel=channel, tags=tags)
