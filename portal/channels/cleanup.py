"""Signaling channels as cleanup sees them: deleted (DeleteSignalingChannel on the current version) when old."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model, QuerySet

from portal.channels.models import Channel
from portal.channels.services import channel_delete
from portal.cleanup.kinds import CleanupKind, Condition, Described, cleanup_kind_register
from portal.core.drift import drift_aws_value
from portal.core.durations import duration_in_words
from portal.core.models import Operation


def _channels() -> QuerySet[Model]:
    return Channel.objects.filter(status__in=Channel.IN_AWS, arn__isnull=False).annotate(
        aws_tags=drift_aws_value(Channel, "tags")
    )


def _describe(row: Model) -> Described:
    assert isinstance(row, Channel)
    return Described(name=row.name, tags=row.tags, origin=row.origin, aws_tags=getattr(row, "aws_tags", None) or {})


def _evaluate(row: Model, condition: str, threshold: timedelta, now: datetime) -> str | None:
    assert isinstance(row, Channel)
    if condition != Condition.OLDER_THAN:
        return None
    age = now - (row.aws_created_at or row.created_at)
    return f"created {duration_in_words(age)} ago" if age >= threshold else None


def _busy(row: Model) -> str:
    assert isinstance(row, Channel)
    return {Channel.Status.CREATING: "being created", Channel.Status.UPDATING: "being updated",
            Channel.Status.DELETING: "being deleted"}.get(row.status, "")  # fmt: skip


def _delete(row: Model, actor: AbstractBaseUser | None, reason: str) -> Operation:
    assert isinstance(row, Channel)
    return channel_delete(actor=actor, channel=row, reason=reason, keep_if_protected=True)


CHANNEL_CLEANUP = cleanup_kind_register(
    CleanupKind(
        name="channel",
        label="Signaling channels",
        action="delete",
        action_label="Delete the channel",
        operation_kind="channels.delete",
        conditions=(Condition.OLDER_THAN,),
        candidates=_channels,
        describe=_describe,
        evaluate=_evaluate,
        busy=_busy,
        act=_delete,
    )
)
