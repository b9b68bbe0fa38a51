"""Phone numbers through the portal, against the sandbox: search (an operation, as views never call AWS), order
(followed by the refresher until AWS settles it), update one detail at a time, release to the deletion queue; a
number a SIP rule uses cannot be released; AWS's refusals are shown with their code and message."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.core.models import Operation
from portal.pstn.models import Lifecycle, PhoneNumber, PhoneNumberOrder, SipMediaApplication, SipRule
from portal.pstn.refresh import phone_numbers_refresh
from tests.conftest import login, sandbox_boto

pytestmark = pytest.mark.django_db
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rtc-portal-sma"
SEARCH = {"number_type": "Local", "area_code": "415", "state": "", "city": "", "toll_free_prefix": "",
          "max_results": "5"}  # fmt: skip


@pytest.fixture
def voice(sandbox):
    return sandbox_boto(sandbox.endpoint, "chime-sdk-voice")


@pytest.fixture
def listed(aws_endpoint, sandbox):
    """The account's ten seeded numbers, listed by the refresher."""
    sandbox.quotas(enabled=False)
    phone_numbers_refresh()
    return {number.e164: number for number in PhoneNumber.objects.all()}


class RunningClient:
    """An Admin's client whose posts run the operations they request when their transaction commits (eager Celery)."""

    def __init__(self, client: Client, capture) -> None:
        self.client, self.capture = client, capture

    def get(self, url: str):
        return self.client.get(url)

    def post(self, url: str, data: dict | None = None):
        with self.capture(execute=True):
            return self.client.post(url, data or {})


@pytest.fixture
def client(admin, django_capture_on_commit_callbacks) -> RunningClient:
    return RunningClient(login(admin), django_capture_on_commit_callbacks)


def _operation(response) -> Operation:
    assert response.status_code == 303, response.content.decode()[:500]
    return Operation.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[-1]))


def _sandbox_number(sandbox, e164: str) -> dict:
    return sandbox.state()["state"]["voice.phone_numbers"][e164]


def test_ordering_numbers_searches_then_orders_and_the_refresher_follows_the_order(client, listed, sandbox):
    search = _operation(client.post("/calls/wiring/numbers/search/", SEARCH))
    assert search.status == Operation.Status.SUCCEEDED
    assert search.parameters["criteria"] == {"Country": "US", "PhoneNumberType": "Local", "AreaCode": "415"}
    found = search.result["numbers"]
    assert found == [f"+1415555{n:04d}" for n in range(100, 105)]
    page = client.get(f"/operations/{search.pk}/").content.decode()
    assert "+14155550104" in page
    assert f"/calls/wiring/numbers/search/{search.pk}/order/" in page
    form = client.get(f"/calls/wiring/numbers/search/{search.pk}/order/").content.decode()
    assert 'value="+14155550100"' in form

    order_op = _operation(
        client.post(f"/calls/wiring/numbers/search/{search.pk}/order/", {"numbers": found[:2], "name": "support"})
    )
    assert order_op.status == Operation.Status.SUCCEEDED, order_op.error_message
    order = PhoneNumberOrder.objects.get()
    assert (order.order_id, order.status) == (order_op.result["order_id"], "Processing")
    assert [n["status"] for n in order.numbers] == ["Processing", "Processing"]
    assert sandbox.state()["state"]["voice.phone_number_orders"][order.order_id]["Status"] == "Processing"
    assert not PhoneNumber.objects.filter(e164__in=found[:2]).exists()
    again = client.post(f"/calls/wiring/numbers/search/{search.pk}/order/", {"numbers": found[1:3]})
    assert again.status_code == 409
    assert "Already on order: +14155550101" in again.content.decode()

    sandbox.advance(5)
    phone_numbers_refresh()  # the order is processing: read every cycle; once settled, its numbers at once
    order.refresh_from_db()
    assert order.status == "Successful"
    assert [n["status"] for n in order.numbers] == ["Acquired", "Acquired"]
    ordered = PhoneNumber.objects.get(e164="+14155550100")
    assert (ordered.status, ordered.name, ordered.order_id, ordered.product_type, ordered.present) == (
        "Unassigned",
        "support",
        order.order_id,
        "SipMediaApplicationDialIn",
        True,
    )
    wiring = client.get("/calls/wiring/").content.decode()
    assert 'id="order-' in wiring
    assert "+14155550101" in wiring


