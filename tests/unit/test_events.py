"""Core's events: the envelope read once (bare EventBridge or inside an SNS notification), the registry of handlers
per detail-type refusing a second handler, and an event nobody handles acknowledged and kept as a dead letter."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.core import events as core_events
from portal.core.events import Envelope, Unreadable, envelope_parse, event_handler_register, events_consume
from portal.core.models import DeadLetter
from portal.meetings.events import meeting_events_apply
from portal.meetings.models import Attendee, Meeting
from tests.conftest import sandbox_boto
from tests.unit.test_meeting_events import T0, _event

pytestmark = pytest.mark.django_db
EVENT = {"version": "0", "id": "e-1", "detail-type": "Chime Meeting State Change", "source": "aws.chime",
         "region": "eu-west-1", "detail": {"eventType": "chime:MeetingStarted", "meetingId": "m-1"}}  # fmt: skip


def _notification(message: str) -> str:
    """An SNS notification as SNS delivers it to a subscribed queue (raw message delivery off)."""
    topic = "arn:aws:sns:eu-west-1:123456789012:meeting-events"
    return json.dumps({"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic, "Message": message,
                       "Timestamp": "2026-12-06T22:00:00.000Z"})  # fmt: skip


@pytest.mark.parametrize("wrap", [lambda body: body, _notification], ids=["eventbridge", "sns"])
def test_the_envelope_is_read_once_into_one_object_bare_or_from_sns(wrap):
    body = wrap(json.dumps(EVENT))
    assert envelope_parse(body, "msg-1") == Envelope(
        message_id="msg-1",
        body=body,
        event_id="e-1",
        detail_type="Chime Meeting State Change",
        region="eu-west-1",
        detail={"eventType": "chime:MeetingStarted", "meetingId": "m-1"},
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json {", "Not JSON"),
        (_notification("not json {"), "Not JSON"),
        (json.dumps({"Type": "Notification"}), "Not JSON"),
        (json.dumps(["a list"]), "no detail object"),
        (json.dumps({**EVENT, "detail": "a string"}), "no detail object"),
        (json.dumps({**EVENT, "detail-type": ""}), "no detail-type"),
    ],
)
def test_what_is_no_eventbridge_event_is_unreadable(body, error):
    with pytest.raises(Unreadable, match=error):
        envelope_parse(body)


def test_a_second_handler_for_a_detail_type_is_refused():
    with pytest.raises(ImproperlyConfigured, match="already go to meeting_events_apply"):
        event_handler_register("Chime Meeting State Change", lambda envelopes: ["ignored"] * len(envelopes))
    assert core_events._HANDLERS["Chime Meeting State Change"] is meeting_events_apply


def test_an_event_nobody_handles_is_acknowledged_and_kept_as_a_dead_letter(aws_endpoint, sandbox):
    """The queue only gets what the portal configured, so a detail-type no app handles is a misconfiguration: kept
    for an operator to read, and deleted from the queue so it does not come back; the batch's other events apply.
    A meeting event inside an SNS notification applies as a bare one does."""
    meeting = Meeting.objects.create(
        meeting_id=str(uuid.uuid4()), external_meeting_id="standup", media_region="us-east-1", status="active"
    )
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    url = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    stranger = json.dumps({**EVENT, "detail-type": "EC2 Instance State-change Notification"})
    for body in (stranger, _notification(_event("AttendeeJoined", T0, meeting, "a-1", "alice"))):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    counts = events_consume(url=url, wait_seconds=0)
    assert (counts["applied"], counts["dead-letter"]) == (1, 1)
    letter = DeadLetter.objects.get()
    assert (letter.body, letter.error) == (
        stranger,
        "No handler for events of detail-type 'EC2 Instance State-change Notification'.",
    )
    assert Attendee.objects.get().state == Attendee.State.CONNECTED
    assert not sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages")
