"""Brute-force protection (django-axes) and the audit of logins, failed logins, lockouts and logouts (issue 9,
items 2 and 6)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from portal.core.models import AuditEntry
from tests.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
LIMIT = settings.AXES_FAILURE_LIMIT


def _log_in(username: str, password: str, address: str = "203.0.113.7", client: Client | None = None):
    client = client or Client()
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def _events(event: str) -> list[tuple[str, str]]:
    return list(AuditEntry.objects.filter(event=event).order_by("id").values_list("actor_name", "target"))


def test_the_right_password_is_refused_after_a_run_of_wrong_ones(admin):
    """The probe: 100 wrong passwords, then the right one was accepted."""
    for attempt in range(100):
        response = _log_in("ada", f"guess-{attempt}")
        assert response.status_code == (200 if attempt < LIMIT - 1 else 429), attempt
    refused = _log_in("ada", PASSWORD)
    assert refused.status_code == 429
    page = refused.content.decode()
    assert f"After {LIMIT} failed logins this username or this address may not log in for 0:15:00" in page
    assert len(_events("login_failed")) == 101
    assert _events("locked_out") == [("ada", "203.0.113.7")]  # once, when it began
    assert not _events("logged_in")


def test_an_address_is_locked_out_whatever_the_username(admin, support):
    for number in range(LIMIT):
        _log_in(f"nobody-{number}", "wrong", address="198.51.100.1")
    assert _log_in("sam", PASSWORD, address="198.51.100.1").status_code == 429
    assert _log_in("sam", PASSWORD, address="198.51.100.2").status_code == 302


def test_an_account_is_locked_out_from_every_address(admin):
    for number in range(LIMIT):
        _log_in("ada", "wrong", address=f"192.0.2.{number + 1}")
    assert _log_in("ada", PASSWORD, address="192.0.2.200").status_code == 429


def test_admins_see_lockouts_and_unlock_them(admin, support):
    for _ in range(LIMIT):
        _log_in("sam", "wrong", address="198.51.100.9")
    client = login(admin)
    page = client.get("/users/").content.decode()
    assert 'data-lockout="sam"' in page
    assert 'data-lockout="198.51.100.9"' in page
    assert page.split('data-username="sam"', 1)[1].split("</tr>", 1)[0].count("data-locked") == 1

    client.post("/users/unlock/", {"username": "sam"})
    assert 'data-lockout="sam"' not in client.get("/users/").content.decode()
    assert _log_in("sam", PASSWORD, address="198.51.100.10").status_code == 302
    assert list(AuditEntry.objects.filter(kind="users.unlock").values_list("actor_name", "target")) == [("ada", "sam")]
    assert client.post("/users/unlock/", {"username": "sam", "ip_address": "198.51.100.9"}).status_code == 400
    assert client.post("/users/unlock/", {"ip_address": "not-an-address"}).status_code == 400


@pytest.mark.parametrize("role_fixture", ["support", "viewer"])
def test_only_admins_unlock(request, role_fixture):
    for _ in range(LIMIT):
        _log_in("ada", "wrong")
    assert login(request.getfixturevalue(role_fixture)).post("/users/unlock/", {"username": "ada"}).status_code == 403
    assert _log_in("ada", PASSWORD, address="192.0.2.99").status_code == 429


def test_logins_and_logouts_are_in_the_audit_log(admin, viewer):
    client = Client()
    assert _log_in("ada", "wrong", client=client).status_code == 200
    assert _log_in("ada", PASSWORD, client=client).status_code == 302
    client.post("/logout/", REMOTE_ADDR="203.0.113.7")
    assert _events("login_failed") == [("ada", "203.0.113.7")]
    assert _events("logged_in") == [("ada", "203.0.113.7")]
    assert _events("logged_out") == [("ada", "203.0.113.7")]
    page = login(viewer).get("/audit/", {"event": "login_failed"}).content.decode()
    assert re.search(r">\s*Log in\s*<", page)  # the kind's label
    assert "Login failed" in page
    assert "from 203.0.113.7" in page


def test_sessions_end_after_an_idle_timeout_of_hours():
    assert settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
