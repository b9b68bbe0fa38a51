"""An admin creates a stage in Chromium, follows its operation, shows the token once and copies it."""

from __future__ import annotations

import json

import pytest

from portal.core.models import OneTimeSecret, Operation
from portal.core.roles import Role
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_follow_reveal_and_copy_all(page, live_server, log_in, make_user, aws_endpoint, sandbox):
    sandbox.quotas(enabled=False)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/stages/new/")
    page.fill("#id_name", "town-hall")
    page.get_by_role("button", name="Add token").click()
    page.fill("#id_tokens-0-user_id", "host")
    page.get_by_role("button", name="Create stage").click()

    operation = Operation.objects.get(kind="stages.create")
    page.wait_for_url(f"{live_server.url}/operations/{operation.pk}/")
    assert page.locator("h1").inner_text().startswith("Create stage")
    page.locator(f"#operation-{operation.pk}-progress[data-status=succeeded]").wait_for()
    page.get_by_role("button", name="Show the participant token once").click()
    wait_for_htmx(page)

    token = page.locator(".token").first
    assert "host" in token.inner_text()
    assert "PUBLISH, SUBSCRIBE" in token.inner_text()
    secret = token.locator("textarea").input_value()
    assert secret.startswith("eyJ")
    assert not OneTimeSecret.objects.exists()

    page.get_by_role("button", name="Copy all as JSON").click()
    page.get_by_role("button", name="Copied").wait_for()
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert [(item["userId"], item["token"]) for item in copied] == [("host", secret)]
