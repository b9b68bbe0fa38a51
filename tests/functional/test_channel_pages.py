"""Signaling channels in Chromium: create one, watch it become ACTIVE without a reload, copy its viewer WSS endpoint;
create a small fleet and delete a selection with the count typed."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from portal.channels.models import Channel
from portal.channels.refresh import channels_refresh
from portal.core.roles import Role
from tests.backing_services import wait_until
from tests.factories import ChannelFactory
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def refresher() -> Iterator[None]:
    """The channels refresher every half second in a thread of its own, as beat and the refresh worker would run it."""
    stop = threading.Event()

    def cycle() -> None:
        try:
            while not stop.is_set():
                channels_refresh()
                stop.wait(0.5)
        finally:
            connection.close()

    thread = threading.Thread(target=cycle)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def test_create_watch_active_and_copy_the_viewer_endpoint(
    aws_endpoint, sandbox, redis_broker, real_worker, make_user, live_server, page, log_in, refresher
):
    real_worker(redis_broker)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/channels/new/")
    page.fill("#id_name", "front-door")
    page.fill("#id_message_ttl", "30")
    page.fill("#id_tags", "site=berlin")
    page.get_by_role("button", name="Create channel").click()
    page.wait_for_url("**/operations/*/")
    wait_until(lambda: Channel.objects.filter(arn__isnull=False).exists(), timeout=15)
    channel = Channel.objects.get()
    page.goto(f"{live_server.url}/channels/{channel.pk}/")
    expect(page.locator("#endpoints-why")).to_contain_text("Endpoints exist only for an ACTIVE channel")
    page.locator('#channel-heading[data-status="active"]').wait_for(timeout=15_000)  # no reload: it polls
    copy = page.get_by_role("button", name="Copy the viewer WSS endpoint")
    copy.wait_for(timeout=10_000)
    copy.click()
    expect(copy).to_have_text("Copied")
    channel.refresh_from_db()
    assert page.evaluate("navigator.clipboard.readText()") == channel.endpoints["VIEWER"]["WSS"]
    assert channel.endpoints["VIEWER"]["WSS"].startswith("wss://")


def test_fleet_then_delete_a_selection(aws_endpoint, sandbox, redis_broker, real_worker, make_user, live_server, page,
                                       log_in, refresher):  # fmt: skip
    real_worker(redis_broker)
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/channels/fleet/")
    page.fill("#id_pattern", "cam-{01..12}")
    page.get_by_role("button", name="Create the fleet").click()
    page.wait_for_url("**/operations/batches/*/")
    expect(page.locator("#batch-progress")).to_have_attribute("data-done", "true", timeout=20_000)
    expect(page.locator(".batch-summary")).to_contain_text("12 of 12 done")
    sandbox.advance(2)  # CREATING lasts 2 s of the sandbox's clock: no need to wait them out
    wait_until(lambda: Channel.objects.filter(status="active").count() == 12, timeout=20)
    page.goto(f"{live_server.url}/channels/?prefix=cam-0")
    for name in ("cam-01", "cam-02", "cam-03"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_role("button", name="Delete selected…").click()
    page.fill("#id_confirm", "delete 3 channel")
    page.get_by_role("button", name="Delete 3 channels").click()
    expect(page.locator("#delete-many .error")).to_contain_text("Type 'delete 3 channels' exactly")
    page.fill("#id_confirm", "delete 3 channels")
    page.get_by_role("button", name="Delete 3 channels").click()
    page.wait_for_url("**/operations/batches/*/")
    expect(page.locator("#batch-progress")).to_have_attribute("data-done", "true", timeout=20_000)
    sandbox.advance(2)  # and so does DELETING
    page.goto(f"{live_server.url}/channels/?prefix=cam-0")
    expect(page.locator('tr[data-status="deleted"]')).to_have_count(3, timeout=20_000)  # DELETING until gone


def test_a_bad_tag_filter_says_so_beside_the_field_and_lists_nothing(make_user, live_server, page, log_in, tmp_path):
    """`team` without `=value`, sent by htmx (only the table is swapped): the error appears beside the filter at once,
    no channel is listed as if it matched, and a corrected filter lists the matching channel and clears the error."""
    ChannelFactory(name="media-cam", tags={"team": "media"})
    ChannelFactory(name="door-cam", tags={"site": "berlin"})
    log_in(make_user("vic", Role.VIEWER))
    page.goto(f"{live_server.url}/channels/")
    expect(page.locator("#channel-table tbody tr")).to_have_count(2)
    page.fill("#id_tag", "team")
    page.get_by_role("button", name="Filter").click()
    error = page.locator("form.filters #filter-errors [data-filter=tag]")
    expect(error).to_have_text("Tag: Filter tags as key=value.")
    wait_for_htmx(page)
    assert "tag=team" in page.url
    expect(page.locator("#channel-table tbody tr")).to_have_count(0)
    expect(page.locator("#channel-table")).to_contain_text("Nothing is listed until the filter above is corrected.")
    shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "channels-bad-tag-filter.png"), full_page=True)

    page.fill("#id_tag", "team=media")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#channel-table tbody tr")).to_have_count(1)
    wait_for_htmx(page)
    expect(page.locator("#channel-table tbody tr")).to_contain_text("media-cam")
    expect(page.locator("#filter-errors .error")).to_have_count(0)
