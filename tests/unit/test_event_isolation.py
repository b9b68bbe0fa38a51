"""No event can stop the others: a handler that raises fails only the message it raises on, the queue delivers that
one again, and after MEETING_EVENTS_MAX_RECEIVES receives it is kept as a dead letter with the error."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection

from portal.core import events as core_events
from portal.core.events import Envelope, events_consume, events_dispatch
from portal.core.models import DeadLetter
from portal.meetings.models import Attendee, Meeting
from tests.conftest import sandbox_boto
from tests.unit.test_meeting_events import T0, _event

pytestmark = pytest.mark.django_db
BROKEN = "Portal Test Breakage"  # a detail-type whose handler raises on the messages that ask it to


def _breakage(*, breaks: bool) -> str:
    return json.dumps({"id": str(uuid.uuid4()), "detail-type": BROKEN, "detail": {"breaks": breaks}})


def _breakage_apply(envelopes: list[Envelope]) -> list[str]:
    for envelope in envelopes:
        if envelope.detail["breaks"]:
            raise RuntimeError("the handler broke on this one")
    return ["ignored"] * len(envelopes)


@pytest.fixture
def breakage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(core_events._HANDLERS, BROKEN, _breakage_apply)


@pytest.fixture
def meeting() -> Meeting:
    return Meeting.objects.create(
        meeting_id=str(uuid.uuid4()), external_meeting_id="standup", media_region="us-east-1", status="active"
    )


def test_a_handler_that_raises_fails_only_its_own_message(breakage, meeting):
    """Each handler's messages of the batch apply; the one the handler raises on is "failed", with the error, and
    the handler's other messages are given to it again one by one."""
    messages = [
        (_event("AttendeeJoined", T0, meeting, "a-1", "alice"), "1"),
        (_breakage(breaks=False), "2"),
        (_breakage(breaks=True), "3"),
        (_breakage(breaks=False), "4"),
        (_event("AttendeeJoined", T0, meeting, "a-2", "bob"), "5"),
    ]
    dispatched = events_dispatch(messages)
    assert dispatched.outcomes == ["applied", "ignored", "failed", "ignored", "applied"]
    assert dispatched.errors == {2: "RuntimeError: the handler broke on this one"}
    assert Attendee.objects.filter(state=Attendee.State.CONNECTED).count() == 2


def test_an_event_the_database_refuses_fails_alone_and_the_rest_of_its_batch_applies(meeting):
    """PostgreSQL refuses an external user id longer than its column (SQLite keeps it): a DataError in the middle of
    the meetings handler's batch. The events before it were applied (they come back duplicates when the handler gets
    each again), the one after it applies, the meeting's counts are right."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not bound a column's length")
    messages = [
        (_event("AttendeeJoined", T0, meeting, "a-1", "alice"), "1"),
        (_event("AttendeeAdded", T0, meeting, "a-2", "x" * 65), "2"),
        (_event("AttendeeJoined", T0, meeting, "a-3", "carol"), "3"),
    ]
    dispatched = events_dispatch(messages)
    assert dispatched.outcomes == ["duplicate", "failed", "applied"]
    assert "DataError: value too long" in dispatched.errors[1]
    assert set(Attendee.objects.values_list("attendee_id", flat=True)) == {"a-1", "a-3"}
    meeting.refresh_from_db()
    assert (meeting.connected_count, meeting.attendee_count) == (2, 2)


def test_a_failing_message_stays_on_the_queue_and_is_dead_lettered_after_its_last_receive(
    breakage, meeting, aws_endpoint, sandbox, settings
):
    """The consumer deletes what applied and leaves the failed message on the queue; SQS delivers it again a second
    later (ApproximateReceiveCount 2), it fails again, and with MEETING_EVENTS_MAX_RECEIVES 2 it is kept as a dead
    letter with the error, and deleted."""
    settings.MEETING_EVENTS_MAX_RECEIVES = 2
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    url = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    broken = _breakage(breaks=True)
    for body in (_event("AttendeeJoined", T0, meeting, "a-1", "alice"), broken):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    first = events_consume(url=url, wait_seconds=0)
    assert (first["applied"], first["failed"], first["dead-letter"]) == (1, 1, 0)
    assert not DeadLetter.objects.exists()
    again = events_consume(url=url, wait_seconds=5)  # the failed one, back after 1 s
    assert (again["applied"], again["failed"], again["dead-letter"]) == (0, 0, 1)
    letter = DeadLetter.objects.get()
    assert letter.body == broken
    assert letter.error == "Failed on receive 2, the last allowed: RuntimeError: the handler broke on this one"
    assert not sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages")
    assert Attendee.objects.get().state == Attendee.State.CONNECTED
