"""PSTN end to end: the sandbox places calls and invokes the portal's handler (live server, signed), a real Celery
worker over Redis runs the operations, the meeting-events consumer builds the roster.

Dial-in: a wrong PIN, then the right one → the caller is in the roster → *6 mutes → support hangs up with a reason →
CALL_UPDATE_REQUESTED → Hangup → HANGUP → the caller's attendee is deleted; roster and audit show it. Dial-out: the
answered phone joins the meeting."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import call_command

from portal.core.models import AuditEntry, Operation
from portal.meetings.models import Attendee, Meeting
from portal.pstn.models import PhoneCall, SipMediaApplication, SipRule
from tests.backing_services import wait_until
from tests.conftest import login, sandbox_boto

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
HTMX = {"HX-Request": "true"}
SECRET = "integration-secret"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rtc-portal-sma"
DIAL_IN = "+12065550100"
CALLER = "+14155550123"
MEETING = {
    "external_meeting_id": "phone-standup",
    "media_region": "us-east-1",
    "attendee_lines": "",
    "audio": "SendReceive",
    "video": "SendReceive",
    "content": "SendReceive",
    "tags-TOTAL_FORMS": "0",
    "tags-INITIAL_FORMS": "0",
}


def _settled(kind: str) -> Operation:
    wait_until(
        lambda: (
            all(o.is_settled for o in Operation.objects.filter(kind=kind))
            and Operation.objects.filter(kind=kind).exists()
        )
    )
    operation = Operation.objects.filter(kind=kind).latest("pk")
    assert operation.status == Operation.Status.SUCCEEDED, operation.error_message
    return operation


def _consume_until(check) -> None:
    def consumed() -> bool:
        call_command("events", "--once", "--wait", "0")
        return check()

    wait_until(consumed)


def wire_dial_in(admin_client, sandbox, live_server, settings) -> Meeting:
    """An Admin wires an SMA and a SIP rule and creates a meeting; the sandbox sends the SMA's events to the portal."""
    settings.SMA_HANDLER_SECRET = SECRET
    sandbox.sma_endpoint(LAMBDA_ARN, f"{live_server.url}/pstn/sma/", SECRET)
    sma = {"name": "dial in", "aws_region": "us-east-1", "lambda_arn": LAMBDA_ARN}
    assert admin_client.post("/calls/wiring/smas/new/", sma).status_code == 303
    _settled("pstn.create_sma")
    rule = {
        "name": "main number",
        "trigger_type": "ToPhoneNumber",
        "trigger_value": DIAL_IN,
        "priority": "1",
        "target": str(SipMediaApplication.objects.get().pk),
    }
    assert admin_client.post("/calls/wiring/rules/new/", rule).status_code == 303
    _settled("pstn.create_rule")
    assert SipRule.objects.get().rule_id
    assert admin_client.post("/meetings/new/", MEETING).status_code == 303
    _settled("meetings.create")
    return Meeting.objects.get()


