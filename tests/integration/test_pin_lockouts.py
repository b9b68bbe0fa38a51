"""Wrong PINs across calls, driven through the sandbox's calls (live server, signed invocations): a calling number,
and a dial-in number, are locked out at their limits; a lockout is audited once, shown on the calls page, ends with
its window, and Support may lift it."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db.models import F

from portal.core.models import AuditEntry
from portal.meetings.models import Meeting
from portal.pstn.models import CallInvocation, PhoneCall, WrongPins
from portal.pstn.services import dial_in_pin_for
from tests.conftest import call_heard, login, sandbox_boto, sandbox_dial_in

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "lockout-secret"
DIAL_IN = "+12065550100"
GUESSER = "+14155550123"
OTHER = "+13125550177"


@pytest.fixture
def dial_in(sandbox, settings, live_server, aws_endpoint, live_handler_deadline) -> str:
    """A meeting callers can dial into through the sandbox's SMA, which invokes this portal: its PIN."""
    sandbox.quotas(enabled=False)
    settings.SMA_HANDLER_SECRET = SECRET
    settings.PSTN_WRONG_PINS_PER_CALLER = 4
    settings.PSTN_WRONG_PINS_PER_DIAL_IN = 6
    settings.PSTN_WRONG_PIN_WINDOW_MINUTES = 15
    sandbox_dial_in(sandbox, f"{live_server.url}/pstn/sma/", SECRET, DIAL_IN)
    made = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings").create_meeting(
        ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="standup"
    )["Meeting"]
    meeting = Meeting.objects.create(
        meeting_id=made["MeetingId"], external_meeting_id="standup", media_region="us-east-1", status="active"
    )
    return dial_in_pin_for(meeting=meeting).pin


def _wrong(pin: str) -> str:
    return "000000" if pin != "000000" else "111111"


def _guess(sandbox, caller: str, digits: list[str]) -> dict:
    """One call from `caller`: each entry in turn while the call asks for a PIN; the sandbox's view of it after."""
    call = sandbox.call_dial(caller, DIAL_IN)
    for entered in digits:
        if call["waitingFor"] != "SpeakAndGetDigits":
            break
        call = sandbox.call_press(call["TransactionId"], f"{entered}#")
    return call_heard(sandbox, call)


def _notes(call: dict) -> list[str]:
    """The call's timeline: what the handler noted at each invocation."""
    return list(
        CallInvocation.objects.filter(call__transaction_id=call["TransactionId"]).values_list("note", flat=True)
    )


def _refused(call: dict) -> bool:
    """The call heard the lockout and was hung up."""
    row = PhoneCall.objects.get(transaction_id=call["TransactionId"])
    locked = "too many wrong PINs from this number or to the dial-in number"
    return call["state"] == "ended" and row.state == PhoneCall.State.REJECTED and locked in _notes(call)


def _lockout_entries() -> list[tuple[str, str, str]]:
    entries = AuditEntry.objects.filter(kind="pstn.pin_lockout").order_by("id")
    return [(entry.actor_name, entry.target, entry.event) for entry in entries]


def test_wrong_pins_across_calls_lock_the_calling_number_out_at_its_limit_and_no_other(sandbox, dial_in, viewer):
    wrong = _wrong(dial_in)
    first = _guess(sandbox, GUESSER, [wrong] * 3)  # three tries, then a goodbye
    assert first["state"] == "ended"
    assert PhoneCall.objects.get(transaction_id=first["TransactionId"]).state == PhoneCall.State.REJECTED
    second = _guess(sandbox, GUESSER, [wrong, dial_in])  # the fourth wrong PIN reaches the limit: no fifth try
    assert _refused(second)
    assert second["meeting"] is None
    assert _lockout_entries() == [("pstn handler", "+1415*****23", "locked_out")]

    third = _guess(sandbox, GUESSER, [dial_in])  # even the right PIN: nothing is asked, nothing is checked
    assert _refused(third)
    assert third["meeting"] is None
    assert third["invocations"][0]["actions"] == ["Speak", "Hangup"]  # the answer to NEW_INBOUND_CALL
    assert len(_lockout_entries()) == 1  # one entry for the lockout, not one per call

    other = _guess(sandbox, OTHER, [dial_in])
    assert other["meeting"] is not None  # another number still joins
    caller = WrongPins.objects.get(scope=WrongPins.Scope.CALLER)
    assert (caller.number_shown, caller.wrong_pins) == ("+1415*****23", 4)
    assert GUESSER not in caller.number_digest
    assert WrongPins.objects.get(scope=WrongPins.Scope.DIAL_IN).wrong_pins == 4

    page = login(viewer).get("/calls/").content.decode()
    assert "At most 4 wrong PINs from one calling number, and 6 to one dial-in number, in 15 minutes." in page
    row = re.search(rf'<tr id="lockout-{caller.pk}" data-scope="caller">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[:5] == [
        "+1415*****23",
        "Calling number",
        "4",
        f"{caller.locked_at:%Y-%m-%d %H:%M:%S}",
        f"{caller.locked_until:%Y-%m-%d %H:%M:%S}",
    ]
    assert caller.locked_until - caller.locked_at == timedelta(minutes=15)
    assert "Lift lockout" not in page  # a Viewer sees it, and changes nothing


