"""Time from clicking Disconnect to the row showing DISCONNECTED, in Chromium, against a running portal.

    make run                                   # in another terminal: portal on :8000, sandbox on :4566
    .venv/bin/python bench/disconnect_latency.py [--url URL] [--sandbox URL] [--runs 5]

Defaults: the portal at http://127.0.0.1:8000 and the sandbox at http://127.0.0.1:4566.

Uses the demo logins that `make run` creates. Each run creates a stage with a token through the portal, joins it
through the sandbox, waits for the participant to appear, then disconnects it as Support and times the row.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtc_sandbox.client import SandboxControl

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def logged_in(url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(f"{url}/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token})
    session.headers.update({"X-CSRFToken": session.cookies["csrftoken"], "Referer": url + "/"})
    return session


def live_participant(url: str, admin: requests.Session, sandbox: SandboxControl, run: int) -> tuple[str, str]:
    """(stage page path, participant row id) of a fresh participant connected to a fresh stage."""
    form = {
        "name": f"bench-{int(time.time())}-{run}",
        "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0",
        "tokens-TOTAL_FORMS": "1", "tokens-INITIAL_FORMS": "0",
        "tokens-0-user_id": f"bench-user-{run}", "tokens-0-capabilities": ["PUBLISH", "SUBSCRIBE"],
        "tokens-0-duration": "60",
    }  # fmt: skip
    response = admin.post(f"{url}/stages/new/", data=form, allow_redirects=False)
    operation_path = response.headers["Location"]
    deadline = time.monotonic() + 60
    while "Show the participant token" not in (page := admin.get(f"{url}{operation_path}").text):
        assert "AWS refused it" not in page, page[-2000:]
        assert time.monotonic() < deadline, "the stage was not created in time"
        time.sleep(0.2)
    stage_path = re.search(r'href="(/stages/\d+/)"', page).group(1)
    revealed = admin.post(f"{url}{operation_path}secrets/").text
    token = re.search(r'readonly rows="3"[^>]*>([^<]+)<', revealed).group(1)
    sandbox.stage_join(token, publish=True)
    while not (
        row := re.search(r'id="(participant-\d+)" data-state="CONNECTED"', admin.get(f"{url}{stage_path}").text)
    ):
        assert time.monotonic() < deadline, "the participant never appeared"
        time.sleep(0.2)
    return stage_path, row.group(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--sandbox", default="http://127.0.0.1:4566")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    admin = logged_in(args.url, "admin", "admin-demo-pass")
    sandbox = SandboxControl(args.sandbox)
    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{args.url}/login/")
        page.fill("#id_username", "support")
        page.fill("#id_password", "support-demo-pass")
        page.click("button[type=submit]")
        for run in range(args.runs):
            stage_path, row_id = live_participant(args.url, admin, sandbox, run)
            page.goto(f"{args.url}{stage_path}")
            page.locator(f"#{row_id}").get_by_role("link", name="Disconnect").click()
            page.fill("#id_reason", "benchmark")
            started = time.perf_counter()
            page.locator("#disconnect-form").get_by_role("button", name="Disconnect").click()
            page.locator(f"#{row_id}[data-state=DISCONNECTED]").wait_for(timeout=30_000)
            timings.append(time.perf_counter() - started)
            print(f"run {run + 1}: {timings[-1]:.2f} s")
        browser.close()
    print(f"click → DISCONNECTED over {len(timings)} runs: min {min(timings):.2f} s, "
          f"median {statistics.median(timings):.2f} s, max {max(timings):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