def test_dial_in_pin_roster_mute_hangup_by_support_and_dial_out(
    admin, support, aws_endpoint, sandbox, settings, real_worker, redis_broker, live_server, live_handler_deadline
):
    real_worker(redis_broker)
    sandbox.quotas(enabled=False)
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    settings.MEETING_EVENTS_QUEUE_URL = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    admin_client = login(admin)
    meeting = wire_dial_in(admin_client, sandbox, live_server, settings)

    page = admin_client.get(f"/meetings/{meeting.pk}/").content.decode()
    pin = re.search(r'id="dial-in-pin">(\d{6})<', page).group(1)
    assert f'id="dial-in-number">{DIAL_IN}<' in page

    call = sandbox.call_dial(CALLER, DIAL_IN)
    wrong = "000000" if pin != "000000" else "111111"
    call = sandbox.call_press(call["TransactionId"], f"{wrong}#")
    assert call["meeting"] is None
    assert call["waitingFor"] == "SpeakAndGetDigits"
    call = sandbox.call_press(call["TransactionId"], f"{pin}#")
    assert call["meeting"]["MeetingId"] == meeting.meeting_id
    row = PhoneCall.objects.get(transaction_id=call["TransactionId"])
    assert (row.state, row.from_masked, row.meeting_id) == (PhoneCall.State.IN_MEETING, "+1415*****23", meeting.pk)
    assert CALLER not in row.external_user_id

    support_client = login(support)
    _consume_until(lambda: Attendee.objects.filter(meeting=meeting, state=Attendee.State.CONNECTED).count() == 1)
    roster = support_client.get(f"/meetings/{meeting.pk}/?panel=people", headers=HTMX).content.decode()
    assert f'data-user="{row.external_user_id}"' in roster

    sandbox.call_press(call["TransactionId"], "*6")
    row.refresh_from_db()
    assert row.muted is True
    attendees = sandbox.state()["state"]["chime.meetings"][meeting.meeting_id]["attendees"]
    assert attendees[row.attendee_id]["muted"] is True
    timeline = support_client.get(f"/calls/{row.pk}/").content.decode()
    assert "wrong PIN (1 of 3)" in timeline
    assert "muted (*6)" in timeline

    response = support_client.post(f"/calls/{row.pk}/hangup/", {"reason": "caller left the line open"})
    assert response.status_code == 303
    _settled("pstn.hangup")
    wait_until(lambda: PhoneCall.objects.get(pk=row.pk).state == PhoneCall.State.ENDED)
    _settled("pstn.delete_caller_attendee")
    assert Attendee.objects.get(meeting=meeting, attendee_id=row.attendee_id).state == Attendee.State.DELETED
    assert row.attendee_id not in sandbox.state()["state"]["chime.meetings"][meeting.meeting_id]["attendees"]
    _consume_until(
        lambda: (
            "data-empty" in support_client.get(f"/meetings/{meeting.pk}/?panel=people", headers=HTMX).content.decode()
        )
    )
    hangups = AuditEntry.objects.filter(kind="pstn.hangup").order_by("id")
    assert [(e.actor_name, e.event, e.reason) for e in hangups] == [
        ("sam", "requested", "caller left the line open"),
        ("sam", "succeeded", "caller left the line open"),
    ]
    audit = support_client.get("/audit/", {"kind": "pstn.delete_caller_attendee"}).content.decode()
    assert f"Remove phone caller {row.external_user_id} from phone-standup" in audit

    response = support_client.post(f"/calls/meeting/{meeting.pk}/dial/", {"to_number": "+1 415 555 0199"})
    assert response.status_code == 303
    _settled("pstn.dial_out")
    outbound = PhoneCall.objects.get(direction=PhoneCall.Direction.OUTBOUND)
    assert outbound.to_masked == "+1415*****99"
    wait_until(
        lambda: (
            PhoneCall.objects.get(pk=outbound.pk).state == PhoneCall.State.RINGING
            and PhoneCall.objects.get(pk=outbound.pk).invocations.count() >= 2
        )
    )
    answered = sandbox.call_answer(outbound.transaction_id)
    assert answered["meeting"]["MeetingId"] == meeting.meeting_id
    assert PhoneCall.objects.get(pk=outbound.pk).state == PhoneCall.State.IN_MEETING
    _consume_until(lambda: Attendee.objects.filter(meeting=meeting, state=Attendee.State.CONNECTED).count() == 1)


def test_an_admin_orders_a_number_and_it_joins_the_account(admin, aws_endpoint, sandbox, real_worker, redis_broker):
    """Search, order and release through the real worker; the refresher follows the order until AWS settles it."""
    from portal.pstn.models import PhoneNumber, PhoneNumberOrder
    from portal.pstn.refresh import phone_numbers_refresh

    real_worker(redis_broker)
    client = login(admin)
    search = {"number_type": "TollFree", "toll_free_prefix": "888", "max_results": "3"}
    assert client.post("/calls/wiring/numbers/search/", search).status_code == 303
    found = _settled("pstn.search_numbers")
    assert found.result["numbers"] == ["+18885550100", "+18885550101", "+18885550102"]
    ordered = {"numbers": ["+18885550101"], "name": "hotline"}
    assert client.post(f"/calls/wiring/numbers/search/{found.pk}/order/", ordered).status_code == 303
    _settled("pstn.order_numbers")
    assert PhoneNumberOrder.objects.get().status == "Processing"
    sandbox.advance(5)
    phone_numbers_refresh()
    assert PhoneNumberOrder.objects.get().status == "Successful"
    number = PhoneNumber.objects.get(e164="+18885550101")
    assert (number.status, number.number_type, number.name) == ("Unassigned", "TollFree", "hotline")
    assert client.post(f"/calls/wiring/numbers/{number.pk}/release/").status_code == 303
    _settled("pstn.release_number")
    number.refresh_from_db()
    assert number.status == "DeleteInProgress"
    assert AuditEntry.objects.filter(kind="pstn.order_numbers", summary__contains="+18885550101").exists()
