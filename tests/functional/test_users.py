"""An Admin manages users in a real browser (issue 20, items 10 and 14): creating and resetting answer with a page a
reload never repeats, the password is shown once, Deactivate and Reset password ask for the username first, and the
audit log's Kind filter finds what was done."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from portal.core.models import AuditEntry
from portal.core.roles import Role
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("SHOTS_DIR", "/tmp/i20-users-shots"))
User = get_user_model()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_admin_creates_resets_and_deactivates_without_repeating_anything(live_server, page, log_in, make_user):
    admin, support = make_user("ada", Role.ADMIN), make_user("sam", Role.SUPPORT)
    log_in(admin)
    url = live_server.url

    page.goto(f"{url}/users/new/")
    page.get_by_label("Username").fill("kim")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_url(f"{url}/users/passwords/*/")
    page.reload()
    assert page.get_by_role("heading", name="kim was created").is_visible()
    assert "already exists" not in page.content()
    assert User.objects.filter(username="kim").count() == 1
    _shot(page, "01-created-offer")
    page.get_by_role("button", name="Show the password once").click()
    wait_for_htmx(page)
    password = page.locator("#new-password").input_value()
    assert User.objects.get(username="kim").check_password(password)
    _shot(page, "02-created-shown")
    page.reload()
    assert page.get_by_text("This password was already shown").is_visible()
    assert page.locator("#new-password").count() == 0
    _shot(page, "03-created-reloaded")

    page.goto(f"{url}/users/")
    _shot(page, "04-list")
    page.locator('tr[data-username="sam"]').get_by_role("link", name="Reset password").click()
    page.get_by_label("Type their username to confirm").fill("sma")
    page.get_by_role("button", name="Reset password").click()
    assert page.get_by_text("Type 'sam' exactly to reset their password.").is_visible()
    _shot(page, "05-reset-refused")
    before = User.objects.get(pk=support.pk).password
    assert not AuditEntry.objects.filter(kind="users.password").exists()
    page.get_by_label("Type their username to confirm").fill("sam")
    page.get_by_role("button", name="Reset password").click()
    page.wait_for_url(f"{url}/users/passwords/*/")
    reset = User.objects.get(pk=support.pk).password
    assert reset != before
    page.reload()
    page.reload()
    assert User.objects.get(pk=support.pk).password == reset
    assert AuditEntry.objects.filter(kind="users.password").count() == 1
    page.get_by_role("button", name="Show the password once").click()
    wait_for_htmx(page)
    assert User.objects.get(pk=support.pk).check_password(page.locator("#new-password").input_value())
    _shot(page, "06-reset-shown")

    page.goto(f"{url}/users/")
    page.locator('tr[data-username="sam"]').get_by_role("link", name="Deactivate").click()
    _shot(page, "07-deactivate-confirm")
    page.get_by_label("Type their username to confirm").fill("sam")
    page.get_by_role("button", name="Deactivate user").click()
    page.wait_for_url(f"{url}/users/")
    page.reload()
    assert page.locator('tr[data-username="sam"]').get_by_text("deactivated").is_visible()
    assert AuditEntry.objects.filter(kind="users.deactivate").count() == 1
    _shot(page, "08-deactivated")

    page.goto(f"{url}/audit/")
    page.get_by_label("Kind").select_option(label="Reset password")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*kind=users.password*")
    rows = page.locator("#audit-table tbody tr")
    assert rows.count() == 1
    assert rows.first.locator("td").nth(2).inner_text() == "Reset password"
    _shot(page, "09-audit-kind")
