"""Operation pages lead back in Chromium: a created channel's operation links the channel by name, and a fleet's page
is found again from the Operations list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.channels.models import Channel
from portal.core.models import OperationBatch
from portal.core.roles import Role
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_created_channel_is_linked_by_name_from_its_operation(
    aws_endpoint, sandbox, redis_broker, real_worker, make_user, live_server, page, log_in
):
    real_worker(redis_broker)
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/channels/new/")
    page.fill("#id_name", "front-door")
    page.get_by_role("button", name="Create channel").click()
    page.wait_for_url("**/operations/*/")
    wait_for_htmx(page)
    headline = page.locator(".progress a.operation-subject")
    expect(headline).to_have_text("front-door")
    headline.click()
    page.wait_for_url(f"{live_server.url}/channels/{Channel.objects.get(name='front-door').pk}/")


def test_a_fleet_is_found_again_from_the_operations_list(
    aws_endpoint, sandbox, redis_broker, real_worker, make_user, live_server, page, log_in
):
    real_worker(redis_broker)
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/channels/fleet/")
    page.fill("#id_pattern", "cam-{01..03}")
    page.get_by_role("button", name="Create the fleet").click()
    page.wait_for_url("**/operations/batches/*/")
    batch = OperationBatch.objects.get()
    page.get_by_role("link", name="Operations", exact=True).first.click()
    page.wait_for_url(f"{live_server.url}/operations/")
    wait_for_htmx(page)
    expect(page.locator("#operation-table a.operation-subject", has_text="cam-02")).to_have_count(1)
    page.locator("#recent-batches").get_by_role("link", name=batch.label).click()
    page.wait_for_url(f"{live_server.url}/operations/batches/{batch.pk}/")
    expect(page.locator("#batch-progress")).to_have_attribute("data-done", "true", timeout=20_000)
