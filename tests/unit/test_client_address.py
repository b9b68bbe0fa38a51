"""The client's address behind the TLS proxy (issue 21, item 4): taken from X-Forwarded-For only when the peer is a
trusted proxy (TRUSTED_PROXIES), for the login lockout by address, the audit and the SMA handler's rate limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from portal.core.addresses import forwarded_client, proxies_parse
from portal.core.models import AuditEntry
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
LIMIT = settings.AXES_FAILURE_LIMIT
PROXY = "10.0.0.5"


def _log_in(username: str, password: str, *, peer: str, forwarded_for: str = "") -> int:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}
    response = Client().post("/login/", {"username": username, "password": password}, REMOTE_ADDR=peer, **extra)
    return response.status_code


@pytest.mark.django_db
def test_behind_a_trusted_proxy_a_lockout_is_of_the_forwarded_address(settings, admin, support):
    """The probe: behind the proxy, five failed logins locked out everyone, as all came from the proxy's address."""
    settings.TRUSTED_PROXIES = proxies_parse(PROXY)
    for number in range(LIMIT):
        _log_in(f"nobody-{number}", "wrong", peer=PROXY, forwarded_for="203.0.113.5")
    assert _log_in("sam", PASSWORD, peer=PROXY, forwarded_for="203.0.113.5") == 429
    assert _log_in("sam", PASSWORD, peer=PROXY, forwarded_for="203.0.113.6") == 302
    failed = AuditEntry.objects.filter(event=AuditEntry.Event.LOGIN_FAILED)
    assert set(failed.values_list("target", flat=True)) == {"203.0.113.5"}
    assert AuditEntry.objects.get(event=AuditEntry.Event.LOCKED_OUT).target == "203.0.113.5"


@pytest.mark.django_db
def test_from_an_untrusted_peer_a_forged_forwarded_for_is_ignored(settings, admin, support):
    settings.TRUSTED_PROXIES = proxies_parse(PROXY)
    for number in range(LIMIT):
        _log_in(f"nobody-{number}", "wrong", peer="198.51.100.9", forwarded_for=f"192.0.2.{number + 1}")
    assert _log_in("sam", PASSWORD, peer="198.51.100.9", forwarded_for="203.0.113.6") == 429
    assert _log_in("sam", PASSWORD, peer=PROXY, forwarded_for="192.0.2.1") == 302  # nobody was locked out by it
    failed = AuditEntry.objects.filter(event=AuditEntry.Event.LOGIN_FAILED)
    assert set(failed.values_list("target", flat=True)) == {"198.51.100.9"}


@pytest.mark.django_db
def test_with_no_trusted_proxy_every_peer_is_the_client(settings, admin, support):
    settings.TRUSTED_PROXIES = proxies_parse("")
    for number in range(LIMIT):
        _log_in(f"nobody-{number}", "wrong", peer=PROXY, forwarded_for=f"203.0.113.{number + 1}")
    assert _log_in("sam", PASSWORD, peer=PROXY, forwarded_for="203.0.113.50") == 429


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        (PROXY, "203.0.113.5", "203.0.113.5"),
        (PROXY, "198.51.100.1, 203.0.113.5", "203.0.113.5"),  # the left one the client may have written itself
        (PROXY, "203.0.113.5, 10.1.2.3", "203.0.113.5"),  # through a second trusted proxy
        (PROXY, " 203.0.113.5 ,10.1.2.3,", "203.0.113.5"),
        (PROXY, "10.1.2.3, 10.0.0.7", "10.1.2.3"),  # nothing but proxies: the farthest
        (PROXY, "", PROXY),
        (PROXY, "203.0.113.5, unknown", PROXY),  # unreadable where the client should be
        (PROXY, "2001:db8::1", "2001:db8::1"),
        ("::ffff:10.0.0.5", "203.0.113.5", "203.0.113.5"),  # a dual-stack socket's IPv4 peer
        ("198.51.100.9", "203.0.113.5", "198.51.100.9"),  # not a trusted proxy: its headers count for nothing
        ("", "203.0.113.5", ""),
    ],
)
def test_the_client_is_the_right_most_address_that_is_no_trusted_proxy(peer, forwarded_for, client):
    assert forwarded_client(peer, forwarded_for, proxies_parse("10.0.0.0/8")) == client


def test_trusted_proxies_are_addresses_or_networks_else_the_portal_does_not_start(tmp_path):
    assert proxies_parse(" 10.0.0.5, 192.168.0.0/16,::1 ") == proxies_parse("10.0.0.5/32,192.168.0.0/16,::1/128")
    env = {key: value for key, value in os.environ.items() if key != "TRUSTED_PROXIES"}
    env |= {"DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_VAR_DIR": str(tmp_path), "DEBUG": "true"}
    for wrong in ("10.0.0.1/24", "proxy.internal"):
        result = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=ROOT, env=env | {"TRUSTED_PROXIES": wrong},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode != 0
        assert f"TRUSTED_PROXIES: {wrong!r} is not an IP address or a CIDR network" in result.stderr