def test_an_order_must_choose_among_the_numbers_found_and_keeps_its_input(client, listed):
    search = _operation(client.post("/calls/wiring/numbers/search/", SEARCH))
    url = f"/calls/wiring/numbers/search/{search.pk}/order/"
    response = client.post(url, {"numbers": ["+19995550100"], "name": "kept name"})
    assert response.status_code == 400
    assert "kept name" in response.content.decode()
    assert client.post(url, {"name": "bad/name"}).status_code == 400
    assert not PhoneNumberOrder.objects.exists()
    assert not Operation.objects.filter(kind="pstn.order_numbers").exists()


def test_the_search_form_refuses_what_aws_would_and_keeps_its_input(client):
    for data in (
        {**SEARCH, "area_code": ""},  # a local search needs an area code or a state
        {**SEARCH, "area_code": "", "city": "Seattle"},  # a city needs its state
        {**SEARCH, "number_type": "TollFree"},  # a toll-free search takes no area code
        {**SEARCH, "toll_free_prefix": "800"},  # a prefix is for toll-free searches
        {**SEARCH, "max_results": "501"},
    ):
        response = client.post("/calls/wiring/numbers/search/", data)
        assert response.status_code == 400, data
        assert f'value="{data["max_results"]}"' in response.content.decode()
    assert not Operation.objects.filter(kind="pstn.search_numbers").exists()


def test_a_number_is_updated_one_detail_at_a_time_and_a_pending_calling_name_is_refused(client, listed, sandbox):
    number = listed["+12065550105"]
    url = f"/calls/wiring/numbers/{number.pk}/"
    same = {"name": "", "calling_name": "", "product_type": "SipMediaApplicationDialIn"}
    assert "Nothing changed" in client.post(url, same).content.decode()
    response = client.post(url, {**same, "calling_name": "x!"})
    assert response.status_code == 400
    assert 'value="x!"' in response.content.decode()

    operation = _operation(client.post(url, {**same, "name": "front desk", "calling_name": "Front Desk"}))
    assert operation.status == Operation.Status.SUCCEEDED, operation.error_message
    assert operation.parameters["changes"] == {"Name": "front desk", "CallingName": "Front Desk"}
    number.refresh_from_db()
    assert (number.name, number.calling_name, number.calling_name_status) == (
        "front desk",
        "Front Desk",
        "UpdateInProgress",
    )
    in_aws = _sandbox_number(sandbox, "+12065550105")
    assert (in_aws["Name"], in_aws["CallingName"]) == ("front desk", "Front Desk")
    refused = client.post(url, {**same, "name": "front desk", "calling_name": "Reception"})
    assert refused.status_code == 409
    assert "still being updated" in refused.content.decode()
    assert Operation.objects.filter(kind="pstn.update_number").count() == 1


def test_aws_refusing_an_update_is_shown_with_its_code_and_message(client, listed, voice):
    number = listed["+12065550106"]
    voice.update_phone_number(PhoneNumberId=number.e164, CallingName="Elsewhere")  # changed outside the portal
    data = {"name": "", "calling_name": "Reception", "product_type": "SipMediaApplicationDialIn"}
    operation = _operation(client.post(f"/calls/wiring/numbers/{number.pk}/", data))
    assert (operation.status, operation.error_code) == (Operation.Status.FAILED, "ConflictException")
    page = client.get(f"/operations/{operation.pk}/").content.decode()
    assert "ConflictException" in page
    assert "calling name update is pending" in page


def test_a_number_a_sip_rule_uses_cannot_be_released(client, listed, sandbox):
    sma = SipMediaApplication.objects.create(
        sma_id="sma-1", name="dial in", aws_region="us-east-1", lambda_arn=LAMBDA_ARN, status=Lifecycle.ACTIVE
    )
    SipRule.objects.create(
        rule_id="r-1", name="main number", trigger_value="+12065550100", target=sma, status=Lifecycle.ACTIVE
    )
    number = listed["+12065550100"]
    wiring = client.get("/calls/wiring/").content.decode()
    row = wiring.split(f'id="number-{number.pk}"')[1].split("</tr>")[0]
    assert "main number" in row
    assert "in use" in row
    assert "Release" not in row
    confirm = client.get(f"/calls/wiring/numbers/{number.pk}/release/").content.decode()
    assert "delete the rule first" in confirm
    assert "Release</button>" not in confirm
    refused = client.post(f"/calls/wiring/numbers/{number.pk}/release/")
    assert refused.status_code == 409
    assert not Operation.objects.filter(kind="pstn.release_number").exists()
    assert _sandbox_number(sandbox, "+12065550100")["Status"] == "Unassigned"


