"""Meetings end to end: browser requests → views → Operation → real Celery worker over Redis → sandbox → meeting
events on the sandbox's SQS queue → the consumer → the roster, the attendees table and the audit log."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command

from portal.core.models import AuditEntry, Operation
from portal.meetings.models import Attendee, Meeting
from rtc_sandbox.client import SandboxControlError
from tests.backing_services import wait_until
from tests.conftest import login, sandbox_boto

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
HTMX = {"HX-Request": "true"}
CREATE = {
    "external_meeting_id": "incident-review",
    "media_region": "us-east-1",
    "attendee_lines": "alice\nbob\ncarol",
    "audio": "SendReceive",
    "video": "SendReceive",
    "content": "SendReceive",
    "tags-TOTAL_FORMS": "0",
    "tags-INITIAL_FORMS": "0",
}


def _settled(operation: Operation) -> Operation:
    wait_until(lambda: Operation.objects.get(pk=operation.pk).is_settled)
    return Operation.objects.get(pk=operation.pk)


def _consume_until(check) -> None:
    """What the meeting-events process does, one receive at a time, until the registry shows what is expected."""

    def consumed() -> bool:
        call_command("events", "--once", "--wait", "0")
        return check()

    wait_until(consumed)


def _roster(client, meeting: Meeting) -> str:
    return client.get(f"/meetings/{meeting.pk}/?panel=people", headers=HTMX).content.decode()


def test_create_join_roster_revoke_refused_and_audited(
    admin, support, aws_endpoint, sandbox, settings, real_worker, redis_broker
):
    real_worker(redis_broker)
    sandbox.quotas(enabled=False)
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    settings.MEETING_EVENTS_QUEUE_URL = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]

    admin_client = login(admin)
    assert admin_client.post("/meetings/new/", CREATE).status_code == 303
    created = _settled(Operation.objects.get(kind="meetings.create"))
    assert created.status == Operation.Status.SUCCEEDED, created.error_message
    meeting = Meeting.objects.get()
    assert (meeting.status, Attendee.objects.filter(meeting=meeting).count()) == (Meeting.Status.ACTIVE, 3)

    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    tokens = {a["ExternalUserId"]: a for a in chime.list_attendees(MeetingId=meeting.meeting_id)["Attendees"]}
    sandbox.meeting_join(tokens["alice"]["JoinToken"])
    sandbox.meeting_join(tokens["bob"]["JoinToken"])
    support_client = login(support)
    _consume_until(lambda: Attendee.objects.filter(meeting=meeting, state=Attendee.State.CONNECTED).count() == 2)
    roster = _roster(support_client, meeting)
    assert 'data-user="alice"' in roster
    assert 'data-user="bob"' in roster
    assert 'data-user="carol"' not in roster

    alice = Attendee.objects.get(meeting=meeting, external_user_id="alice")
    response = support_client.post(
        f"/meetings/{meeting.pk}/attendees/{alice.pk}/revoke/", {"reason": "shared the dial-in publicly"}
    )
    assert response.status_code == 302
    revoked = _settled(Operation.objects.get(kind="meetings.revoke_attendee"))
    assert revoked.status == Operation.Status.SUCCEEDED, revoked.error_message
    with pytest.raises(SandboxControlError):
        sandbox.meeting_join(tokens["alice"]["JoinToken"])
    sandbox.meeting_join(tokens["carol"]["JoinToken"])  # the others' tokens still join

    _consume_until(lambda: 'data-user="carol"' in _roster(support_client, meeting))
    roster = _roster(support_client, meeting)
    assert 'data-user="alice"' not in roster
    assert 'data-user="bob"' in roster
    attendees = support_client.get(f"/meetings/{meeting.pk}/?panel=people", headers=HTMX).content.decode()
    assert f'id="attendee-{alice.pk}" data-state="deleted"' in attendees
    timeline = support_client.get(f"/meetings/{meeting.pk}/?panel=timeline", headers=HTMX).content.decode()
    assert "AttendeeDeleted</strong> alice" in timeline

    entries = AuditEntry.objects.filter(kind="meetings.revoke_attendee").order_by("id")
    assert [(e.actor_name, e.event) for e in entries] == [("sam", "requested"), ("sam", "succeeded")]
    assert {e.reason for e in entries} == {"shared the dial-in publicly"}
    audit = support_client.get("/audit/", {"kind": "meetings.revoke_attendee"}).content.decode()
    assert "shared the dial-in publicly" in audit
    assert f"Revoke attendee alice ({alice.attendee_id}) from incident-review" in audit
