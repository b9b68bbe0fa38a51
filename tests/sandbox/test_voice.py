"""chime-sdk-voice in the sandbox: the model's operations and errors, and simulated calls that invoke a handler
(here the portal's pure handler, served over HTTP with ports that create attendees in the sandbox)."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from portal.pstn import handler
from portal.pstn.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_valid
from rtc_sandbox import voice as voice_sandbox
from rtc_sandbox.client import SandboxControlError

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


# --- tags and logging configuration of SIP media applications ---------------------------------------------------


def _tagged_sma(voice, tags: list[dict[str, str]]) -> str:
    return voice.create_sip_media_application(
        AwsRegion="us-east-1", Name=f"tagged {uuid.uuid4().hex[:8]}", Endpoints=[{"LambdaArn": LAMBDA_ARN}], Tags=tags
    )["SipMediaApplication"]["SipMediaApplicationArn"]


def test_tags_given_at_creation_are_read_back_and_changed_by_voice_tagging(voice):
    arn = _tagged_sma(voice, [{"Key": "team", "Value": "pstn"}])
    assert voice.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "pstn"}]
    voice.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "voice"}, {"Key": "cost", "Value": ""}])
    assert voice.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "cost", "Value": ""},
        {"Key": "team", "Value": "voice"},
    ]
    voice.untag_resource(ResourceARN=arn, TagKeys=["team", "never-there"])
    assert voice.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "cost", "Value": ""}]


def test_voice_tagging_refuses_what_aws_refuses(voice):
    arn = _tagged_sma(voice, [{"Key": f"k{n:02d}", "Value": "v"} for n in range(49)])
    for missing in (arn.rsplit("/", 1)[0] + f"/{uuid.uuid4()}", "arn:aws:chime:us-east-1:123456789012:vc/abcdef"):
        for method, extra in (
            (voice.list_tags_for_resource, {}),
            (voice.tag_resource, {"Tags": [{"Key": "a", "Value": "b"}]}),
            (voice.untag_resource, {"TagKeys": ["a"]}),
        ):
            with pytest.raises(ClientError) as raised:
                method(ResourceARN=missing, **extra)
            assert (_code(raised), raised.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
                "NotFoundException",
                404,
            )
    with pytest.raises(ClientError) as raised:
        voice.tag_resource(ResourceARN=arn, Tags=[{"Key": "x", "Value": "1"}, {"Key": "y", "Value": "2"}])
    assert _code(raised) == "ResourceLimitExceededException"  # 51: a SIP media application has at most 50
    voice.tag_resource(ResourceARN=arn, Tags=[{"Key": "k00", "Value": "new"}, {"Key": "x", "Value": "1"}])  # 50
    for tags in ([{"Key": "aws:owner", "Value": "me"}], [{"Key": "k" * 129, "Value": "v"}]):
        with pytest.raises(ClientError) as raised:
            voice.tag_resource(ResourceARN=arn, Tags=tags)
        assert _code(raised) == "BadRequestException"
    with pytest.raises(ClientError) as raised:
        _tagged_sma(voice, [{"Key": "AWS:team", "Value": "x"}])
    assert _code(raised) == "BadRequestException"
    tags = voice.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert (len(tags), tags[0]) == (50, {"Key": "k00", "Value": "new"})


def test_tags_follow_the_arn_to_the_chime_service_that_owns_it(boto_client, voice):
    """The three Chime SDK services sign alike and share the /tags routes: whichever client asks, the ARN's resource
    type picks the service that answers (a voice connector ARN is voice's, though the sandbox has none)."""
    sma_arn = _tagged_sma(voice, [{"Key": "team", "Value": "pstn"}])
    connector = "arn:aws:chime:us-east-1:123456789012:vc/abcdef"
    for service in ("chime-sdk-meetings", "chime-sdk-media-pipelines", "chime-sdk-voice"):
        made = boto_client(service)
        assert made.list_tags_for_resource(ResourceARN=sma_arn)["Tags"] == [{"Key": "team", "Value": "pstn"}]
        with pytest.raises(ClientError) as raised:
            made.list_tags_for_resource(ResourceARN=connector)
        assert raised.value.response["Error"]["Code"] == "NotFoundException"  # voice's; meetings' is ResourceNot...


def test_logging_configuration_is_off_until_put_and_kept_per_application(voice):
    sma_id, _ = _wire(voice)
    off = {"EnableSipMediaApplicationMessageLogs": False}
    got = voice.get_sip_media_application_logging_configuration(SipMediaApplicationId=sma_id)
    assert got["SipMediaApplicationLoggingConfiguration"] == off
    put = voice.put_sip_media_application_logging_configuration(
        SipMediaApplicationId=sma_id,
        SipMediaApplicationLoggingConfiguration={"EnableSipMediaApplicationMessageLogs": True},
    )
    assert put["SipMediaApplicationLoggingConfiguration"] == {"EnableSipMediaApplicationMessageLogs": True}
    got = voice.get_sip_media_application_logging_configuration(SipMediaApplicationId=sma_id)
    assert got["SipMediaApplicationLoggingConfiguration"] == {"EnableSipMediaApplicationMessageLogs": True}
    other = voice.create_sip_media_application(
        AwsRegion="us-east-1", Name="other", Endpoints=[{"LambdaArn": LAMBDA_ARN}]
    )["SipMediaApplication"]["SipMediaApplicationId"]
    got = voice.get_sip_media_application_logging_configuration(SipMediaApplicationId=other)
    assert got["SipMediaApplicationLoggingConfiguration"] == off
    put = voice.put_sip_media_application_logging_configuration(SipMediaApplicationId=sma_id)
    assert put["SipMediaApplicationLoggingConfiguration"] == off  # a put replaces: what it leaves out is off
    for attempt in (
        lambda: voice.get_sip_media_application_logging_configuration(SipMediaApplicationId=str(uuid.uuid4())),
        lambda: voice.put_sip_media_application_logging_configuration(SipMediaApplicationId=str(uuid.uuid4())),
    ):
        with pytest.raises(ClientError) as raised:
            attempt()
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
    assert (call["state"], call["waitingFor"]) == ("connected", "Speak")  # the goodbye takes its time
    sandbox.advance(4)
    call = sandbox.call_get(call["TransactionId"])
    assert call["state"] == "ended"
    assert _types(served)[-1] == "HANGUP"
    assert served["events"][-1]["ActionData"]["Parameters"]["ParticipantTag"] == "LEG-A"


def _ringing_outbound_call(voice, served: dict[str, Any], sma_id: str) -> tuple[str, float]:
    """CreateSipMediaApplicationCall for meeting "1", once the handler has heard RINGING: the transaction id, and the
    deadline the test waits for the call's events by."""
    transaction = voice.create_sip_media_application_call(
        FromPhoneNumber=DIAL_IN, ToPhoneNumber=CALLER, SipMediaApplicationId=sma_id, ArgumentsMap={"meeting": "1"}
    )["SipMediaApplicationCall"]["TransactionId"]
    deadline = time.monotonic() + 5
    while "RINGING" not in _types(served) and time.monotonic() < deadline:
        time.sleep(0.05)
    return transaction, deadline


def test_dial_out_is_answered_and_joins_then_hung_up_by_update(voice, sandbox, served):
    sma_id, _ = _wire(voice)
    transaction, deadline = _ringing_outbound_call(voice, served, sma_id)
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


def test_outbound_call_events_name_no_sip_rule_and_inbound_ones_their_rule(voice, sandbox, served):
    """AWS's documented NEW_OUTBOUND_CALL event has no SipRuleId: no rule placed the call. The portal's handler
    answers such a call all the same (it joins the meeting)."""
    sma_id, rule_id = _wire(voice)
    transaction, _ = _ringing_outbound_call(voice, served, sma_id)
    assert sandbox.call_answer(transaction)["meeting"]["MeetingId"] == served["meeting"]["MeetingId"]
    outbound = [event["CallDetails"] for event in served["events"]]
    assert [details.get("SipRuleId", "absent") for details in outbound] == ["absent"] * len(outbound)
    served["events"].clear()
    sandbox.call_dial(CALLER, DIAL_IN)
    assert {event["CallDetails"]["SipRuleId"] for event in served["events"]} == {rule_id}


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
    transaction, deadline = _ringing_outbound_call(voice, served, sma_id)
    voice.update_sip_media_application_call(
        SipMediaApplicationId=sma_id, TransactionId=transaction, Arguments={"Operation": "Hangup"}
    )
    while "HANGUP" not in _types(served) and time.monotonic() < deadline + 5:
        time.sleep(0.05)  # the call is ended first, then the handler hears HANGUP
    assert sandbox.call_get(transaction)["state"] == "ended"
    assert _types(served)[-2:] == ["CALL_UPDATE_REQUESTED", "HANGUP"]


# --- actions as AWS runs them: digits, media on the sandbox clock, interruption, the invocation cap ---------------


AUDIO_BUCKET = "prompts"


def _answering(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"SchemaVersion": "1.0", "Actions": list(actions)}


def _audio(key: str) -> dict[str, str]:
    return {"Type": "S3", "BucketName": AUDIO_BUCKET, "Key": key}


@pytest.fixture
def prompts(boto_client) -> Any:
    s3 = boto_client("s3")
    s3.create_bucket(Bucket=AUDIO_BUCKET)
    s3.put_object(Bucket=AUDIO_BUCKET, Key="three-seconds.wav", Body=voice_sandbox.silent_wav(3))
    s3.put_object(Bucket=AUDIO_BUCKET, Key="one-second.wav", Body=voice_sandbox.silent_wav(1, frame_rate=16000))
    s3.put_object(Bucket=AUDIO_BUCKET, Key="notes.txt", Body=b"not audio at all")
    broken = bytearray(voice_sandbox.silent_wav(0.01))
    broken[17] = 1  # the fmt chunk claims 16 MB more than the file holds
    s3.put_object(Bucket=AUDIO_BUCKET, Key="broken.wav", Body=bytes(broken))
    return s3


def _wait_for(predicate: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _digits_prompt(**parameters: Any) -> dict[str, Any]:
    return {
        "Type": "SpeakAndGetDigits",
        "Parameters": {
            "SpeechParameters": {"Text": "<speak>Please enter your 6 digit event i d</speak>", "TextType": "ssml"},
            "FailureSpeechParameters": {"Text": "Sorry, I didn't get that.  Please try again."},
            "TerminatorDigits": ["#"],
            "InBetweenDigitsDurationInMilliseconds": 1000,
            "RepeatDurationInMilliseconds": 7500,
            **parameters,
        },
    }


def test_a_digits_pattern_is_searched_for_in_the_input_and_min_digits_defaults_to_0(voice, sandbox, served):
    """AWS's sample asks for six digits with InputDigitsRegex "[0-9]": the pattern need not match the whole input."""
    _wire(voice)
    prompts = [
        _digits_prompt(InputDigitsRegex="[0-9]", MinNumberOfDigits=6, MaxNumberOfDigits=6, Repeat=3),
        _digits_prompt(MaxNumberOfDigits=3),  # MinNumberOfDigits defaults to 0: no digits at all is an answer
        _digits_prompt(InputDigitsRegex="^[0-9]{2}$", Repeat=1),  # anchors ask for the whole input
    ]
    served["answer"] = lambda event: _answering(prompts.pop(0)) if prompts else _answering()
    call = sandbox.call_dial(CALLER, DIAL_IN)
    call = sandbox.call_press(call["TransactionId"], "123456")
    assert served["events"][-1]["InvocationEventType"] == "ACTION_SUCCESSFUL"
    assert served["events"][-1]["ActionData"]["ReceivedDigits"] == "123456"
    sandbox.call_press(call["TransactionId"], "#")
    assert (_types(served)[-1], served["events"][-1]["ActionData"]["ReceivedDigits"]) == ("ACTION_SUCCESSFUL", "")
    sandbox.call_press(call["TransactionId"], "123#")
    assert _types(served)[-1] == "ACTION_FAILED"
    assert served["events"][-1]["ActionData"]["ErrorType"] == "InvalidDigitsReceived"


def test_media_actions_take_their_duration_on_the_sandbox_clock(voice, sandbox, served, prompts):
    sandbox.set_clock_scale(0)  # only the advances move the clock: exact times on a busy machine
    _wire(voice)
    steps = [
        _answering({"Type": "PlayAudio", "Parameters": {"AudioSource": _audio("three-seconds.wav"), "Repeat": "2"}}),
        _answering({"Type": "Pause", "Parameters": {"DurationInMilliseconds": "4000"}}),
        _answering({"Type": "Speak", "Parameters": {"Text": "x" * 150}}),  # 150 characters at 15 a second: 10 s
    ]
    served["answer"] = lambda event: steps.pop(0) if steps else _answering()
    call = sandbox.call_dial(CALLER, DIAL_IN)
    assert (call["waitingFor"], _types(served)) == ("PlayAudio", ["NEW_INBOUND_CALL"])
    sandbox.advance(
        5.5
    )  # each step starts when the one before ended: the play at 0 s, the pause at 6 s, speech at 10 s
    assert sandbox.call_get(call["TransactionId"])["waitingFor"] == "PlayAudio"  # 3 s twice
    sandbox.advance(1)
    assert _types(served)[-1] == "ACTION_SUCCESSFUL"
    assert sandbox.call_get(call["TransactionId"])["waitingFor"] == "Pause"
    sandbox.advance(3)
    assert sandbox.call_get(call["TransactionId"])["waitingFor"] == "Pause"
    sandbox.advance(1)
    assert sandbox.call_get(call["TransactionId"])["waitingFor"] == "Speak"
    sandbox.advance(9)
    assert len(served["events"]) == 3
    sandbox.advance(1)
    assert [e["ActionData"]["Type"] for e in served["events"][1:]] == ["PlayAudio", "Pause", "Speak"]
    assert sandbox.call_get(call["TransactionId"])["waitingFor"] is None


def test_media_actions_fail_with_awss_error_types(voice, sandbox, served, prompts):
    _wire(voice)
    attempts = [
        ({"Type": "PlayAudio", "Parameters": {"AudioSource": _audio("missing.wav")}}, "InvalidAudioSource"),
        ({"Type": "PlayAudio", "Parameters": {"AudioSource": _audio("notes.txt")}}, "InvalidAudioSource"),
        ({"Type": "PlayAudio", "Parameters": {"AudioSource": _audio("broken.wav")}}, "InvalidAudioSource"),
        (
            {"Type": "PlayAudio", "Parameters": {"AudioSource": {**_audio("one-second.wav"), "BucketName": "gone"}}},
            "InvalidAudioSource",
        ),
        (
            {
                "Type": "PlayAudioAndGetDigits",
                "Parameters": {"AudioSource": _audio("missing.wav"), "RepeatDurationInMilliseconds": 3000},
            },
            "InvalidAudioSource",
        ),
        ({"Type": "Pause", "Parameters": {"DurationInMilliseconds": 0}}, "InvalidActionParameter"),
        (
            {
                "Type": "RecordAudio",
                "Parameters": {
                    "RecordingTerminators": ["#"],
                    "RecordingDestination": {"Type": "S3", "BucketName": "x"},
                },
            },
            "InvalidActionParameter",
        ),
        ({"Type": "Speak", "Parameters": {"Text": ""}}, "MissingRequiredActionParameter"),
    ]
    actions = [action for action, _ in attempts]
    served["answer"] = lambda event: _answering(actions.pop(0)) if actions else _answering()
    call = sandbox.call_dial(CALLER, DIAL_IN)
    failures = [e["ActionData"] for e in served["events"] if e["InvocationEventType"] == "ACTION_FAILED"]
    assert [(f["Type"], f["ErrorType"]) for f in failures] == [(a["Type"], error) for a, error in attempts]
    assert call["waitingFor"] is None


def test_record_audio_records_silence_into_its_bucket_until_its_duration(voice, sandbox, served, prompts):
    sandbox.set_clock_scale(0)  # only the advances move the clock: exact times on a busy machine
    _wire(voice)
    record = {
        "Type": "RecordAudio",
        "Parameters": {
            "DurationInSeconds": "10",
            "SilenceDurationInSeconds": 3,
            "RecordingTerminators": ["#"],
            "RecordingDestination": {"Type": "S3", "BucketName": AUDIO_BUCKET, "Prefix": "voicemail/"},
        },
    }
    served["answer"] = lambda event: (
        _answering(record) if event["InvocationEventType"] == "NEW_INBOUND_CALL" else _answering()
    )
    call = sandbox.call_dial(CALLER, DIAL_IN)
    assert call["waitingFor"] == "RecordAudio"
    sandbox.advance(2.5)
    assert _types(served) == ["NEW_INBOUND_CALL"]
    sandbox.advance(1)  # the caller is silent: silence detection ends it after 3 s
    done = served["events"][-1]["ActionData"]
    assert (served["events"][-1]["InvocationEventType"], done["Type"]) == ("ACTION_SUCCESSFUL", "RecordAudio")
    destination = done["RecordingDestination"]
    assert destination["Key"].startswith("voicemail/")
    prompts.get_object(Bucket=AUDIO_BUCKET, Key=destination["Key"])
    body = prompts.raw_bodies[-1][2]  # the client keeps every raw body, so the streamed one is read there
    with wave.open(io.BytesIO(body)) as recorded:
        assert recorded.getnframes() / recorded.getframerate() == 3


def test_a_terminator_key_ends_a_playback_or_a_recording(voice, sandbox, served, prompts):
    sandbox.set_clock_scale(0)  # only the advances move the clock: exact times on a busy machine
    _wire(voice)
    steps = [
        _answering(
            {
                "Type": "PlayAudio",
                "Parameters": {"AudioSource": _audio("three-seconds.wav"), "Repeat": 100, "PlaybackTerminators": ["#"]},
            }
        ),
        _answering(
            {
                "Type": "RecordAudio",
                "Parameters": {
                    "RecordingTerminators": ["*"],
                    "RecordingDestination": {"Type": "S3", "BucketName": AUDIO_BUCKET},
                },
            }
        ),
    ]
    served["answer"] = lambda event: steps.pop(0) if steps else _answering()
    call = sandbox.call_dial(CALLER, DIAL_IN)
    sandbox.call_press(call["TransactionId"], "1")  # not a terminator
    assert sandbox.call_get(call["TransactionId"])["waitingFor"] == "PlayAudio"
    call = sandbox.call_press(call["TransactionId"], "#")
    assert (call["waitingFor"], served["events"][-1]["ActionData"]["Type"]) == ("RecordAudio", "PlayAudio")
    sandbox.advance(2)
    sandbox.call_press(call["TransactionId"], "*")
    done = served["events"][-1]["ActionData"]
    assert (done["Type"], done["RecordingTerminatorUsed"]) == ("RecordAudio", "*")
    prompts.get_object(Bucket=AUDIO_BUCKET, Key=done["RecordingDestination"]["Key"])
    with wave.open(io.BytesIO(prompts.raw_bodies[-1][2])) as recorded:
        assert recorded.getnframes() / recorded.getframerate() == 2


def test_an_update_interrupts_hold_music_with_action_interrupted_then_runs_its_answer(voice, sandbox, served, prompts):
    sma_id, _ = _wire(voice)
    hold = {"Type": "PlayAudio", "Parameters": {"AudioSource": _audio("three-seconds.wav"), "Repeat": 100}}

    def answer(event: dict[str, Any]) -> dict[str, Any]:
        kind = event["InvocationEventType"]
        if kind == "NEW_INBOUND_CALL":
            return _answering(hold, {"Type": "Speak", "Parameters": {"Text": "never heard"}})
        if kind in ("CALL_UPDATE_REQUESTED", "ACTION_INTERRUPTED"):  # AWS ignores what ACTION_INTERRUPTED gets
            return _answering({"Type": "Hangup", "Parameters": {"SipResponseCode": "0"}})
        return _answering()

    served["answer"] = answer
    call = sandbox.call_dial(CALLER, DIAL_IN)
    sandbox.advance(10)
    voice.update_sip_media_application_call(
        SipMediaApplicationId=sma_id, TransactionId=call["TransactionId"], Arguments={"Operation": "Hangup"}
    )
    _wait_for(lambda: "HANGUP" in _types(served))
    assert _types(served) == ["NEW_INBOUND_CALL", "CALL_UPDATE_REQUESTED", "ACTION_INTERRUPTED", "HANGUP"]
    assert served["events"][2]["ActionData"] == {"Type": "PlayAudio", "Parameters": hold["Parameters"]}
    assert sandbox.call_get(call["TransactionId"])["state"] == "ended"


def test_an_update_waits_for_a_digits_prompt_which_is_not_interruptible(voice, sandbox, served):
    """Only PlayAudio, RecordAudio and Pause are interruptible: the update's Hangup runs once the prompt is over."""
    sma_id, _ = _wire(voice)
    prompt = _digits_prompt(MinNumberOfDigits=6, MaxNumberOfDigits=6, Repeat=1)
    served["answer"] = lambda event: {
        "NEW_INBOUND_CALL": _answering(prompt),
        "CALL_UPDATE_REQUESTED": _answering({"Type": "Hangup", "Parameters": {"SipResponseCode": "0"}}),
    }.get(event["InvocationEventType"], _answering())
    call = sandbox.call_dial(CALLER, DIAL_IN)
    voice.update_sip_media_application_call(
        SipMediaApplicationId=sma_id, TransactionId=call["TransactionId"], Arguments={"Operation": "Hangup"}
    )
    _wait_for(lambda: "CALL_UPDATE_REQUESTED" in _types(served))
    call = sandbox.call_get(call["TransactionId"])
    assert (call["state"], call["waitingFor"]) == ("connected", "SpeakAndGetDigits")
    sandbox.advance(12)  # the prompt (about 2 s) and 7.5 s for the keys: no digits came, the action is over
    assert sandbox.call_get(call["TransactionId"])["state"] == "ended"
    assert _types(served) == ["NEW_INBOUND_CALL", "CALL_UPDATE_REQUESTED", "HANGUP"]


def test_a_hold_music_loop_ends_at_the_invocation_cap_and_dial_returns(voice, sandbox, served, prompts):
    """AWS invokes the handler at most 1,000 times a call; the sandbox's last is the HANGUP of the call it ends."""
    _wire(voice)
    served["answer"] = lambda event: _answering(
        {"Type": "PlayAudio", "Parameters": {"AudioSource": _audio("one-second.wav")}}
    )
    call = sandbox.call_dial(CALLER, DIAL_IN)
    assert call["waitingFor"] == "PlayAudio"
    sandbox.advance(2000)
    ended = sandbox.call_get(call["TransactionId"])
    assert ended["state"] == "ended"
    assert len(served["events"]) == len(ended["invocations"]) == 1000
    assert _types(served)[-1] == "HANGUP"
    assert _types(served)[1:-1] == ["ACTION_SUCCESSFUL"] * 998


def test_a_handler_that_answers_each_failure_with_the_same_failure_ends_at_the_cap(voice, sandbox, served):
    _wire(voice)
    served["answer"] = lambda event: _answering({"Type": "JoinChimeMeeting", "Parameters": {"JoinToken": "forged"}})
    call = sandbox.call_dial(CALLER, DIAL_IN)  # no media: the whole loop runs before dial answers
    assert (call["state"], len(call["invocations"]), _types(served)[-1]) == ("ended", 1000, "HANGUP")


def test_answers_to_new_outbound_call_and_ringing_are_ignored(voice, sandbox, served):
    sma_id, _ = _wire(voice)

    def answer(event: dict[str, Any]) -> dict[str, Any]:
        kind = event["InvocationEventType"]
        if kind in ("NEW_OUTBOUND_CALL", "RINGING"):
            return {
                **_answering({"Type": "Speak", "Parameters": {"Text": "too early"}}),
                "TransactionAttributes": {"k": kind},
            }
        if kind == "ACTION_FAILED":  # what AWS's samples do: a failure hangs up
            return _answering({"Type": "Hangup", "Parameters": {"SipResponseCode": "0"}})
        return _answering()

    served["answer"] = answer
    transaction = voice.create_sip_media_application_call(
        FromPhoneNumber=DIAL_IN, ToPhoneNumber=CALLER, SipMediaApplicationId=sma_id
    )["SipMediaApplicationCall"]["TransactionId"]
    _wait_for(lambda: "RINGING" in _types(served))
    call = sandbox.call_answer(transaction)
    assert _types(served) == ["NEW_OUTBOUND_CALL", "RINGING", "CALL_ANSWERED"]
    assert (call["state"], call["attributes"]) == ("connected", {"k": "RINGING"})


def _dialer_sample(chime: Any, events: dict[tuple[str, str], str]) -> Any:
    """A handler of the shape of aws-samples/amazon-chime-sdk-sma-meeting-dialer's (written here, not copied): dial-in
    asks for a 6-digit event id and passcode ("[0-9]", Min/Max 6, Repeat 3), makes a meeting with the caller's
    attendee and joins it by CallId; dial-out keeps the meeting from NEW_OUTBOUND_CALL's arguments and asks "[1-2]"
    (Min/Max 1) once answered; a join is welcomed with speech; ACTION_FAILED hangs up; on HANGUP the attendee is
    deleted, then the meeting once nobody is left."""

    def speech(text: str, text_type: str = "ssml") -> dict[str, Any]:
        return {"Text": text, "Engine": "neural", "LanguageCode": "en-US", "TextType": text_type, "VoiceId": "Joanna"}

    def ask(text: str, regex: str, digits: int) -> dict[str, Any]:
        return {
            "Type": "SpeakAndGetDigits",
            "Parameters": {
                "MinNumberOfDigits": digits,
                "MaxNumberOfDigits": digits,
                "Repeat": 3,
                "RepeatDurationInMilliseconds": 7500,
                "InputDigitsRegex": regex,
                "InBetweenDigitsDurationInMilliseconds": 1000,
                "TerminatorDigits": ["#"],
                "SpeechParameters": speech(text),
                "FailureSpeechParameters": speech("Sorry, I didn't get that.  Please try again.", "text"),
            },
        }

    def join(call_id: str, attributes: dict[str, str]) -> dict[str, Any]:
        token, meeting_id = attributes["join_token"], attributes["meeting_id"]
        return {
            "Type": "JoinChimeMeeting",
            "Parameters": {"JoinToken": token, "CallId": call_id, "MeetingId": meeting_id},
        }

    def answer(event: dict[str, Any]) -> dict[str, Any]:
        kind = event["InvocationEventType"]
        attributes = dict(event["CallDetails"].get("TransactionAttributes") or {})
        participants = event["CallDetails"]["Participants"]
        call_id = participants[0]["CallId"]
        data = event.get("ActionData") or {}
        hangup = {"Type": "Hangup", "Parameters": {"CallId": call_id, "SipResponseCode": "0"}}
        actions: list[dict[str, Any]] = []
        if kind == "NEW_INBOUND_CALL":
            attributes["call_type"] = "inbound"
            actions = [ask("<speak>Please enter your 6 digit event i d</speak>", "[0-9]", 6)]
        elif kind == "NEW_OUTBOUND_CALL":
            attributes.update(data["Parameters"]["Arguments"], call_type="outbound")
        elif kind == "CALL_ANSWERED":
            text = f"<speak>You are needed on a call for event <say-as interpret-as='digits'>{attributes['event_id']}"
            actions = [ask(f"{text}</say-as>. Press 1 to join, 2 to decline.</speak>", "[1-2]", 1)]
        elif (
            kind == "ACTION_SUCCESSFUL"
            and data["Type"] == "SpeakAndGetDigits"
            and attributes["call_type"] == "outbound"
        ):
            actions = [join(call_id, attributes)] if data["ReceivedDigits"] == "1" else [hangup]
        elif kind == "ACTION_SUCCESSFUL" and data["Type"] == "SpeakAndGetDigits" and "event_id" not in attributes:
            attributes["event_id"] = data["ReceivedDigits"]
            actions = [ask("<speak>Please enter your 6 digit passcode to join the meeting.</speak>", "[0-9]", 6)]
        elif kind == "ACTION_SUCCESSFUL" and data["Type"] == "SpeakAndGetDigits":
            phone = events.get((attributes["event_id"], data["ReceivedDigits"]))
            if phone is None:
                actions = [
                    {"Type": "Speak", "Parameters": {"Text": "Invalid meeting passcode.", "CallId": call_id}},
                    hangup,
                ]
            else:
                made = chime.create_meeting_with_attendees(
                    ClientRequestToken=attributes["event_id"],
                    MediaRegion="us-east-1",
                    ExternalMeetingId=attributes["event_id"],
                    Attendees=[{"ExternalUserId": phone}],
                )
                attributes["meeting_id"] = made["Meeting"]["MeetingId"]
                attributes["attendee_id"] = made["Attendees"][0]["AttendeeId"]
                attributes["join_token"] = made["Attendees"][0]["JoinToken"]
                actions = [join(call_id, attributes)]
        elif kind == "ACTION_SUCCESSFUL" and data["Type"] == "JoinChimeMeeting":
            text = "You have been joined to the meeting."
            actions = [{"Type": "Speak", "Parameters": {"Text": text, "CallId": call_id}}]
        elif kind == "ACTION_FAILED":
            actions = [hangup]
        elif kind == "HANGUP" and len(participants) == 2:
            chime.delete_attendee(MeetingId=attributes["meeting_id"], AttendeeId=attributes["attendee_id"])
            if not chime.list_attendees(MeetingId=attributes["meeting_id"])["Attendees"]:
                chime.delete_meeting(MeetingId=attributes["meeting_id"])
        return {**_answering(*actions), "TransactionAttributes": attributes}

    return answer


def _left_and_meeting_deleted(sandbox: Any, served: dict[str, Any], chime: Any, call: dict[str, Any]) -> None:
    """The welcome is spoken; the phone hangs up; the sample deleted its attendee, then the empty meeting."""
    sandbox.advance(3)
    assert (_types(served)[-1], served["events"][-1]["ActionData"]["Type"]) == ("ACTION_SUCCESSFUL", "Speak")
    meeting_id = call["meeting"]["MeetingId"]
    meeting = sandbox.state()["state"]["chime.meetings"][meeting_id]
    assert meeting["attendees"][call["attributes"]["attendee_id"]]["connected"] is True
    sandbox.call_hangup(call["TransactionId"])
    with pytest.raises(ClientError) as raised:
        chime.get_meeting(MeetingId=meeting_id)
    assert _code(raised) == "NotFoundException"


def test_the_samples_dial_in_flow_as_published(voice, sandbox, served, chime):
    _wire(voice)
    served["answer"] = _dialer_sample(chime, {("424242", "135790"): "+14155550123"})
    call = sandbox.call_dial(CALLER, DIAL_IN)
    call = sandbox.call_press(call["TransactionId"], "424242")
    assert call["attributes"]["event_id"] == "424242"
    call = sandbox.call_press(call["TransactionId"], "135790")
    assert call["meeting"]["MeetingId"] == call["attributes"]["meeting_id"]
    assert call["waitingFor"] == "Speak"
    _left_and_meeting_deleted(sandbox, served, chime, call)
    assert _types(served) == ["NEW_INBOUND_CALL", *["ACTION_SUCCESSFUL"] * 4, "HANGUP"]


def test_the_samples_dial_out_flow_as_published(voice, sandbox, served, chime):
    sma_id, _ = _wire(voice)
    served["answer"] = _dialer_sample(chime, {})
    made = chime.create_meeting_with_attendees(
        ClientRequestToken="424242",
        MediaRegion="us-east-1",
        ExternalMeetingId="424242",
        Attendees=[{"ExternalUserId": CALLER}],
    )
    arguments = {
        "meeting_id": made["Meeting"]["MeetingId"],
        "attendee_id": made["Attendees"][0]["AttendeeId"],
        "join_token": made["Attendees"][0]["JoinToken"],
        "event_id": "424242",
        "meeting_passcode": "135790",
        "phone_number": CALLER,
    }
    transaction = voice.create_sip_media_application_call(
        FromPhoneNumber=DIAL_IN, ToPhoneNumber=CALLER, SipMediaApplicationId=sma_id, ArgumentsMap=arguments
    )["SipMediaApplicationCall"]["TransactionId"]
    _wait_for(lambda: "RINGING" in _types(served))
    call = sandbox.call_answer(transaction)
    assert call["waitingFor"] == "SpeakAndGetDigits"
    call = sandbox.call_press(transaction, "1")
    assert call["meeting"]["MeetingId"] == made["Meeting"]["MeetingId"]
    _left_and_meeting_deleted(sandbox, served, chime, call)
    assert _types(served) == ["NEW_OUTBOUND_CALL", "RINGING", "CALL_ANSWERED", *["ACTION_SUCCESSFUL"] * 3, "HANGUP"]


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
