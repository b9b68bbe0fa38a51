"""Log in through the real login form in Chromium, as each role, and see that role's navigation."""

from __future__ import annotations

import pytest

from portal.core.models import Operation
from portal.core.roles import Role
from tests.factories import PASSWORD
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECTIONS = ["Meetings", "Stages", "Channels", "Pipelines", "Calls", "Cleanup", "Operations", "Drift", "Audit"]
PEOPLE = SECTIONS.index("Operations")  # support and admin find people; the link sits before Operations


@pytest.mark.parametrize(
    ("role", "extra_links", "can_act"),
    [(Role.ADMIN, ["Users"], True), (Role.SUPPORT, [], False), (Role.VIEWER, [], False)],
)
def test_each_role_sees_its_navigation(page, live_server, make_user, role, extra_links, can_act):
    user = make_user(f"user-{role.value.lower()}", role)
    page.goto(f"{live_server.url}/operations/")
    assert "/login/" in page.url
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/operations/")

    links = page.locator("nav.nav a").all_inner_texts()
    sections = [*SECTIONS[:PEOPLE], "People", *SECTIONS[PEOPLE:]] if role is not Role.VIEWER else SECTIONS
    assert links == sections + extra_links
    assert page.locator("[data-role]").inner_text() == role.value
    assert page.locator("nav.nav a[aria-current=page]").inner_text() == "Operations"
    assert page.get_by_role("button", name="Check AWS connection").count() == (1 if can_act else 0)

    page.click("nav.nav >> text=Channels")
    assert page.locator("h1").inner_text() == "Signaling channels"
    assert page.get_by_role("link", name="Create a fleet").count() == (1 if can_act else 0)


def test_admin_checks_the_connection_and_the_row_updates_in_place(page, live_server, log_in, make_user, aws_endpoint):
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/operations/")
    page.get_by_role("button", name="Check AWS connection").click()

    page.locator("#check-progress [data-status=succeeded]").wait_for()
    operation = Operation.objects.get()
    row = page.locator(f"#operation-{operation.pk}")
    row.locator(".status-succeeded").wait_for()  # the list followed the operation it showed in progress
    wait_for_htmx(page)
    assert page.url == f"{live_server.url}/operations/"
    assert "OK" in row.inner_text()
    assert "account 123456789012" in page.locator("#check-progress").inner_text()
