"""The SIP media application's handler: one invocation event in, the actions for the SMA out.

Pure: everything it needs from the world (which meeting a PIN opens, an attendee for a caller) comes through
`CallPorts`, so it runs the same under the portal's view, in tests with fakes, and in the fuzz test. It answers every
event with a valid action list, whatever the event holds: unknown types, missing or mistyped fields, a meeting that
ended, a port that fails. State between invocations travels in TransactionAttributes, as the SMA intends.

Dial-in: NEW_INBOUND_CALL → SpeakAndGetDigits for the PIN (three tries; a calling or dial-in number locked out by
too many wrong PINs across calls hears so and is hung up, no PIN checked) → an attendee for the caller →
JoinChimeMeeting → ReceiveDigits for in-call keys (*6 mutes or unmutes, ModifyChimeMeetingAttendees). Dial-out:
NEW_OUTBOUND_CALL carries the meeting in its arguments → CALL_ANSWERED joins it. CALL_UPDATE_REQUESTED with
Operation=Hangup hangs the phone up. HANGUP releases the caller's attendee.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1.0"
PIN_LENGTH = 6
PIN_TRIES = 3
MUTE_KEYS = "*6"
HANGUP_OPERATION = "Hangup"  # the Arguments' Operation of an UpdateSipMediaApplicationCall that hangs up
MEETING_ARGUMENT = "meeting"  # the ArgumentsMap key of a dial-out: the meeting to join, as the portal knows it
VOICE = {"Engine": "neural", "LanguageCode": "en-US", "TextType": "text", "VoiceId": "Joanna"}
WELCOME = "Welcome. Please enter your six digit meeting PIN, then press pound."
WRONG_PIN = "That PIN does not open a meeting. Please enter your six digit meeting PIN, then press pound."
GOODBYE = "Sorry, that PIN does not open a meeting. Goodbye."
LOCKED_OUT = "Sorry, too many wrong PINs have been entered. Please try again later. Goodbye."
APOLOGY = "Sorry, we cannot connect you to the meeting right now. Please try again later. Goodbye."
CALL_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
TRANSACTION_ID = CALL_ID  # AWS's are UUIDs; any other is no call's (the handler still answers, and records nothing)
KEY = re.compile(r"[0-9]{1,18}")  # a row's id in an event (a dial-out's meeting and call): ASCII digits, a bigint's
# What no column keeps: NUL (PostgreSQL's text refuses it) and half a surrogate pair (UTF-8 cannot encode it; JSON
# decodes a whole pair to one character, so any left is half of one).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
ATTRIBUTE_KEYS = ("stage", "pin_tries", "meeting", "meeting_id", "attendee_id", "muted")
MAX_ATTRIBUTE_LENGTH = 256


@dataclass(frozen=True)
class MeetingRef:
    key: str  # the portal's own reference (its row's id), as dial-out arguments carry it
    meeting_id: str


@dataclass(frozen=True)
class PinChecked:
    """A PIN entry, checked: the meeting it opens, if any. `locked_out`: the calling or the dialled number has had
    too many wrong PINs (the PIN was not looked up, or was the wrong one that reached the limit)."""

    meeting: MeetingRef | None = None
    locked_out: bool = False


@dataclass(frozen=True)
class Joined:
    attendee_id: str
    join_token: str


class CallPorts(Protocol):
    """What the handler asks of the world. Each answers quickly and never raises for an ordinary miss."""

    def pin_locked_out(self, *, caller: str, dialled: str) -> bool: ...

    def pin_check(self, pin: str, *, caller: str, dialled: str) -> PinChecked:
        """The meeting the PIN opens, counted against the calling and the dialled number when it opens none."""
        ...

    def meeting_for_key(self, key: str) -> MeetingRef | None: ...

    def attendee_create(self, *, meeting: MeetingRef, transaction_id: str, caller: str) -> Joined | str:
        """The caller's attendee, or why there is none (AWS's error, recorded by the port)."""
        ...

    def attendee_release(self, *, transaction_id: str) -> None: ...


@dataclass
class Answer:
    actions: list[dict[str, Any]]
    attributes: dict[str, str]
    state: str  # the call as the portal shows it: pin, ringing, joining, in_meeting, ending, ended, rejected, failed
    note: str = ""  # a few words for the call's timeline
    muted: bool | None = None  # set when the answer mutes or unmutes the caller

    def response(self) -> dict[str, Any]:
        document: dict[str, Any] = {"SchemaVersion": SCHEMA_VERSION, "Actions": self.actions}
        if self.attributes:
            document["TransactionAttributes"] = self.attributes
        return document


@dataclass(frozen=True)
class Invocation:
    """The parts of an event the handler reads, each checked for type: what is missing or wrong is empty."""

    event_type: str
    transaction_id: str
    action_type: str
    action_data: dict[str, Any]
    attributes: dict[str, str]
    legs: dict[str, dict[str, Any]] = field(default_factory=dict)  # by ParticipantTag

    @classmethod
    def parse(cls, event: Any) -> Invocation:
        event = as_dict(event)
        details = as_dict(event.get("CallDetails"))
        action_data = as_dict(event.get("ActionData"))
        legs: dict[str, dict[str, Any]] = {}
        for participant in as_list(details.get("Participants")):
            participant = as_dict(participant)
            tag = as_str(participant.get("ParticipantTag"))
            if tag in ("LEG-A", "LEG-B") and tag not in legs:
                legs[tag] = participant
        raw_attributes = as_dict(details.get("TransactionAttributes"))
        transaction_id = as_str(details.get("TransactionId"))
        return cls(
            event_type=as_str(event.get("InvocationEventType") or event.get("InvocationEvent")),
            transaction_id=transaction_id if TRANSACTION_ID.fullmatch(transaction_id) else "",
            action_type=as_str(action_data.get("Type")),
            action_data=action_data,
            attributes={k: as_str(v) for k, v in raw_attributes.items() if k in ATTRIBUTE_KEYS and isinstance(v, str)},
            legs=legs,
        )

    def leg(self, tag: str) -> dict[str, Any]:
        """An action's target: the leg's CallId when it has a usable one, else its ParticipantTag."""
        call_id = as_str(self.legs.get(tag, {}).get("CallId"))
        return {"CallId": call_id} if CALL_ID.fullmatch(call_id) else {"ParticipantTag": tag}

    @property
    def caller(self) -> str:
        leg_a = self.legs.get("LEG-A", {})
        direction = as_str(leg_a.get("Direction"))
        return as_str(leg_a.get("To") if direction == "Outbound" else leg_a.get("From"))

    @property
    def dialled(self) -> str:
        """The number a dial-in caller dialled: the portal's dial-in number."""
        return as_str(self.legs.get("LEG-A", {}).get("To"))

    def connected(self, tag: str) -> bool:
        return as_str(self.legs.get(tag, {}).get("Status")) == "Connected"


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """A text of the event, or "" for anything else. NUL and half a surrogate pair (JSON may spell "\\u0000" and
    "\\ud800") become U+FFFD: the call's row and timeline keep the event's texts, and no database or log takes them."""
    return UNSTORABLE.sub("\ufffd", value) if isinstance(value, str) else ""


