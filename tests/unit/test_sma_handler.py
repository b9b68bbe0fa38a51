"""The SMA handler, pure: events in, actions out, with fake ports. The fuzz test feeds it 10,000+ generated events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.pstn import handler
from rtc_sandbox.voice import ACTION_TYPES, _response_problem

MEETING = handler.MeetingRef(key="7", meeting_id="0b7c3a9e-1111-2222-3333-444455556666")
LEG_A = {
    "CallId": "call-a",
    "ParticipantTag": "LEG-A",
    "To": "+12065550100",
    "From": "+14155550123",
    "Direction": "Inbound",
    "StartTimeInMilliseconds": "1",
    "Status": "Connected",
}
JOINED = handler.Joined(attendee_id="att-1", join_token="token-1")
LEG_B = {**LEG_A, "CallId": "call-b", "ParticipantTag": "LEG-B", "Direction": "Outbound"}


@dataclass
class FakePorts:
    pins: dict[str, handler.MeetingRef] = field(default_factory=lambda: {"123456": MEETING})
    create: handler.Joined | str = JOINED
    created: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    locked: bool = False  # the calling or the dialled number is locked out by wrong PINs
    checked: list[tuple[str, str, str]] = field(default_factory=list)

    def pin_locked_out(self, *, caller: str, dialled: str) -> bool:
        return self.locked

    def pin_check(self, pin: str, *, caller: str, dialled: str) -> handler.PinChecked:
        self.checked.append((pin, caller, dialled))
        return handler.PinChecked(locked_out=True) if self.locked else handler.PinChecked(self.pins.get(pin))

    def meeting_for_key(self, key: str) -> handler.MeetingRef | None:
        return MEETING if key == MEETING.key else None

    def attendee_create(self, *, meeting: handler.MeetingRef, transaction_id: str, caller: str) -> handler.Joined | str:
        self.created.append(caller)
        return self.create

    def attendee_release(self, *, transaction_id: str) -> None:
        self.released.append(transaction_id)


def event(
    kind: str,
    *,
    action: dict[str, Any] | None = None,
    attributes: dict[str, str] | None = None,
    legs: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "TransactionId": "tx-1",
        "SipMediaApplicationId": "sma-1",
        "Participants": legs if legs is not None else [LEG_A],
    }
    if attributes is not None:
        details["TransactionAttributes"] = attributes
    document: dict[str, Any] = {
        "SchemaVersion": "1.0",
        "Sequence": 1,
        "InvocationEventType": kind,
        "CallDetails": details,
    }
    if action is not None:
        document["ActionData"] = action
    return document


def digits(entered: str, attributes: dict[str, str]) -> dict[str, Any]:
    return event(
        "ACTION_SUCCESSFUL", action={"Type": "SpeakAndGetDigits", "ReceivedDigits": entered}, attributes=attributes
    )


def types(answer: handler.Answer) -> list[str]:
    return [action["Type"] for action in answer.actions]


def test_a_new_call_is_asked_for_its_pin():
    answer = handler.answer(event("NEW_INBOUND_CALL"), FakePorts())
    assert types(answer) == ["SpeakAndGetDigits"]
    assert answer.actions[0]["Parameters"]["CallId"] == "call-a"
    assert answer.attributes == {"stage": "pin", "pin_tries": "0"}


def test_two_wrong_pins_then_the_right_one_join_the_meeting():
    ports = FakePorts()
    first = handler.answer(digits("000000", {"stage": "pin", "pin_tries": "0"}), ports)
    assert (types(first), first.attributes["pin_tries"], first.state) == (["SpeakAndGetDigits"], "1", "pin")
    second = handler.answer(digits("999999", first.attributes), ports)
    assert second.attributes["pin_tries"] == "2"
    joined = handler.answer(digits("123456", second.attributes), ports)
    assert types(joined) == ["JoinChimeMeeting"]
    assert joined.actions[0]["Parameters"] == {
        "JoinToken": "token-1",
        "CallId": "call-a",
        "MeetingId": MEETING.meeting_id,
    }
    assert ports.created == ["+14155550123"]
    listening = handler.answer(
        event("ACTION_SUCCESSFUL", action={"Type": "JoinChimeMeeting"}, attributes=joined.attributes), ports
    )
    assert (types(listening), listening.state) == (["ReceiveDigits"], "in_meeting")


def test_the_third_wrong_pin_says_goodbye_and_hangs_up():
    answer = handler.answer(digits("000000", {"stage": "pin", "pin_tries": "2"}), FakePorts())
    assert types(answer) == ["Speak", "Hangup"]
    assert answer.actions[0]["Parameters"]["Text"] == handler.GOODBYE
    assert answer.state == "rejected"


def test_no_digits_at_all_counts_as_a_try():
    failed = event(
        "ACTION_FAILED",
        action={"Type": "SpeakAndGetDigits", "ErrorType": "InvalidDigitsReceived"},
        attributes={"stage": "pin", "pin_tries": "0"},
    )
    assert handler.answer(failed, FakePorts()).attributes["pin_tries"] == "1"


def test_an_attendee_aws_refuses_is_an_apology_and_a_hangup():
    answer = handler.answer(digits("123456", {"stage": "pin"}), FakePorts(create="LimitExceeded: full"))
    assert types(answer) == ["Speak", "Hangup"]
    assert answer.actions[0]["Parameters"]["Text"] == handler.APOLOGY
    assert (answer.state, answer.note) == ("failed", "no attendee: LimitExceeded: full")


def test_star_six_mutes_then_unmutes_the_meeting_leg():
    attributes = {"stage": "in_meeting", "meeting_id": MEETING.meeting_id, "attendee_id": "att-1"}
    pressed = event(
        "DIGITS_RECEIVED",
        action={"Type": "ReceiveDigits", "ReceivedDigits": "*6"},
        attributes=attributes,
        legs=[LEG_A, LEG_B],
    )
    muted = handler.answer(pressed, FakePorts())
    assert muted.actions == [
        {
            "Type": "ModifyChimeMeetingAttendees",
            "Parameters": {
                "Operation": "Mute",
                "MeetingId": MEETING.meeting_id,
                "CallId": "call-b",
                "AttendeeList": ["att-1"],
            },
        }
    ]
    assert muted.muted is True
    pressed["CallDetails"]["TransactionAttributes"] = muted.attributes
    unmuted = handler.answer(pressed, FakePorts())
    assert (unmuted.actions[0]["Parameters"]["Operation"], unmuted.muted) == ("Unmute", False)


def test_a_hangup_request_is_answered_with_hangup_and_the_hangup_releases_the_attendee():
    update = event(
        "CALL_UPDATE_REQUESTED",
        action={"Type": "CallUpdateRequest", "Parameters": {"Arguments": {"Operation": "Hangup"}}},
    )
    assert types(handler.answer(update, FakePorts())) == ["Hangup"]
    ports = FakePorts()
    hung_up = handler.answer(
        event("HANGUP", action={"Type": "Hangup", "Parameters": {"ParticipantTag": "LEG-A"}}), ports
    )
    assert (hung_up.actions, hung_up.state, ports.released) == ([], "ended", ["tx-1"])


def test_dial_out_carries_the_meeting_from_the_arguments_to_the_answer():
    outbound = {**LEG_A, "Direction": "Outbound", "From": "+12065550100", "To": "+14155550123"}
    created = event(
        "NEW_OUTBOUND_CALL",
        action={"Type": "CallCreateRequest", "Parameters": {"Arguments": {"meeting": "7"}}},
        legs=[outbound],
    )
    ringing = handler.answer(created, FakePorts())
    assert (ringing.actions, ringing.attributes["meeting"]) == ([], "7")
    ports = FakePorts()
    answered = handler.answer(event("CALL_ANSWERED", attributes=ringing.attributes, legs=[outbound]), ports)
    assert types(answered) == ["JoinChimeMeeting"]
    assert ports.created == ["+14155550123"]  # the phone called, not the dial-in number


def test_an_ended_meeting_on_answer_is_an_apology():
    answered = handler.answer(event("CALL_ANSWERED", attributes={"meeting": "8"}), FakePorts())
    assert (types(answered), answered.state) == (["Speak", "Hangup"], "failed")


def test_texts_with_half_a_surrogate_pair_are_kept_with_replacement_characters():
    failed = event(
        "ACTION_FAILED",
        action={"Type": "Speak\ud800", "ErrorType": "\udfff", "ErrorMessage": "no \ud800 voice"},
        attributes={"stage": "pin\udc00", "meeting_id": "\ud800"},
    )
    answer = handler.answer(failed, FakePorts())
    assert answer.note == "Speak\ufffd failed (\ufffd: no \ufffd voice)"
    assert answer.attributes == {"stage": "pin\ufffd", "meeting_id": "\ufffd"}
    assert (
        handler.Invocation.parse(event("HANGUP") | {"InvocationEventType": "HANG\udc00UP"}).event_type == "HANG\ufffdUP"
    )


def test_a_transaction_id_no_call_has_is_none():
    for odd in ("tx-\ud800", "t" * 65, "tx 1", "tx/1", ""):
        document = event("NEW_INBOUND_CALL")
        document["CallDetails"]["TransactionId"] = odd
        assert handler.Invocation.parse(document).transaction_id == ""
    assert handler.Invocation.parse(event("NEW_INBOUND_CALL")).transaction_id == "tx-1"


def test_a_port_that_raises_never_reaches_the_caller():
    class Broken(FakePorts):
        def pin_check(self, pin: str, *, caller: str, dialled: str) -> handler.PinChecked:
            raise RuntimeError("database down")

    answer = handler.answer(digits("123456", {"stage": "pin"}), Broken())
    assert types(answer) == ["Speak", "Hangup"]


def test_a_locked_out_number_hears_so_and_is_hung_up_before_any_pin_is_asked_or_checked():
    ports = FakePorts(locked=True)
    answer = handler.answer(event("NEW_INBOUND_CALL"), ports)
    assert types(answer) == ["Speak", "Hangup"]
    assert answer.actions[0]["Parameters"]["Text"] == handler.LOCKED_OUT
    assert answer.state == "rejected"
    answer = handler.answer(digits("123456", {"stage": "pin"}), ports)  # locked out during the call
    assert types(answer) == ["Speak", "Hangup"]
    assert answer.actions[0]["Parameters"]["Text"] == handler.LOCKED_OUT
    assert ports.created == []


def test_only_six_digits_are_checked_as_a_pin_with_the_calling_and_the_dialled_number():
    ports = FakePorts()
    handler.answer(digits("12345", {"stage": "pin"}), ports)
    handler.answer(digits("", {"stage": "pin"}), ports)
    handler.answer(digits("654321", {"stage": "pin"}), ports)
    assert ports.checked == [("654321", "+14155550123", "+12065550100")]


# --- fuzz -------------------------------------------------------------------------------------------------------------

EVENT_TYPES = [
    "NEW_INBOUND_CALL",
    "NEW_OUTBOUND_CALL",
    "RINGING",
    "CALL_ANSWERED",
    "ACTION_SUCCESSFUL",
    "ACTION_FAILED",
    "ACTION_INTERRUPTED",
    "DIGITS_RECEIVED",
    "CALL_UPDATE_REQUESTED",
    "HANGUP",
    "INVALID_LAMBDA_RESPONSE",
    "SOMETHING_NEW",
]
# NUL and half a surrogate pair, as JSON's "\u0000" and "\ud800" decode: no database column takes them, so no text the
# handler keeps may hold one.
unstorable = st.text(st.sampled_from("a1-+\x00\ud800\udbff\udc00\udfff"), min_size=1, max_size=8)
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | unstorable,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
loose_text = st.one_of(
    st.sampled_from(["123456", "000000", "*6", "*5", "", "١٢٣٤٥٦", "12345\n", "²", "\ud800"]),
    st.text(max_size=12),
    unstorable,
)
participant = st.fixed_dictionaries(
    {},
    optional={
        "CallId": st.one_of(st.text(max_size=70), anything),
        "ParticipantTag": st.one_of(st.sampled_from(["LEG-A", "LEG-B", "LEG-C"]), anything),
        "To": st.one_of(st.sampled_from(["+12065550100", "+1", "nope"]), anything),
        "From": st.one_of(st.sampled_from(["+14155550123", ""]), anything),
        "Direction": st.one_of(st.sampled_from(["Inbound", "Outbound"]), anything),
        "Status": st.one_of(st.sampled_from(["Connected", "Disconnected"]), anything),
    },
)
attributes = st.one_of(
    st.dictionaries(st.sampled_from([*handler.ATTRIBUTE_KEYS, "other"]), st.one_of(loose_text, anything), max_size=6),
    anything,
)
action_data = st.one_of(
    anything,
    st.fixed_dictionaries(
        {},
        optional={
            "Type": st.one_of(
                st.sampled_from([*sorted(ACTION_TYPES), "CallCreateRequest", "CallUpdateRequest"]), anything
            ),
            "ReceivedDigits": st.one_of(loose_text, anything),
            "ErrorType": anything,
            "ErrorMessage": anything,
            "Parameters": st.one_of(
                anything,
                st.fixed_dictionaries(
                    {},
                    optional={
                        "Arguments": st.one_of(
                            anything,
                            st.dictionaries(
                                st.sampled_from(["Operation", "meeting", "call"]), st.one_of(loose_text, anything)
                            ),
                        ),
                        "ParticipantTag": anything,
                    },
                ),
            ),
        },
    ),
)
events = st.one_of(
    anything,
    st.fixed_dictionaries(
        {},
        optional={
            "SchemaVersion": anything,
            "Sequence": anything,
            "InvocationEventType": st.one_of(st.sampled_from(EVENT_TYPES), anything),
            "ActionData": action_data,
            "CallDetails": st.one_of(
                anything,
                st.fixed_dictionaries(
                    {},
                    optional={
                        "TransactionId": st.one_of(st.text(max_size=70), unstorable, anything),
                        "Participants": st.one_of(anything, st.lists(participant, max_size=3)),
                        "TransactionAttributes": attributes,
                    },
                ),
            ),
        },
    ),
)
pin_outcomes = st.sampled_from([handler.Joined("att-1", "token"), "ThrottlingException: Rate exceeded", ""])


def answer_problems(answer: handler.Answer) -> str:
    """What the SMA would refuse in the answer (its own checks), plus the limits of the actions the handler sends."""
    problem = _response_problem(answer.response())
    for action in answer.actions:
        parameters = action["Parameters"]
        if action["Type"] == "Speak" and not 1 <= len(parameters["Text"]) <= 1000:
            problem = problem or "Speak text out of range"
        if action["Type"] == "JoinChimeMeeting" and not parameters.get("JoinToken"):
            problem = problem or "JoinChimeMeeting without a token"
        if not ("CallId" in parameters or "ParticipantTag" in parameters) and action["Type"] != "Hangup":
            problem = problem or f"{action['Type']} names no leg"
    return problem


@settings(max_examples=10_500, deadline=None, suppress_health_check=list(HealthCheck))
@given(events, pin_outcomes)
def test_fuzz_every_event_gets_a_valid_answer(document, outcome):
    answer = handler.answer(document, FakePorts(create=outcome))
    assert answer_problems(answer) == "", answer.response()
    invocation = handler.Invocation.parse(document)
    kept = [answer.note, invocation.event_type, invocation.transaction_id, invocation.action_type]
    text = "".join([*kept, *invocation.attributes.values(), json.dumps(answer.response(), ensure_ascii=False)])
    assert "\x00" not in text.encode().decode()
