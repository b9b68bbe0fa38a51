"""The browser for the functional tests: a fresh Chromium per test, a session for a user without the login form
(`log_in`), and waits on htmx (`wait_for_htmx`, `wait_for_refresh`) instead of fixed sleeps. The login form itself is
driven in tests/functional/test_navigation.py and test_content_security_policy.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from tests.backing_services import CHROMIUM, missing

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page() -> Iterator[object]:
    """A fresh Chromium per test: Playwright's sync API runs an event loop that must not outlive the test."""
    if not Path(CHROMIUM).exists():
        missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()


# The first backend, django-axes' lockout check, only refuses logins: the session names the one that finds its user.
PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"

# htmx marks each stage of a request with a class (htmx.config.requestClass, swappingClass, settlingClass,
# addedClass): a request in flight, a target about to be swapped, and swapped content not yet settled.
HTMX_SETTLED = (
    "() => window.htmx !== undefined"
    " && document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added') === null"
)
# Arms a flag that the next htmx:afterSettle of an element matching the selector raises.
WATCH_REFRESH = """(selector) => {
    window.__refreshed = false;
    document.addEventListener('htmx:afterSettle', function settled(event) {
        if (event.target instanceof Element && event.target.matches(selector)) {
            window.__refreshed = true;
            document.removeEventListener('htmx:afterSettle', settled);
        }
    });
}"""


@pytest.fixture
def log_in(page, live_server) -> Callable[[AbstractBaseUser], None]:
    """`log_in(user)` gives the browser a session for `user`, as the login form would, by its cookie for the live
    server: the next page the test opens is the user's."""

    def as_user(user: AbstractBaseUser) -> None:
        client = Client()
        client.force_login(user, backend=PASSWORD_BACKEND)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url, "httpOnly": True}]
        )

    return as_user


def wait_for_htmx(page) -> None:
    """Wait until htmx has loaded and settled: no request in flight, nothing being swapped or settling."""
    page.wait_for_function(HTMX_SETTLED)


def wait_for_refresh(page, selector: str) -> None:
    """Wait until htmx next swaps in the element `selector` (a polling panel fetching itself again) and settles."""
    page.evaluate(WATCH_REFRESH, selector)
    page.wait_for_function("() => window.__refreshed === true")
    wait_for_htmx(page)
