from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def wait_for_htmx(page) -> None:
    """Wait until htmx has no request in flight."""
    page.wait_for_function("() => window.htmx && !document.querySelector('.htmx-request')")
