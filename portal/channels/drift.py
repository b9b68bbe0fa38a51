"""Signaling channels as a drift kind: a TTL or tags changed outside the portal is adopted (the registry takes AWS's
value) or re-applied (an operation puts the portal's value back: UpdateSignalingChannel on the channel's current
version, or Tag/UntagResource); a found channel is kept as found; a channel gone from AWS is marked gone. Nothing
here deletes in AWS; a deletion through the portal settles the channel's open drift."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.utils import timezone

from portal.channels.models import Channel
from portal.channels.services import channel_tags_set, channel_update_ttl
from portal.core.drift import DriftKind, drift_kind_register
from portal.core.models import Operation

COMPARED = ("message_ttl", "tags")


def _adopt(row: Model, field: str, aws_value: Any) -> None:
    """The row takes AWS's TTL or tags."""
    channel = Channel.objects.select_for_update().get(pk=row.pk)
    setattr(channel, field, aws_value)
    channel.drifted = [name for name in channel.drifted if name != field]
    channel.changed_at = timezone.now()
    channel.save(update_fields=[field, "drifted", "changed_at"])


def _reapply(row: Model, field: str, portal_value: Any, actor: AbstractBaseUser) -> Operation:
    channel = Channel.objects.get(pk=row.pk)
    if field == "message_ttl":
        return channel_update_ttl(actor=actor, channel=channel, ttl=portal_value, version=channel.version)
    return channel_tags_set(actor=actor, channel=channel, tags=portal_value)


def _mark_gone(row: Model, actor: AbstractBaseUser) -> None:
    Channel.objects.filter(pk=row.pk).update(status=Channel.Status.GONE, changed_at=timezone.now())


CHANNEL_DRIFT = drift_kind_register(
    DriftKind(
        name="channel",
        label="Signaling channels",
        model=Channel,
        adopt=_adopt,
        reapply=_reapply,
        mark_gone=_mark_gone,
        removed_by=("channels.delete",),
        field_labels={"message_ttl": "Message TTL"},
    )
)
