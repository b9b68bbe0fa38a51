"""Meetings as cleanup sees them: ended (DeleteMeeting), when old, idle (nobody connected) or running too long."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, Model, QuerySet

from portal.cleanup.kinds import CleanupKind, Condition, Described, cleanup_kind_register
from portal.core.drift import drift_aws_value
from portal.core.durations import duration_in_words
from portal.core.models import Operation
from portal.meetings.models import Meeting
from portal.meetings.services import meeting_end


def _meetings() -> QuerySet[Model]:
    live = (Meeting.Status.CREATING, Meeting.Status.ACTIVE, Meeting.Status.ENDING)
    return Meeting.objects.filter(status__in=live, meeting_id__isnull=False).annotate(
        last_attendee_change=Max("attendees__state_at"), aws_tags=drift_aws_value(Meeting, "tags")
    )


def _describe(row: Model) -> Described:
    assert isinstance(row, Meeting)
    return Described(
        name=row.external_meeting_id, tags=row.tags, origin=row.origin, aws_tags=getattr(row, "aws_tags", None) or {}
    )


def _evaluate(row: Model, condition: str, threshold: timedelta, now: datetime) -> str | None:
    assert isinstance(row, Meeting)
    age = now - row.created_at
    if condition == Condition.OLDER_THAN:
        return f"created {duration_in_words(age)} ago" if age >= threshold else None
    if condition == Condition.RUNNING_LONGER_THAN:
        return f"running for {duration_in_words(age)}" if age >= threshold else None
    if condition == Condition.IDLE_FOR and row.connected_count == 0:
        changed = getattr(row, "last_attendee_change", None)
        idle = now - max(changed or row.created_at, row.created_at)
        return f"nobody connected for {duration_in_words(idle)}" if idle >= threshold else None
    return None


def _busy(row: Model) -> str:
    assert isinstance(row, Meeting)
    return {Meeting.Status.CREATING: "being created", Meeting.Status.ENDING: "being ended"}.get(row.status, "")


def _end(row: Model, actor: AbstractBaseUser | None, reason: str) -> Operation:
    assert isinstance(row, Meeting)
    return meeting_end(actor=actor, meeting=row, reason=reason, keep_if_protected=True)


MEETING_CLEANUP = cleanup_kind_register(
    CleanupKind(
        name="meeting",
        label="Meetings",
        action="end",
        action_label="End the meeting",
        operation_kind="meetings.end",
        conditions=(Condition.OLDER_THAN, Condition.IDLE_FOR, Condition.RUNNING_LONGER_THAN),
        candidates=_meetings,
        describe=_describe,
        evaluate=_evaluate,
        busy=_busy,
        act=_end,
    )
)
