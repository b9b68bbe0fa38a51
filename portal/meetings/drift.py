"""Meetings' drift: AWS has no ListMeetings, so a meeting is found through its events and is gone when GetMeeting
no longer knows it (AWS ended it). Nothing of a meeting can be changed outside the portal that it reads back, so
there is nothing to adopt or re-apply; a found meeting is kept as found, and ending it through the portal settles it."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.utils import timezone

from portal.core.drift import DriftKind, drift_kind_register
from portal.meetings.models import Meeting
from portal.meetings.operations import meeting_mark_ended


def _mark_gone(row: Model, actor: AbstractBaseUser) -> None:
    meeting = Meeting.objects.select_for_update().get(pk=row.pk)
    if meeting.status != Meeting.Status.ENDED:
        meeting_mark_ended(meeting=meeting, reason=Meeting.EndReason.BY_AWS, at=timezone.now())


MEETING_DRIFT = drift_kind_register(
    DriftKind(
        name="meeting",
        label="Meetings",
        model=Meeting,
        adopt=None,
        reapply=None,
        mark_gone=_mark_gone,
        removed_by=("meetings.end",),
    )
)
