"""Meetings' drift: AWS has no ListMeetings, so a meeting is found through its events and is gone when GetMeeting
no longer knows it (AWS ended it). The one field read back is its tags, when a cleanup run's end reads them just
before acting and finds them protected (portal.core.protection): AWS's tags may be adopted, not re-applied. A found
meeting is kept as found, and ending it through the portal settles it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.utils import timezone

from portal.core.drift import DriftKind, drift_kind_register
from portal.meetings.models import Meeting
from portal.meetings.operations import meeting_mark_ended


def _adopt(row: Model, field: str, aws_value: Any) -> None:
    """The row takes AWS's tags."""
    if field == "tags":
        Meeting.objects.filter(pk=row.pk).update(tags=aws_value, changed_at=timezone.now())


def _mark_gone(row: Model, actor: AbstractBaseUser) -> None:
    meeting = Meeting.objects.select_for_update().get(pk=row.pk)
    if meeting.status != Meeting.Status.ENDED:
        meeting_mark_ended(meeting=meeting, reason=Meeting.EndReason.BY_AWS, at=timezone.now())


MEETING_DRIFT = drift_kind_register(
    DriftKind(
        name="meeting",
        label="Meetings",
        model=Meeting,
        adopt=_adopt,
        reapply=None,
        mark_gone=_mark_gone,
        removed_by=("meetings.end",),
    )
)