# --- actions ---------------------------------------------------------------------------------------------------------


def _speak(invocation: Invocation, text: str) -> dict[str, Any]:
    return {"Type": "Speak", "Parameters": {"Text": text, **invocation.leg("LEG-A"), **VOICE}}


def _hangup(invocation: Invocation, tag: str = "LEG-A") -> dict[str, Any]:
    return {"Type": "Hangup", "Parameters": {"SipResponseCode": "0", **invocation.leg(tag)}}


def _ask_pin(invocation: Invocation, prompt: str) -> dict[str, Any]:
    return {
        "Type": "SpeakAndGetDigits",
        "Parameters": {
            **invocation.leg("LEG-A"),
            "InputDigitsRegex": f"^\\d{{{PIN_LENGTH}}}$",
            "SpeechParameters": {"Text": prompt, **VOICE},
            "FailureSpeechParameters": {"Text": WRONG_PIN, **VOICE},
            "MinNumberOfDigits": PIN_LENGTH,
            "MaxNumberOfDigits": PIN_LENGTH,
            "TerminatorDigits": ["#"],
            "InBetweenDigitsDurationInMilliseconds": 5000,
            "Repeat": 1,
            "RepeatDurationInMilliseconds": 10000,
        },
    }


def _listen_for_keys(invocation: Invocation) -> dict[str, Any]:
    return {
        "Type": "ReceiveDigits",
        "Parameters": {
            **invocation.leg("LEG-A"),
            "InputDigitsRegex": r"^\*\d$",
            "InBetweenDigitsDurationInMilliseconds": 1000,
            "FlushDigitsDurationInMilliseconds": 10000,
        },
    }


