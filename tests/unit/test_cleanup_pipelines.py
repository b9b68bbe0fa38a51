"""Cleanup of capture pipelines: the condition "recording with nobody in the meeting" and the stop it requests."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.cleanup.models import CleanupPolicy, CleanupRun
from portal.cleanup.services import cleanup_plan, cleanup_run
from portal.core.models import Operation
from portal.meetings.models import Meeting
from portal.pipelines.models import CapturePipeline

pytestmark = pytest.mark.django_db


def test_a_capture_recording_an_empty_meeting_is_stopped(admin, monkeypatch):
    monkeypatch.setattr("portal.core.services._enqueue", lambda operation_id, countdown=0: None)
    meeting = Meeting.objects.create(meeting_id=str(uuid.uuid4()), external_meeting_id="standup",
                                     media_region="us-east-1", status="active", connected_count=0)  # fmt: skip
    busy = Meeting.objects.create(meeting_id=str(uuid.uuid4()), external_meeting_id="all-hands",
                                  media_region="us-east-1", status="active", connected_count=3)  # fmt: skip
    started = timezone.now() - timedelta(minutes=30)
    for room in (meeting, busy):
        CapturePipeline.objects.create(meeting=room, status="InProgress", sink_bucket="recordings",
                                       media_pipeline_id=str(uuid.uuid4()), started_at=started)  # fmt: skip
    policy = CleanupPolicy.objects.create(name="empty rooms", kind="capture", condition="idle_for", amount=10,
                                          unit="minutes", max_actions=5)  # fmt: skip
    plan = cleanup_plan(policy=policy, now=timezone.now())
    assert [(entry.label, entry.why) for entry in plan.act] == [
        ("standup", "recording with nobody in the meeting for 30 minutes")
    ]
    run = cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL)
    operation = Operation.objects.get(kind="pipelines.stop")
    assert run.items.get().operation == operation
    assert operation.parameters["external_meeting_id"] == "standup"
    assert cleanup_plan(policy=policy, now=timezone.now()).skip[0].why == "in transition: being stopped"
