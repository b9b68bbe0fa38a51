"""An Admin watches a phone number order settle on the wiring page in a real browser, without a reload."""

from __future__ import annotations

import pytest

from portal.core.roles import Role
from portal.pstn.models import PhoneNumberOrder
from portal.pstn.refresh import phone_numbers_refresh
from tests.conftest import sandbox_boto
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ORDERED = "+14155550100"


def test_an_ordered_number_shows_its_final_state_without_a_reload(
    aws_endpoint, sandbox, make_user, live_server, page, log_in
):
    sandbox.quotas(enabled=False)
    voice = sandbox_boto(sandbox.endpoint, "chime-sdk-voice")
    placed = voice.create_phone_number_order(ProductType="SipMediaApplicationDialIn", E164PhoneNumbers=[ORDERED])
    order = PhoneNumberOrder.objects.create(
        order_id=placed["PhoneNumberOrder"]["PhoneNumberOrderId"],
        product_type="SipMediaApplicationDialIn",
        status="Processing",
        numbers=[{"e164": ORDERED, "status": "Processing"}],
    )
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/calls/wiring/")
    page.locator(f'#order-{order.pk}[data-state="Processing"]').wait_for()

    sandbox.advance(5)
    phone_numbers_refresh()  # the worker's refresher settles the order; the page is not reloaded
    page.locator(f'#order-{order.pk}[data-state="Successful"]').wait_for(timeout=5_000)
    assert ORDERED in page.locator("#numbers").inner_text()
    wait_for_htmx(page)
    assert page.locator("#wiring-tables").get_attribute("hx-trigger") is None  # nothing in transition: it stopped