def test_support_lifts_a_lockout_and_the_number_may_dial_in_again(sandbox, dial_in, support, viewer):
    wrong = _wrong(dial_in)
    _guess(sandbox, GUESSER, [wrong] * 3)
    assert _refused(_guess(sandbox, GUESSER, [wrong]))
    lockout = WrongPins.objects.get(scope=WrongPins.Scope.CALLER)
    assert login(viewer).post(f"/calls/lockouts/{lockout.pk}/lift/").status_code == 403

    client = login(support)
    page = client.get("/calls/").content.decode()
    assert f'action="/calls/lockouts/{lockout.pk}/lift/"' in page
    response = client.post(f"/calls/lockouts/{lockout.pk}/lift/")
    assert (response.status_code, response["Location"]) == (303, "/calls/")
    page = client.get("/calls/").content.decode()
    assert "The lockout of calling number +1415*****23 is lifted." in page
    assert 'id="lockouts"' not in page
    assert "No number is locked out." in page
    lift = AuditEntry.objects.get(kind="pstn.pin_lockout_lift")
    assert (lift.actor_name, lift.target) == ("sam", "+1415*****23")
    assert "4 wrong PINs" in lift.detail
    assert client.post(f"/calls/lockouts/{lockout.pk}/lift/").status_code == 409  # nothing left to lift

    assert _guess(sandbox, GUESSER, [dial_in])["meeting"] is not None


def test_the_dial_in_numbers_limit_locks_out_every_caller(sandbox, dial_in):
    wrong = _wrong(dial_in)
    _guess(sandbox, "+14155550101", [wrong] * 3)
    _guess(sandbox, "+14155550102", [wrong] * 2)
    assert _refused(_guess(sandbox, "+14155550103", [wrong]))  # the sixth wrong PIN to the number
    assert _lockout_entries() == [("pstn handler", DIAL_IN, "locked_out")]
    assert _refused(_guess(sandbox, OTHER, [dial_in]))  # a number that never guessed: refused too, unchecked
    assert [row.wrong_pins for row in WrongPins.objects.filter(scope=WrongPins.Scope.CALLER).order_by("id")] == [
        3,
        2,
        1,
    ]


def test_a_lockout_ends_with_its_window_and_the_count_starts_again(sandbox, dial_in):
    wrong = _wrong(dial_in)
    _guess(sandbox, GUESSER, [wrong] * 3)
    assert _refused(_guess(sandbox, GUESSER, [wrong]))
    passed = timedelta(minutes=15, seconds=1)  # the window's length passes
    WrongPins.objects.update(
        window_started_at=F("window_started_at") - passed,
        locked_at=F("locked_at") - passed,
        locked_until=F("locked_until") - passed,
    )
    again = _guess(sandbox, GUESSER, [wrong])
    assert again["waitingFor"] == "SpeakAndGetDigits"  # asked again: the PIN was checked, and was wrong
    caller = WrongPins.objects.get(scope=WrongPins.Scope.CALLER)
    assert (caller.wrong_pins, caller.locked_until) == (1, None)
    assert _guess(sandbox, GUESSER, [dial_in])["meeting"] is not None


def test_calls_at_the_same_instant_cannot_guess_past_the_limit(sandbox, dial_in):
    """Six calls from one number enter a wrong PIN at once: four are looked up (the limit), two are refused."""
    wrong = _wrong(dial_in)
    calls = [sandbox.call_dial(GUESSER, DIAL_IN) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        pressed = list(pool.map(lambda call: sandbox.call_press(call["TransactionId"], f"{wrong}#"), calls))
    answered = [call_heard(sandbox, call) for call in pressed]
    assert WrongPins.objects.get(scope=WrongPins.Scope.CALLER).wrong_pins == 4
    assert sum(1 for call in answered if "wrong PIN (1 of 3)" in _notes(call)) == 3
    assert sum(1 for call in answered if _refused(call)) == 3  # the fourth, which locked it, and two unchecked
    assert len(_lockout_entries()) == 1