def test_aws_refuses_releasing_a_number_wired_outside_the_portal(client, listed, voice):
    sma = voice.create_sip_media_application(
        AwsRegion="us-east-1", Name="outside", Endpoints=[{"LambdaArn": LAMBDA_ARN}]
    )["SipMediaApplication"]
    voice.create_sip_rule(
        Name="outside",
        TriggerType="ToPhoneNumber",
        TriggerValue="+12065550107",
        TargetApplications=[
            {"SipMediaApplicationId": sma["SipMediaApplicationId"], "Priority": 1, "AwsRegion": "us-east-1"}
        ],
    )
    operation = _operation(client.post(f"/calls/wiring/numbers/{listed['+12065550107'].pk}/release/"))
    assert (operation.status, operation.error_code) == (Operation.Status.FAILED, "BadRequestException")
    assert "must be disassociated" in client.get(f"/operations/{operation.pk}/").content.decode()


def test_a_released_number_waits_in_the_deletion_queue_unchangeable_until_restored(client, listed, sandbox):
    number = listed["+12065550108"]
    confirm = client.get(f"/calls/wiring/numbers/{number.pk}/release/").content.decode()
    assert "deletion queue" in confirm
    operation = _operation(client.post(f"/calls/wiring/numbers/{number.pk}/release/"))
    assert operation.status == Operation.Status.SUCCEEDED, operation.error_message
    number.refresh_from_db()
    assert number.status == "DeleteInProgress"
    assert _sandbox_number(sandbox, "+12065550108")["Status"] == "DeleteInProgress"
    phone_numbers_refresh()
    number.refresh_from_db()
    assert (number.status, number.present) == ("DeleteInProgress", True)
    row = client.get("/calls/wiring/").content.decode().split(f'id="number-{number.pk}"')[1].split("</tr>")[0]
    assert "Edit" not in row
    assert f"/calls/wiring/numbers/{number.pk}/restore/" in row
    assert client.post(f"/calls/wiring/numbers/{number.pk}/release/").status_code == 409

    restored = _operation(client.post(f"/calls/wiring/numbers/{number.pk}/restore/"))
    assert restored.status == Operation.Status.SUCCEEDED, restored.error_message
    number.refresh_from_db()
    assert number.status == "Unassigned"
    assert _sandbox_number(sandbox, "+12065550108")["Status"] == "Unassigned"
    assert client.post(f"/calls/wiring/numbers/{number.pk}/restore/").status_code == 409


def test_viewers_see_numbers_but_cannot_search_order_change_or_release(viewer, listed):
    number = listed["+12065550100"]
    client = login(viewer)
    page = client.get("/calls/wiring/").content.decode()
    assert "+12065550100" in page
    assert "Order numbers" not in page
    assert f"/calls/wiring/numbers/{number.pk}/" not in page
    for url in ("/calls/wiring/numbers/search/", f"/calls/wiring/numbers/{number.pk}/",
                f"/calls/wiring/numbers/{number.pk}/release/", "/calls/wiring/numbers/search/1/order/"):  # fmt: skip
        assert client.get(url).status_code == 403, url
        assert client.post(url).status_code == 403, url
    assert client.post(f"/calls/wiring/numbers/{number.pk}/restore/").status_code == 403
    assert not Operation.objects.exists()


def test_the_wiring_tables_poll_while_an_order_is_processing_and_stop_once_it_is_settled(client, listed, sandbox):
    search = _operation(client.post("/calls/wiring/numbers/search/", SEARCH))
    found = search.result["numbers"]
    _operation(client.post(f"/calls/wiring/numbers/search/{search.pk}/order/", {"numbers": found[:1]}))
    order = PhoneNumberOrder.objects.get()
    page = client.get("/calls/wiring/").content.decode()
    assert '<div id="wiring-tables" hx-get="/calls/wiring/" hx-trigger="every 2s"' in page
    htmx = {"HX-Request": "true"}
    polled = client.client.get("/calls/wiring/", headers=htmx)
    assert polled.status_code == 200
    assert "HX-Request" in polled["Vary"]
    assert f'id="order-{order.pk}" data-state="Processing"' in polled.content.decode()

    sandbox.advance(5)
    phone_numbers_refresh()
    settled = client.client.get("/calls/wiring/", headers=htmx)
    assert settled.status_code == 286  # nothing left in transition: htmx stops polling
    tables = settled.content.decode()
    assert tables.lstrip().startswith('<div id="wiring-tables"')
    assert "hx-trigger" not in tables.split(">", 1)[0]
    assert f'id="order-{order.pk}" data-state="Successful"' in tables
    assert found[0] in tables.split('id="numbers"')[1]