# --- the call flow ---------------------------------------------------------------------------------------------------


def _attributes(invocation: Invocation, **changes: str) -> dict[str, str]:
    merged = {**invocation.attributes, **changes}
    return {key: value[:MAX_ATTRIBUTE_LENGTH] for key, value in merged.items() if value}


def _goodbye(invocation: Invocation, text: str, state: str, note: str) -> Answer:
    return Answer([_speak(invocation, text), _hangup(invocation)], _attributes(invocation, stage=state), state, note)


def _join(invocation: Invocation, meeting: MeetingRef | None, ports: CallPorts) -> Answer:
    if meeting is None:
        return _goodbye(invocation, APOLOGY, "failed", "the meeting is not active")
    joined = ports.attendee_create(meeting=meeting, transaction_id=invocation.transaction_id, caller=invocation.caller)
    if isinstance(joined, str):
        return _goodbye(invocation, APOLOGY, "failed", f"no attendee: {joined}")
    action = {
        "Type": "JoinChimeMeeting",
        "Parameters": {"JoinToken": joined.join_token, **invocation.leg("LEG-A"), "MeetingId": meeting.meeting_id},
    }
    attributes = _attributes(
        invocation, stage="joining", meeting=meeting.key, meeting_id=meeting.meeting_id, attendee_id=joined.attendee_id
    )
    return Answer([action], attributes, "joining", f"joining as attendee {joined.attendee_id}")


def _locked_out(invocation: Invocation) -> Answer:
    return _goodbye(invocation, LOCKED_OUT, "rejected", "too many wrong PINs from this number or to the dial-in number")


def _pin_entered(invocation: Invocation, digits: str, ports: CallPorts) -> Answer:
    if re.fullmatch(f"[0-9]{{{PIN_LENGTH}}}", digits):
        checked = ports.pin_check(digits, caller=invocation.caller, dialled=invocation.dialled)
        if checked.locked_out:
            return _locked_out(invocation)
        if checked.meeting is not None:
            return _join(invocation, checked.meeting, ports)
    counted = invocation.attributes.get("pin_tries", "0")
    tries = int(counted) + 1 if re.fullmatch(r"[0-9]{1,2}", counted) else PIN_TRIES
    if tries >= PIN_TRIES:
        return _goodbye(invocation, GOODBYE, "rejected", f"wrong PIN ({tries} of {PIN_TRIES}): hung up")
    attributes = _attributes(invocation, stage="pin", pin_tries=str(tries))
    return Answer([_ask_pin(invocation, WRONG_PIN)], attributes, "pin", f"wrong PIN ({tries} of {PIN_TRIES})")


def _toggle_mute(invocation: Invocation) -> Answer:
    meeting_id, attendee_id = invocation.attributes.get("meeting_id"), invocation.attributes.get("attendee_id")
    if not meeting_id or not attendee_id or invocation.attributes.get("stage") != "in_meeting":
        return Answer([], _attributes(invocation), invocation.attributes.get("stage", ""), "keys outside a meeting")
    mute = invocation.attributes.get("muted") != "1"
    action = {
        "Type": "ModifyChimeMeetingAttendees",
        "Parameters": {
            "Operation": "Mute" if mute else "Unmute",
            "MeetingId": meeting_id,
            **invocation.leg("LEG-B"),
            "AttendeeList": [attendee_id],
        },
    }
    attributes = _attributes(invocation, muted="1" if mute else "0")
    return Answer([action], attributes, "in_meeting", "muted (*6)" if mute else "unmuted (*6)", muted=mute)


def _succeeded(invocation: Invocation, ports: CallPorts) -> Answer:
    stage = invocation.attributes.get("stage", "")
    if invocation.action_type in ("SpeakAndGetDigits", "PlayAudioAndGetDigits") and stage in ("pin", ""):
        return _pin_entered(invocation, as_str(invocation.action_data.get("ReceivedDigits")), ports)
    if invocation.action_type == "JoinChimeMeeting" and stage == "joining":
        attributes = _attributes(invocation, stage="in_meeting")
        return Answer([_listen_for_keys(invocation)], attributes, "in_meeting", "in the meeting")
    return Answer([], _attributes(invocation), stage)


