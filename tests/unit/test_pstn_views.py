"""The PSTN pages and the handler's endpoint: signatures, rate limit, refusals next to the field, roles, PINs."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from portal.core.models import AuditEntry, Operation
from portal.meetings.models import Attendee, Meeting
from portal.pstn.models import CallInvocation, DialInPin, Lifecycle, PhoneCall, SipMediaApplication, SipRule
from portal.pstn.services import dial_in_pin_for, number_mask
from portal.pstn.signature import signed_headers
from tests.conftest import login, sandbox_boto

pytestmark = pytest.mark.django_db
SECRET = "unit-secret"
EVENT = {
    "SchemaVersion": "1.0",
    "Sequence": 1,
    "InvocationEventType": "NEW_INBOUND_CALL",
    "CallDetails": {
        "TransactionId": "tx-unit-1",
        "SipMediaApplicationId": "sma-1",
        "Participants": [
            {
                "CallId": "c-1",
                "ParticipantTag": "LEG-A",
                "From": "+14155550123",
                "To": "+12065550100",
                "Direction": "Inbound",
                "Status": "Connected",
            }
        ],
    },
}


def _post(body: bytes, headers: dict[str, str] | None = None):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    return Client(enforce_csrf_checks=True).post("/pstn/sma/", body, content_type="application/json", **extra)


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.SMA_HANDLER_SECRET = SECRET
    cache.clear()


def test_a_signed_invocation_is_answered_and_recorded_with_masked_numbers():
    body = json.dumps(EVENT).encode()
    response = _post(body, signed_headers(SECRET, body))
    assert response.status_code == 200
    assert [a["Type"] for a in response.json()["Actions"]] == ["SpeakAndGetDigits"]
    call = PhoneCall.objects.get(transaction_id="tx-unit-1")
    assert (call.direction, call.from_masked, call.to_masked, call.state) == (
        "inbound",
        "+1415*****23",
        "+1206*****00",
        "pin",
    )
    assert "+14155550123" not in json.dumps(call.legs)
    assert CallInvocation.objects.get(call=call).answered == "SpeakAndGetDigits"


@pytest.mark.parametrize(
    "headers",
    [{}, signed_headers("wrong", b"{}"), {"X-Sma-Timestamp": "1", "X-Sma-Signature": "v1=00"}],
)
def test_unsigned_or_wrongly_signed_invocations_are_refused(headers):
    body = json.dumps(EVENT).encode()
    assert _post(body, headers).status_code == 403
    assert not PhoneCall.objects.exists()


def test_a_stale_signature_is_refused():
    body = json.dumps(EVENT).encode()
    assert _post(body, signed_headers(SECRET, body, now=1_000_000)).status_code == 403


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"InvocationEventType": 7}', b"{}"])
def test_signed_nonsense_still_gets_a_valid_empty_answer(body):
    response = _post(body, signed_headers(SECRET, body))
    assert response.status_code == 200
    assert response.json()["SchemaVersion"] == "1.0"
    assert isinstance(response.json()["Actions"], list)


def test_more_invocations_than_the_rate_answer_429(settings):
    settings.SMA_HANDLER_RATE_PER_SECOND = 2
    body = b"{}"
    statuses = [_post(body, signed_headers(SECRET, body)).status_code for _ in range(5)]
    assert 429 in statuses
    assert statuses[0] == 200


def test_a_pin_is_six_digits_unique_among_active_meetings_and_freed_when_the_meeting_ends():
    meetings = [
        Meeting.objects.create(
            meeting_id=f"m-{n}", external_meeting_id=f"m{n}", media_region="us-east-1", status=Meeting.Status.ACTIVE
        )
        for n in range(30)
    ]
    pins = [dial_in_pin_for(meeting=meeting).pin for meeting in meetings]
    assert len(set(pins)) == 30
    assert all(len(pin) == 6 and pin.isdigit() for pin in pins)
    assert dial_in_pin_for(meeting=meetings[0]).pin == pins[0]
    Meeting.objects.filter(pk=meetings[0].pk).update(status=Meeting.Status.ENDED)
    assert dial_in_pin_for(meeting=Meeting.objects.get(pk=meetings[0].pk)) is None
    assert DialInPin.objects.get(meeting=meetings[0]).active is False


def test_number_mask():
    assert number_mask("+14155550123") == "+1415*****23"
    assert number_mask("14155550123") == "unknown"
    assert number_mask("+1415555012\n") == "unknown"


@pytest.fixture
def dial_in() -> SipRule:
    sma = SipMediaApplication.objects.create(
        name="dial in",
        aws_region="us-east-1",
        sma_id="sma-1",
        lambda_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        status=Lifecycle.ACTIVE,
    )
    return SipRule.objects.create(
        name="main", trigger_value="+12065550100", target=sma, rule_id="r-1", status=Lifecycle.ACTIVE
    )


def test_dial_out_refuses_a_number_that_is_not_e164_next_to_the_field(support, dial_in):
    meeting = Meeting.objects.create(
        meeting_id="m-1", external_meeting_id="m", media_region="us-east-1", status=Meeting.Status.ACTIVE
    )
    response = login(support).post(f"/calls/meeting/{meeting.pk}/dial/", {"to_number": "0044 20 7946"})
    assert response.status_code == 400
    assert "Enter the number in E.164" in response.content.decode()
    assert 'value="0044 20 7946"' in response.content.decode()
    assert not Operation.objects.filter(kind="pstn.dial_out").exists()


def test_viewers_may_neither_dial_out_nor_hang_up_nor_wire(viewer, dial_in):
    meeting = Meeting.objects.create(
        meeting_id="m-1", external_meeting_id="m", media_region="us-east-1", status=Meeting.Status.ACTIVE
    )
    call = PhoneCall.objects.create(direction="inbound", transaction_id="tx", sma=dial_in.target, state="in_meeting")
    client = login(viewer)
    assert client.post(f"/calls/meeting/{meeting.pk}/dial/", {"to_number": "+14155550123"}).status_code == 403
    assert client.post(f"/calls/{call.pk}/hangup/", {"reason": "x"}).status_code == 403
    assert client.get("/calls/wiring/smas/new/").status_code == 403
    assert client.get("/calls/").status_code == 200


def test_hang_up_needs_a_reason(support, dial_in):
    call = PhoneCall.objects.create(direction="inbound", transaction_id="tx", sma=dial_in.target, state="in_meeting")
    response = login(support).post(f"/calls/{call.pk}/hangup/", {"reason": ""})
    assert response.status_code == 400
    assert not Operation.objects.filter(kind="pstn.hangup").exists()


def test_live_calls_partial_for_htmx_and_the_meeting_panel_shows_pin_and_number(admin, dial_in):
    meeting = Meeting.objects.create(
        meeting_id="m-1", external_meeting_id="m", media_region="us-east-1", status=Meeting.Status.ACTIVE
    )
    PhoneCall.objects.create(
        direction="inbound",
        transaction_id="tx",
        sma=dial_in.target,
        state="in_meeting",
        meeting=meeting,
        from_masked="+1415*****23",
    )
    client = login(admin)
    response = client.get("/calls/", headers={"HX-Request": "true"})
    assert "HX-Request" in response["Vary"]
    assert response.content.decode().lstrip().startswith('<div id="call-tables"')
    page = client.get(f"/meetings/{meeting.pk}/").content.decode()
    pin = DialInPin.objects.get(meeting=meeting).pin
    assert f'id="dial-in-pin">{pin}<' in page
    assert 'id="dial-in-number">+12065550100<' in page
    assert "+1415*****23" in page
    assert "Call a phone into this meeting" in page


@pytest.mark.django_db(transaction=True)
def test_the_phone_numbers_refresher_lists_the_accounts_numbers_with_their_rule(aws_endpoint, sandbox, admin):
    from portal.pstn.models import PhoneNumber
    from portal.pstn.refresh import phone_numbers_refresh

    voice = sandbox_boto(sandbox.endpoint, "chime-sdk-voice")
    sma = voice.create_sip_media_application(
        AwsRegion="us-east-1", Name="x", Endpoints=[{"LambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}]
    )["SipMediaApplication"]
    rule = voice.create_sip_rule(
        Name="main",
        TriggerType="ToPhoneNumber",
        TriggerValue="+12065550100",
        TargetApplications=[
            {"SipMediaApplicationId": sma["SipMediaApplicationId"], "Priority": 1, "AwsRegion": "us-east-1"}
        ],
    )["SipRule"]
    assert phone_numbers_refresh() == {"listed": 10, "gone": 0}
    number = PhoneNumber.objects.get(e164="+12065550100")
    assert (number.status, number.sip_rule_id, number.product_type) == (
        "Assigned",
        rule["SipRuleId"],
        "SipMediaApplicationDialIn",
    )
    assert "+12065550109" in login(admin).get("/calls/wiring/").content.decode()


def _invocation(event_type: str, sequence: int, **extra: object) -> bytes:
    return json.dumps({**EVENT, "Sequence": sequence, "InvocationEventType": event_type, **extra}).encode()


def _right_pin_entered(sandbox) -> tuple[Meeting, bytes]:
    """A meeting on the sandbox with its PIN; a caller dials in: the invocation that enters the PIN."""

    made = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings").create_meeting(
        ClientRequestToken="unit-pin", MediaRegion="us-east-1", ExternalMeetingId="phone"
    )["Meeting"]
    meeting = Meeting.objects.create(
        meeting_id=made["MeetingId"], external_meeting_id="phone", media_region="us-east-1", status="active"
    )
    pin = dial_in_pin_for(meeting=meeting).pin
    first = _post(_invocation("NEW_INBOUND_CALL", 1), signed_headers(SECRET, _invocation("NEW_INBOUND_CALL", 1)))
    entered = _invocation(
        "ACTION_SUCCESSFUL",
        2,
        ActionData={"Type": "SpeakAndGetDigits", "ReceivedDigits": pin},
        CallDetails={**EVENT["CallDetails"], "TransactionAttributes": first.json()["TransactionAttributes"]},
    )
    return meeting, entered


def _dial_in_with_the_right_pin(sandbox) -> tuple[Meeting, dict]:
    """A meeting on the sandbox with its PIN; a caller dials in and enters it: the handler's answer."""
    meeting, entered = _right_pin_entered(sandbox)
    return meeting, _post(entered, signed_headers(SECRET, entered)).json()


