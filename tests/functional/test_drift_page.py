"""Support keeps the Drift page open while reconciliation runs: a difference recorded meanwhile shows without a
reload, and resolving it says what was done to which resource."""

from __future__ import annotations

import pytest

from portal.core.drift import drift_found
from portal.core.models import Drift
from portal.core.roles import Role
from portal.stages.models import Stage
from tests.factories import StageFactory
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_difference_found_while_the_page_is_open_shows_and_keeping_it_is_confirmed(
    live_server, page, log_in, make_user, tmp_path
):
    log_in(make_user("sam", Role.SUPPORT))
    page.goto(f"{live_server.url}/drift/")
    assert page.get_by_text("No open drift").is_visible()

    drift_found(StageFactory(name="stray-stage", origin=Stage.Origin.FOUND))  # reconciliation, while the page is open
    row = page.locator("#drift-stage tbody tr", has_text="stray-stage")
    row.wait_for()  # the records poll every 10 s: within the page's 15 s timeout, with no reload
    assert "Found in AWS" in row.inner_text()
    page.screenshot(path=str(tmp_path / "drift-found-while-open.png"), full_page=True)

    row.get_by_role("button", name="Keep in the portal").click()
    page.wait_for_url(f"{live_server.url}/drift/")
    wait_for_htmx(page)
    toast = page.locator("#toasts .toast")
    assert toast.inner_text() == "Kept stray-stage in the portal, as found in AWS."
    page.screenshot(path=str(tmp_path / "drift-kept-confirmed.png"), full_page=True)
    assert page.get_by_text("No open drift").is_visible()
    assert Drift.objects.get().resolution == Drift.Resolution.KEPT