def _failed(invocation: Invocation, ports: CallPorts) -> Answer:
    stage = invocation.attributes.get("stage", "")
    error = f"{as_str(invocation.action_data.get('ErrorType'))}: {as_str(invocation.action_data.get('ErrorMessage'))}"
    if invocation.action_type in ("SpeakAndGetDigits", "PlayAudioAndGetDigits") and stage in ("pin", ""):
        return _pin_entered(invocation, "", ports)
    if invocation.action_type == "JoinChimeMeeting":
        ports.attendee_release(transaction_id=invocation.transaction_id)
        return _goodbye(invocation, APOLOGY, "failed", f"JoinChimeMeeting failed ({error[:200]})")
    return Answer([], _attributes(invocation), stage, f"{invocation.action_type or 'action'} failed ({error[:200]})")


def _hung_up(invocation: Invocation, ports: CallPorts) -> Answer:
    ports.attendee_release(transaction_id=invocation.transaction_id)
    tag = as_str(as_dict(invocation.action_data.get("Parameters")).get("ParticipantTag"))
    actions = [_hangup(invocation)] if tag == "LEG-B" and invocation.connected("LEG-A") else []
    return Answer(actions, _attributes(invocation, stage="ended"), "ended", f"{tag or 'a leg'} hung up")


def _update_requested(invocation: Invocation) -> Answer:
    arguments = as_dict(as_dict(invocation.action_data.get("Parameters")).get("Arguments"))
    if arguments.get("Operation") == HANGUP_OPERATION:
        return Answer([_hangup(invocation)], _attributes(invocation, stage="ending"), "ending", "hang-up requested")
    return Answer([], _attributes(invocation), invocation.attributes.get("stage", ""), "update ignored")


def _answer(invocation: Invocation, ports: CallPorts) -> Answer:
    kind = invocation.event_type
    if kind == "NEW_INBOUND_CALL":
        if ports.pin_locked_out(caller=invocation.caller, dialled=invocation.dialled):
            return _locked_out(invocation)
        return Answer([_ask_pin(invocation, WELCOME)], {"stage": "pin", "pin_tries": "0"}, "pin", "asked for the PIN")
    if kind == "NEW_OUTBOUND_CALL":
        arguments = as_dict(as_dict(invocation.action_data.get("Parameters")).get("Arguments"))
        key = as_str(arguments.get(MEETING_ARGUMENT)) or invocation.attributes.get("meeting", "")
        return Answer([], _attributes(invocation, stage="ringing", meeting=key), "ringing", "dialling")
    if kind == "CALL_ANSWERED":
        key = invocation.attributes.get("meeting", "")
        return _join(invocation, ports.meeting_for_key(key) if key else None, ports)
    if kind == "ACTION_SUCCESSFUL":
        return _succeeded(invocation, ports)
    if kind == "ACTION_FAILED":
        return _failed(invocation, ports)
    if kind == "DIGITS_RECEIVED":
        if as_str(invocation.action_data.get("ReceivedDigits")) == MUTE_KEYS:
            return _toggle_mute(invocation)
        return Answer([], _attributes(invocation), invocation.attributes.get("stage", ""), "keys ignored")
    if kind == "CALL_UPDATE_REQUESTED":
        return _update_requested(invocation)
    if kind == "HANGUP":
        return _hung_up(invocation, ports)
    if kind == "INVALID_LAMBDA_RESPONSE":
        return _goodbye(invocation, APOLOGY, "failed", "the SMA refused the handler's answer")
    return Answer([], _attributes(invocation), invocation.attributes.get("stage", ""), f"{kind or 'event'} ignored")


def answer(event: Any, ports: CallPorts) -> Answer:
    """The handler's answer to one invocation. Never raises: a failure inside hangs up politely (with the apology)
    where the call was being connected, and otherwise answers no actions."""
    invocation = Invocation.parse(event)
    try:
        return _answer(invocation, ports)
    except Exception:
        logger.exception("The SMA handler failed on a %s event", invocation.event_type or "malformed")
        if invocation.event_type in ("NEW_INBOUND_CALL", "CALL_ANSWERED", "ACTION_SUCCESSFUL"):
            return _goodbye(invocation, APOLOGY, "failed", "the handler failed")
        return Answer([], {}, "", "the handler failed")
