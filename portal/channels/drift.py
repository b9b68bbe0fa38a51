"""Signaling channels as a drift kind: a TTL or tags changed outside the portal is adopted (the registry takes AWS's
value) or re-applied (an operation puts the portal's value back: UpdateSignalingChannel on the channel's current
version, or Tag/UntagResource); a channel gone from AWS is marked gone. Nothing here deletes in AWS."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.utils import timezone

from portal.channels.models import Channel
from portal.core.drift import DriftKind, drift_kind_register
from portal.core.models import Operation

FIELDS = ("message_ttl", "tags")


def _adopt(row: Model, field: str, aws: Any) -> None:
    if field not in FIELDS:
        raise ValueError(f"A channel's {field} is not something the portal compares.")
    channel = Channel.objects.select_for_update().get(pk=row.pk)
    setattr(channel, field, aws)
    channel.drifted = [name for name in channel.drifted if name != field]
    channel.changed_at = timezone.now()
    channel.save(update_fields=[field, "drifted", "changed_at"])


def _reapply(row: Model, field: str, aws: Any, actor: AbstractBaseUser) -> Operation:
    from portal.channels.services import channel_tags_set, channel_update_ttl

    channel = Channel.objects.get(pk=row.pk)
    if field == "message_ttl":
        return channel_update_ttl(actor=actor, channel=channel, ttl=channel.message_ttl, version=channel.version)
    if field == "tags":
        return channel_tags_set(actor=actor, channel=channel, aws_tags=aws)
    raise ValueError(f"A channel's {field} is not something the portal compares.")


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
    )
)