@pytest.mark.django_db(transaction=True)
def test_the_same_signed_invocation_sent_again_is_refused_403_runs_nothing_and_is_audited(aws_endpoint, sandbox):
    """The probe: the same signed bytes sent again within the skew ran a second CreateAttendee and answered the
    caller's join token again."""
    meeting, entered = _right_pin_entered(sandbox)
    headers = signed_headers(SECRET, entered)
    first = _post(entered, headers)
    assert first.status_code == 200
    assert [action["Type"] for action in first.json()["Actions"]] == ["JoinChimeMeeting"]

    again = _post(entered, headers)
    assert again.status_code == 403
    assert "JoinToken" not in again.content.decode()
    assert Operation.objects.filter(kind="pstn.create_caller_attendee").count() == 1
    assert Attendee.objects.filter(meeting=meeting).count() == 1
    assert len(sandbox.state()["state"]["chime.meetings"][meeting.meeting_id]["attendees"]) == 1
    assert CallInvocation.objects.filter(call__transaction_id="tx-unit-1").count() == 2  # the dial and the PIN
    entry = AuditEntry.objects.get(kind="pstn.sma_replay")
    assert (entry.actor_name, entry.target, entry.event) == ("pstn handler", "tx-unit-1", "failed")
    assert "from 127.0.0.1" in entry.detail

    assert _post(entered, headers).status_code == 403  # a third time: refused too, the replay already audited
    assert AuditEntry.objects.filter(kind="pstn.sma_replay").count() == 1
    hangup = _invocation("HANGUP", 3, ActionData={"Type": "Hangup", "Parameters": {"ParticipantTag": "LEG-A"}})
    assert _post(hangup, signed_headers(SECRET, hangup)).status_code == 200  # another invocation is unaffected
    assert PhoneCall.objects.get(transaction_id="tx-unit-1").state == PhoneCall.State.ENDED


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_two_identical_signed_invocations_at_once_only_one_is_accepted(settings, redis_broker):
    """The signature is claimed with one atomic add in the shared cache (Redis, as in production): two web processes
    receiving the same bytes at the same instant cannot both pass."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_broker}}
    body = _invocation("NEW_INBOUND_CALL", 1)
    headers = signed_headers(SECRET, body)
    start = threading.Barrier(2)

    def send(_: int) -> int:
        start.wait()
        try:
            return _post(body, headers).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(send, range(2)))
    assert statuses == [200, 403]
    assert CallInvocation.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_right_pin_joins_through_an_operation_run_at_once_whose_token_is_never_stored(aws_endpoint, sandbox):
    """The caller's attendee is an Operation recorded already running as this process's and run in the request:
    audited, its effect applied (the attendee's row, the call's attendee), the join token in the answer and nowhere
    in the database."""
    from portal.core.models import AuditEntry, OneTimeSecret
    from portal.meetings.models import Attendee

    meeting, answer = _dial_in_with_the_right_pin(sandbox)
    join = next(action for action in answer["Actions"] if action["Type"] == "JoinChimeMeeting")
    operation = Operation.objects.get(kind="pstn.create_caller_attendee")
    assert (operation.status, operation.attempts, operation.effect_status) == ("succeeded", 1, "applied")
    assert operation.courier
    assert operation.actor_name == "pstn handler"
    assert list(AuditEntry.objects.filter(operation=operation).values_list("event", flat=True).order_by("pk")) == [
        "requested",
        "succeeded",
    ]
    attendee = Attendee.objects.get(meeting=meeting)
    assert join["Parameters"]["MeetingId"] == meeting.meeting_id
    assert attendee.attendee_id == operation.result["attendee_id"]
    assert PhoneCall.objects.get(transaction_id="tx-unit-1").attendee_id == attendee.attendee_id
    assert not OneTimeSecret.objects.exists()
    token = join["Parameters"]["JoinToken"]
    assert token
    assert token not in json.dumps([operation.result, operation.parameters])
    assert not AuditEntry.objects.filter(detail__contains=token).exists()


@pytest.mark.django_db(transaction=True)
def test_aws_slower_than_the_timeout_is_an_apology_a_hangup_and_a_failed_operation_never_retried(
    aws_endpoint, sandbox, settings
):
    """The SMA waits for the handler, so CreateAttendee gets PSTN_ATTENDEE_TIMEOUT_SECONDS: past it the caller hears
    an apology and is hung up, and the operation fails as CallTimedOut without a retry (nobody waits any more)."""
    settings.PSTN_ATTENDEE_TIMEOUT_SECONDS = 0.3
    sandbox.inject_fault("chime-sdk-meetings:BatchCreateAttendee", latency_ms=1500)
    _meeting, answer = _dial_in_with_the_right_pin(sandbox)
    assert [action["Type"] for action in answer["Actions"]] == ["Speak", "Hangup"]
    operation = Operation.objects.get(kind="pstn.create_caller_attendee")
    assert (operation.status, operation.error_code, operation.attempts) == ("failed", "CallTimedOut", 1)
    assert operation.next_attempt_at is None
    assert "CallTimedOut" in PhoneCall.objects.get(transaction_id="tx-unit-1").note


def test_idle_live_calls_poll_every_2_s_answered_204_until_a_call_starts(admin, dial_in):
    ended = PhoneCall.objects.create(direction="inbound", transaction_id="tx-0", sma=dial_in.target, state="ended")
    client = login(admin)
    page = client.get("/calls/").content.decode()
    assert f'hx-get="/calls/?newest={ended.pk}" hx-trigger="every 2s"' in page
    idle = client.get(f"/calls/?newest={ended.pk}", headers={"HX-Request": "true"})
    assert (idle.status_code, idle.content) == (204, b"")

    call = PhoneCall.objects.create(direction="inbound", transaction_id="tx-1", sma=dial_in.target, state="pin")
    changed = client.get(f"/calls/?newest={ended.pk}", headers={"HX-Request": "true"}).content.decode()
    assert f'id="call-{call.pk}" data-state="pin"' in changed.split('id="recent-calls"')[0]
    assert 'hx-get="/calls/" hx-trigger="every 2s"' in changed  # a live call: every poll is the whole tables
    assert client.get("/calls/?newest=12x", headers={"HX-Request": "true"}).status_code == 200


def test_the_sip_rule_form_chooses_the_only_sip_media_application(admin, dial_in):
    client = login(admin)
    form = client.get("/calls/wiring/rules/new/").content.decode()
    assert f'<option value="{dial_in.target.pk}" selected>dial in</option>' in form
    SipMediaApplication.objects.create(
        name="second", aws_region="us-east-1", sma_id="sma-2", lambda_arn=dial_in.target.lambda_arn,
        status=Lifecycle.ACTIVE,
    )  # fmt: skip
    form = client.get("/calls/wiring/rules/new/").content.decode()
    assert '<option value="" selected>---------</option>' in form  # two: the Admin chooses
