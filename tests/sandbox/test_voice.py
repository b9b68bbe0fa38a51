"""chime-sdk-voice in the sandbox: the model's operations and errors, and simulated calls that invoke a handler
(here the portal's pure handler, served over HTTP with ports that create attendees in the sandbox)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from portal.pstn import handler
from portal.pstn.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_valid
from portal.sandbox.client import SandboxControlError

SECRET = "sandbox-test-secret"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rtc-portal-sma"
DIAL_IN = "+12065550100"
CALLER = "+14155550123"


def _code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return raised.value.response["Error"]["Code"]


class SandboxPorts:
    def __init__(self, chime: Any, pins: dict[str, handler.MeetingRef]) -> None:
        self.chime, self.pins, self.released = chime, pins, []

    def pin_locked_out(self, *, caller: str, dialled: str) -> bool:
        return False

    def pin_check(self, pin: str, *, caller: str, dialled: str) -> handler.PinChecked:
        return handler.PinChecked(self.pins.get(pin))

    def meeting_for_key(self, key: str) -> handler.MeetingRef | None:
        return next((m for m in self.pins.values() if m.key == key), None)

    def attendee_create(self, *, meeting: handler.MeetingRef, transaction_id: str, caller: str) -> handler.Joined | str:
        made = self.chime.create_attendee(MeetingId=meeting.meeting_id, ExternalUserId=f"pstn-{transaction_id[:8]}")
        return handler.Joined(made["Attendee"]["AttendeeId"], made["Attendee"]["JoinToken"])

    def attendee_release(self, *, transaction_id: str) -> None:
        self.released.append(transaction_id)


@pytest.fixture
def voice(boto_client):
    return boto_client("chime-sdk-voice")


@pytest.fixture
def chime(boto_client):
    return boto_client("chime-sdk-meetings")


@pytest.fixture
def served(sandbox, chime) -> Iterator[dict[str, Any]]:
    """The pure handler on a local HTTP port; every invocation it receives is kept (signature checked)."""
    meeting = chime.create_meeting(
        ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="dial-in"
    )["Meeting"]
    state: dict[str, Any] = {"events": [], "meeting": meeting, "unsigned": 0, "answer": None}
    ports = SandboxPorts(chime, {"123456": handler.MeetingRef("1", meeting["MeetingId"])})
    state["ports"] = ports

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if not signature_valid(SECRET, self.headers[TIMESTAMP_HEADER], self.headers[SIGNATURE_HEADER], body):
                state["unsigned"] += 1
            event = json.loads(body)
            state["events"].append(event)
            document = state["answer"](event) if state["answer"] else handler.answer(event, ports).response()
            answer = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    sandbox.sma_endpoint(LAMBDA_ARN, f"http://127.0.0.1:{server.server_address[1]}/", SECRET)
    yield state
    server.shutdown()
    server.server_close()


def _wire(voice) -> tuple[str, str]:
    sma = voice.create_sip_media_application(
        AwsRegion="us-east-1", Name="dial in", Endpoints=[{"LambdaArn": LAMBDA_ARN}]
    )["SipMediaApplication"]
    rule = voice.create_sip_rule(
        Name="main number",
        TriggerType="ToPhoneNumber",
        TriggerValue=DIAL_IN,
        TargetApplications=[
            {"SipMediaApplicationId": sma["SipMediaApplicationId"], "Priority": 1, "AwsRegion": "us-east-1"}
        ],
    )["SipRule"]
    return sma["SipMediaApplicationId"], rule["SipRuleId"]


def _types(served: dict[str, Any]) -> list[str]:
    return [event["InvocationEventType"] for event in served["events"]]


def test_sip_media_applications_and_rules_follow_the_model(voice):
    sma_id, rule_id = _wire(voice)
    assert voice.get_sip_media_application(SipMediaApplicationId=sma_id)["SipMediaApplication"]["Name"] == "dial in"
    with pytest.raises(ClientError) as raised:
        voice.create_sip_media_application(
            AwsRegion="us-east-1", Name="bad/name", Endpoints=[{"LambdaArn": LAMBDA_ARN}]
        )
    assert _code(raised) == "BadRequestException"
    with pytest.raises(ClientError) as raised:
        voice.delete_sip_media_application(SipMediaApplicationId=sma_id)
    assert _code(raised) == "ConflictException"  # a rule targets it
    with pytest.raises(ClientError) as raised:
        voice.delete_sip_rule(SipRuleId=rule_id)
    assert _code(raised) == "ConflictException"  # not disabled yet
    number = voice.get_phone_number(PhoneNumberId=DIAL_IN)["PhoneNumber"]
    assert (number["Status"], number["Associations"][0]["Value"]) == ("Assigned", rule_id)
    voice.update_sip_rule(SipRuleId=rule_id, Name="main number", Disabled=True)
    voice.delete_sip_rule(SipRuleId=rule_id)
    voice.delete_sip_media_application(SipMediaApplicationId=sma_id)
    assert voice.list_sip_media_applications()["SipMediaApplications"] == []
    with pytest.raises(ClientError) as raised:
        voice.get_sip_rule(SipRuleId=rule_id)
    assert _code(raised) == "NotFoundException"
    assert len(voice.list_phone_numbers()["PhoneNumbers"]) == 10


def test_calls_validate_their_numbers_and_unknown_calls_are_not_found(voice):
    sma_id, _ = _wire(voice)
    with pytest.raises(ClientError) as raised:
        voice.create_sip_media_application_call(
            FromPhoneNumber="+99", ToPhoneNumber="not a number", SipMediaApplicationId=sma_id
        )
    assert _code(raised) == "BadRequestException"
    with pytest.raises(ClientError) as raised:
        voice.update_sip_media_application_call(
            SipMediaApplicationId=sma_id, TransactionId=str(uuid.uuid4()), Arguments={"Operation": "Hangup"}
        )
    assert _code(raised) == "NotFoundException"


def test_dial_in_wrong_pin_right_pin_mute_and_hangup(voice, sandbox, served):
    _wire(voice)
    call = sandbox.call_dial(CALLER, DIAL_IN)
    assert (served["unsigned"], call["waitingFor"]) == (0, "SpeakAndGetDigits")
    call = sandbox.call_press(call["TransactionId"], "000000#")
    assert call["waitingFor"] == "SpeakAndGetDigits"
    assert call["meeting"] is None
    call = sandbox.call_press(call["TransactionId"], "123456#")
    assert call["meeting"]["MeetingId"] == served["meeting"]["MeetingId"]
    assert [p["ParticipantTag"] for p in call["participants"]] == ["LEG-A", "LEG-B"]
    assert call["listening"] is True
    meeting = sandbox.state()["state"]["chime.meetings"][served["meeting"]["MeetingId"]]
    attendee = meeting["attendees"][call["meeting"]["AttendeeId"]]
    assert attendee["connected"] is True
    assert "AttendeeJoined" in [e["eventType"].removeprefix("chime:") for e in meeting["events"]]

    sandbox.call_press(call["TransactionId"], "*6")
    meeting = sandbox.state()["state"]["chime.meetings"][served["meeting"]["MeetingId"]]
    assert meeting["attendees"][call["meeting"]["AttendeeId"]]["muted"] is True

    ended = sandbox.call_hangup(call["TransactionId"])
    assert ended["state"] == "ended"
    assert _types(served) == [
        "NEW_INBOUND_CALL",
        *["ACTION_SUCCESSFUL"] * 4,  # wrong PIN, right PIN, JoinChimeMeeting, ReceiveDigits
        "DIGITS_RECEIVED",
        "ACTION_SUCCESSFUL",  # ModifyChimeMeetingAttendees
        "HANGUP",
    ]
    assert served["events"][1]["ActionData"]["ReceivedDigits"] == "000000"
    assert served["ports"].released == [call["TransactionId"]]
    meeting = sandbox.state()["state"]["chime.meetings"][served["meeting"]["MeetingId"]]
    assert meeting["attendees"][call["meeting"]["AttendeeId"]]["connected"] is False
    with pytest.raises(SandboxControlError):
        sandbox.call_press(call["TransactionId"], "1")


def test_three_wrong_pins_hang_up(voice, sandbox, served):
    _wire(voice)
    call = sandbox.call_dial(CALLER, DIAL_IN)
    for _ in range(3):
        call = sandbox.call_press(call["TransactionId"], "111111#")
    assert call["state"] == "ended"
    assert _types(served)[-1] == "HANGUP"
    assert served["events"][-1]["ActionData"]["Parameters"]["ParticipantTag"] == "LEG-A"


def test_dial_out_is_answered_and_joins_then_hung_up_by_update(voice, sandbox, served):
    sma_id, _ = _wire(voice)
    transaction = voice.create_sip_media_application_call(
        FromPhoneNumber=DIAL_IN, ToPhoneNumber=CALLER, SipMediaApplicationId=sma_id, ArgumentsMap={"meeting": "1"}
    )["SipMediaApplicationCall"]["TransactionId"]
    deadline = time.monotonic() + 5
    while "RINGING" not in _types(served) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served["events"][0]["ActionData"]["Parameters"]["Arguments"] == {"meeting": "1"}
    call = sandbox.call_answer(transaction)
    assert call["meeting"]["MeetingId"] == served["meeting"]["MeetingId"]
    voice.update_sip_media_application_call(
        SipMediaApplicationId=sma_id, TransactionId=transaction, Arguments={"Operation": "Hangup"}
    )
    while "HANGUP" not in _types(served) and time.monotonic() < deadline + 5:
        time.sleep(0.05)  # the call is ended first, then the handler hears HANGUP
    assert sandbox.call_get(transaction)["state"] == "ended"
    assert _types(served)[-2:] == ["CALL_UPDATE_REQUESTED", "HANGUP"]


def test_an_invalid_answer_is_reported_as_invalid_lambda_response_then_the_call_drops(voice, sandbox, served):
    _wire(voice)
    served["answer"] = lambda event: {"SchemaVersion": "1.0", "Actions": [{"Type": "Speak"}] * 11}
    call = sandbox.call_dial(CALLER, DIAL_IN)
    assert _types(served) == ["NEW_INBOUND_CALL", "INVALID_LAMBDA_RESPONSE"]
    assert served["events"][1]["ActionData"]["ErrorType"] == "InvalidResponse"
    assert call["state"] == "ended"


def test_a_failing_action_is_action_failed_with_its_error_type(voice, sandbox, served):
    _wire(voice)
    served["answer"] = lambda event: (
        {"SchemaVersion": "1.0", "Actions": [{"Type": "JoinChimeMeeting", "Parameters": {"JoinToken": "forged"}}]}
        if event["InvocationEventType"] == "NEW_INBOUND_CALL"
        else {"SchemaVersion": "1.0", "Actions": []}
    )
    sandbox.call_dial(CALLER, DIAL_IN)
    failed = served["events"][1]
    assert failed["InvocationEventType"] == "ACTION_FAILED"
    assert (failed["ActionData"]["Type"], failed["ActionData"]["ErrorType"]) == (
        "JoinChimeMeeting",
        "InvalidActionParameter",
    )


def test_a_number_without_a_rule_rings_out(sandbox):
    with pytest.raises(SandboxControlError) as raised:
        sandbox.call_dial(CALLER, "+12065550109")
    assert raised.value.code == "NoSipRule"


def test_with_an_answer_delay_a_dialled_phone_picks_up_by_itself(voice, sandbox, served, monkeypatch):
    monkeypatch.setenv("SANDBOX_CALL_ANSWER_SECONDS", "0")
    sma_id, _ = _wire(voice)
    transaction = voice.create_sip_media_application_call(
        FromPhoneNumber=DIAL_IN, ToPhoneNumber=CALLER, SipMediaApplicationId=sma_id, ArgumentsMap={"meeting": "1"}
    )["SipMediaApplicationCall"]["TransactionId"]
    deadline = time.monotonic() + 5
    while sandbox.call_get(transaction)["meeting"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.call_get(transaction)["meeting"]["MeetingId"] == served["meeting"]["MeetingId"]
    assert "CALL_ANSWERED" in _types(served)


def test_an_outbound_call_hung_up_while_ringing_ends(voice, sandbox, served):
    sma_id, _ = _wire(voice)
    transaction = voice.create_sip_media_application_call(
        FromPhoneNumber=DIAL_IN, ToPhoneNumber=CALLER, SipMediaApplicationId=sma_id, ArgumentsMap={"meeting": "1"}
    )["SipMediaApplicationCall"]["TransactionId"]
    deadline = time.monotonic() + 5
    while "RINGING" not in _types(served) and time.monotonic() < deadline:
        time.sleep(0.05)
    voice.update_sip_media_application_call(
        SipMediaApplicationId=sma_id, TransactionId=transaction, Arguments={"Operation": "Hangup"}
    )
    while "HANGUP" not in _types(served) and time.monotonic() < deadline + 5:
        time.sleep(0.05)  # the call is ended first, then the handler hears HANGUP
    assert sandbox.call_get(transaction)["state"] == "ended"
    assert _types(served)[-2:] == ["CALL_UPDATE_REQUESTED", "HANGUP"]


# --- phone numbers: the inventory, orders, updates and the deletion queue --------------------------------------------


def _search(voice, **criteria) -> list[str]:
    return voice.search_available_phone_numbers(**criteria)["E164PhoneNumbers"]


def test_the_inventory_is_deterministic_and_leaves_out_the_accounts_numbers(voice):
    seattle = _search(voice, AreaCode="206", MaxResults=500)
    assert seattle == _search(voice, City="Seattle", State="WA", MaxResults=500)
    assert seattle[0] == "+12065550110"
    assert len(seattle) == 90
    assert set(_search(voice, State="WA", MaxResults=500)) > set(seattle)
    toll_free = _search(voice, TollFreePrefix="833", MaxResults=3)
    assert toll_free == ["+18335550100", "+18335550101", "+18335550102"]
    assert _search(voice, AreaCode="415", Country="GB") == []
    first = voice.search_available_phone_numbers(AreaCode="415", MaxResults=60)
    rest = voice.search_available_phone_numbers(AreaCode="415", MaxResults=60, NextToken=first["NextToken"])
    assert len(first["E164PhoneNumbers"] + rest["E164PhoneNumbers"]) == 100
    assert "NextToken" not in rest
    for criteria in ({}, {"City": "Seattle"}, {"AreaCode": "206", "PhoneNumberType": "TollFree"}):
        with pytest.raises(ClientError) as raised:
            voice.search_available_phone_numbers(**criteria)
        assert _code(raised) == "BadRequestException", criteria


def test_an_order_processes_then_its_numbers_join_the_account_unassigned(voice, sandbox):
    wanted = _search(voice, AreaCode="415", MaxResults=2)
    order = voice.create_phone_number_order(
        ProductType="SipMediaApplicationDialIn", E164PhoneNumbers=wanted, Name="support line"
    )["PhoneNumberOrder"]
    assert order["Status"] == "Processing"
    assert [n["Status"] for n in order["OrderedPhoneNumbers"]] == ["Processing", "Processing"]
    assert not set(wanted) & set(_search(voice, AreaCode="415", MaxResults=500))  # on order: not offered again
    assert wanted[0] not in {n["PhoneNumberId"] for n in voice.list_phone_numbers()["PhoneNumbers"]}
    sandbox.advance(5)
    done = voice.get_phone_number_order(PhoneNumberOrderId=order["PhoneNumberOrderId"])["PhoneNumberOrder"]
    assert done["Status"] == "Successful"
    assert {n["Status"] for n in done["OrderedPhoneNumbers"]} == {"Acquired"}
    number = voice.get_phone_number(PhoneNumberId=wanted[0])["PhoneNumber"]
    assert (number["Status"], number["ProductType"], number["OrderId"], number["Name"]) == (
        "Unassigned",
        "SipMediaApplicationDialIn",
        order["PhoneNumberOrderId"],
        "support line",
    )
    listed = voice.list_phone_number_orders()["PhoneNumberOrders"]
    assert [o["PhoneNumberOrderId"] for o in listed] == [order["PhoneNumberOrderId"]]


def test_an_order_for_numbers_taken_or_unknown_fails_for_those(voice, sandbox):
    partial = voice.create_phone_number_order(
        ProductType="SipMediaApplicationDialIn", E164PhoneNumbers=[DIAL_IN, "+14155550150"]
    )["PhoneNumberOrder"]
    failed = voice.create_phone_number_order(
        ProductType="SipMediaApplicationDialIn", E164PhoneNumbers=["+33123456789"]
    )["PhoneNumberOrder"]
    sandbox.advance(5)
    partial = voice.get_phone_number_order(PhoneNumberOrderId=partial["PhoneNumberOrderId"])["PhoneNumberOrder"]
    assert partial["Status"] == "Partial"
    assert [n["Status"] for n in partial["OrderedPhoneNumbers"]] == ["Failed", "Acquired"]
    failed = voice.get_phone_number_order(PhoneNumberOrderId=failed["PhoneNumberOrderId"])["PhoneNumberOrder"]
    assert failed["Status"] == "Failed"
    for numbers in ([], ["+14155550160", "+14155550160"], ["14155550160"]):
        with pytest.raises(ClientError) as raised:
            voice.create_phone_number_order(ProductType="SipMediaApplicationDialIn", E164PhoneNumbers=numbers)
        assert _code(raised) == "BadRequestException", numbers


def test_a_number_is_updated_one_detail_at_a_time(voice, sandbox):
    number_id = "+12065550105"
    with pytest.raises(ClientError) as raised:
        voice.update_phone_number(PhoneNumberId=number_id, Name="desk", CallingName="Front Desk")
    assert _code(raised) == "BadRequestException"
    assert voice.update_phone_number(PhoneNumberId=number_id, Name="desk")["PhoneNumber"]["Name"] == "desk"
    number = voice.update_phone_number(PhoneNumberId=number_id, CallingName="Front Desk")["PhoneNumber"]
    assert (number["CallingName"], number["CallingNameStatus"]) == ("Front Desk", "UpdateInProgress")
    with pytest.raises(ClientError) as raised:
        voice.update_phone_number(PhoneNumberId=number_id, CallingName="Reception")
    assert _code(raised) == "ConflictException"  # the pending calling name must complete first
    sandbox.advance(6)
    assert voice.get_phone_number(PhoneNumberId=number_id)["PhoneNumber"]["CallingNameStatus"] == "UpdateSucceeded"
    _wire(voice)
    with pytest.raises(ClientError) as raised:
        voice.update_phone_number(PhoneNumberId=DIAL_IN, ProductType="VoiceConnector")
    assert _code(raised) == "ConflictException"  # a SIP rule uses it


def test_a_deleted_number_waits_in_the_deletion_queue_and_can_be_restored(voice, sandbox):
    _, rule_id = _wire(voice)
    with pytest.raises(ClientError) as raised:
        voice.delete_phone_number(PhoneNumberId=DIAL_IN)
    assert _code(raised) == "BadRequestException"
    assert rule_id in raised.value.response["Error"]["Message"]
    voice.delete_phone_number(PhoneNumberId="+12065550106")
    number = voice.get_phone_number(PhoneNumberId="+12065550106")["PhoneNumber"]
    assert number["Status"] == "DeleteInProgress"
    assert number["DeletionTimestamp"]
    assert "+12065550106" not in _search(voice, AreaCode="206", MaxResults=500)
    for attempt in (
        lambda: voice.delete_phone_number(PhoneNumberId="+12065550106"),
        lambda: voice.update_phone_number(PhoneNumberId="+12065550106", Name="x"),
        lambda: voice.restore_phone_number(PhoneNumberId="+12065550107"),
    ):
        with pytest.raises(ClientError) as raised:
            attempt()
        assert _code(raised) == "BadRequestException"
    assert voice.restore_phone_number(PhoneNumberId="+12065550106")["PhoneNumber"]["Status"] == "Unassigned"
    voice.delete_phone_number(PhoneNumberId="+12065550107")
    sandbox.advance(7 * 24 * 3600 + 1)
    with pytest.raises(ClientError) as raised:
        voice.get_phone_number(PhoneNumberId="+12065550107")
    assert _code(raised) == "NotFoundException"
    assert "+12065550107" in _search(voice, AreaCode="206", MaxResults=500)  # back in the pool
