"""Capture pipelines as cleanup sees them: stopped (DeleteMediaCapturePipeline) when running too long, old, or
running with nobody in the meeting."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, Model, QuerySet

from portal.cleanup.kinds import CleanupKind, Condition, Described, cleanup_kind_register
from portal.core.drift import drift_aws_value
from portal.core.durations import duration_in_words
from portal.core.models import Operation
from portal.pipelines.models import CapturePipeline
from portal.pipelines.services import capture_stop


def _captures() -> QuerySet[Model]:
    return (
        CapturePipeline.objects.filter(status__in=CapturePipeline.ACTIVE, media_pipeline_id__isnull=False)
        .select_related("meeting")
        .annotate(
            last_attendee_change=Max("meeting__attendees__state_at"), aws_tags=drift_aws_value(CapturePipeline, "tags")
        )
    )


def _describe(row: Model) -> Described:
    assert isinstance(row, CapturePipeline)
    name = row.meeting.external_meeting_id if row.meeting else row.media_pipeline_id or ""
    return Described(name=name, tags=row.tags, origin=row.origin, aws_tags=getattr(row, "aws_tags", None) or {})


def _evaluate(row: Model, condition: str, threshold: timedelta, now: datetime) -> str | None:
    assert isinstance(row, CapturePipeline)
    started = row.started_at or row.created_at
    if condition == Condition.OLDER_THAN:
        age = now - row.created_at
        return f"started {duration_in_words(age)} ago" if age >= threshold else None
    if condition == Condition.RUNNING_LONGER_THAN:
        running = now - started
        return f"recording for {duration_in_words(running)}" if running >= threshold else None
    if condition == Condition.IDLE_FOR and row.meeting is not None and row.meeting.connected_count == 0:
        changed = getattr(row, "last_attendee_change", None)
        idle = now - max(changed or started, started)
        return f"recording with nobody in the meeting for {duration_in_words(idle)}" if idle >= threshold else None
    return None


def _busy(row: Model) -> str:
    assert isinstance(row, CapturePipeline)
    if row.status == CapturePipeline.Status.REQUESTED:
        return "being started"
    if row.status == CapturePipeline.Status.STOPPING or row.stop_operation_id is not None:
        return "being stopped"
    return ""


def _stop(row: Model, actor: AbstractBaseUser | None, reason: str) -> Operation:
    assert isinstance(row, CapturePipeline)
    return capture_stop(actor=actor, capture=row, why=reason[:256], keep_if_protected=True)


CAPTURE_CLEANUP = cleanup_kind_register(
    CleanupKind(
        name="capture",
        label="Capture pipelines",
        action="stop",
        action_label="Stop the capture",
        operation_kind="pipelines.stop",
        conditions=(Condition.OLDER_THAN, Condition.IDLE_FOR, Condition.RUNNING_LONGER_THAN),
        candidates=_captures,
        describe=_describe,
        evaluate=_evaluate,
        busy=_busy,
        act=_stop,
    )
)
