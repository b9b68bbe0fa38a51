"""Support calls a phone into a meeting from its page in a real browser, watches the call in live calls (ringing,
then in the meeting, without a reload), and hangs it up with a reason; sees a number locked out by wrong PINs and
lifts the lockout."""

from __future__ import annotations

import uuid

import pytest

from portal.core.models import AuditEntry, Operation
from portal.core.roles import Role
from portal.meetings.models import Meeting
from portal.pstn.models import Lifecycle, PhoneCall, SipMediaApplication, SipRule
from tests.backing_services import wait_until
from tests.conftest import call_heard, sandbox_boto, sandbox_dial_in
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
SECRET = "browser-secret"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rtc-portal-sma"
DIAL_IN = "+12065550100"


def test_dial_out_from_the_meeting_page_watch_it_live_and_hang_it_up(
    aws_endpoint, sandbox, settings, redis_broker, real_worker, make_user, live_server, page, log_in,
    live_handler_deadline,
):  # fmt: skip
    real_worker(redis_broker)
    sandbox.quotas(enabled=False)
    settings.SMA_HANDLER_SECRET = SECRET
    sandbox.sma_endpoint(LAMBDA_ARN, f"{live_server.url}/pstn/sma/", SECRET)
    voice = sandbox_boto(sandbox.endpoint, "chime-sdk-voice")
    sma_id = voice.create_sip_media_application(
        AwsRegion="us-east-1", Name="dial in", Endpoints=[{"LambdaArn": LAMBDA_ARN}]
    )["SipMediaApplication"]["SipMediaApplicationId"]
    sma = SipMediaApplication.objects.create(
        name="dial in", aws_region="us-east-1", lambda_arn=LAMBDA_ARN, sma_id=sma_id, status=Lifecycle.ACTIVE
    )
    SipRule.objects.create(name="main", trigger_value=DIAL_IN, target=sma, rule_id="rule-1", status=Lifecycle.ACTIVE)
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    made = chime.create_meeting(ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="ops")
    meeting = Meeting.objects.create(
        meeting_id=made["Meeting"]["MeetingId"],
        external_meeting_id="ops-bridge",
        media_region="us-east-1",
        status=Meeting.Status.ACTIVE,
    )
    support = make_user("sam", Role.SUPPORT)

    log_in(support)
    page.goto(f"{live_server.url}/meetings/{meeting.pk}/")
    assert page.locator("#dial-in-number").inner_text() == DIAL_IN
    page.get_by_role("link", name="Call a phone into this meeting").click()
    page.fill("#id_to_number", "+14155550199")
    page.get_by_role("button", name="Call").click()
    wait_until(lambda: Operation.objects.filter(kind="pstn.dial_out", status=Operation.Status.SUCCEEDED).exists())

    page.goto(f"{live_server.url}/calls/")
    call = PhoneCall.objects.get()
    row = page.locator(f"#live-calls #call-{call.pk}")
    row.wait_for(timeout=10_000)
    assert "+1415*****99" in row.inner_text()
    page.locator(f'#call-{call.pk}[data-state="ringing"]').wait_for(timeout=10_000)
    sandbox.call_answer(PhoneCall.objects.get().transaction_id)
    page.locator(f'#call-{call.pk}[data-state="in_meeting"]').wait_for(timeout=10_000)  # no reload: it polls

    row.get_by_role("link", name="Hang up").click()
    page.fill("#id_reason", "wrong number dialled")
    page.get_by_role("button", name="Hang up call").click()
    wait_until(lambda: PhoneCall.objects.get(pk=call.pk).state == PhoneCall.State.ENDED)
    page.goto(f"{live_server.url}/calls/")
    page.locator(f'#recent-calls #call-{call.pk}[data-state="ended"]').wait_for(timeout=10_000)
    assert page.locator("#live-calls").count() == 0
    entry = AuditEntry.objects.get(kind="pstn.hangup", event="succeeded")
    assert (entry.actor_name, entry.reason) == ("sam", "wrong number dialled")


def test_a_call_dialled_in_appears_in_live_calls_within_2_s_without_a_reload(
    sandbox, settings, make_user, live_server, page, log_in
):
    sandbox.quotas(enabled=False)
    settings.SMA_HANDLER_SECRET = SECRET
    sandbox_dial_in(sandbox, f"{live_server.url}/pstn/sma/", SECRET, DIAL_IN)
    viewer = make_user("vic", Role.VIEWER)
    log_in(viewer)
    page.goto(f"{live_server.url}/calls/")
    page.locator("[data-empty]").wait_for()
    wait_for_htmx(page)

    dialled = sandbox.call_dial("+14155550123", DIAL_IN)
    call = PhoneCall.objects.get(transaction_id=dialled["TransactionId"])
    page.locator(f'#live-calls #call-{call.pk}[data-state="pin"]').wait_for(timeout=2_500)  # the poll is every 2 s
    assert "+1415*****23" in page.locator(f"#call-{call.pk}").inner_text()


def test_support_sees_a_number_locked_out_by_wrong_pins_on_the_calls_page_and_lifts_it(
    sandbox, settings, make_user, live_server, page, log_in
):
    settings.SMA_HANDLER_SECRET = SECRET
    settings.PSTN_WRONG_PINS_PER_CALLER = 3
    sandbox_dial_in(sandbox, f"{live_server.url}/pstn/sma/", SECRET, DIAL_IN)
    call = sandbox.call_dial("+14155550123", DIAL_IN)
    for _ in range(3):  # no meeting is active: every PIN is wrong
        call = sandbox.call_press(call["TransactionId"], "424242#")
    assert call_heard(sandbox, call)["state"] == "ended"
    support = make_user("sam", Role.SUPPORT)

    log_in(support)
    page.goto(f"{live_server.url}/calls/")
    assert "At most 3 wrong PINs from one calling number" in page.locator("#pin-limits").inner_text()
    row = page.locator('#lockouts tr[data-scope="caller"]')
    assert row.locator("td").all_inner_texts()[:3] == ["+1415*****23", "Calling number", "3"]
    row.get_by_role("button", name="Lift lockout").click()
    assert page.locator(".toast").inner_text() == "The lockout of calling number +1415*****23 is lifted."
    assert page.locator("#lockouts").count() == 0
    assert page.locator("#pin-lockouts").get_by_text("No number is locked out.").is_visible()
    assert AuditEntry.objects.get(kind="pstn.pin_lockout_lift").actor_name == "sam"
    assert sandbox.call_dial("+14155550123", DIAL_IN)["waitingFor"] == "SpeakAndGetDigits"
