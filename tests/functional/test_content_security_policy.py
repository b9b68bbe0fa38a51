"""Every page in Chromium under the Content-Security-Policy: no violation, no console error (issue 9, item 5).

Screenshots of each page go to $SCREENSHOT_DIR when it is set (to look at them), else to pytest's tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from portal.core.models import Operation
from portal.core.roles import Role
from portal.core.secrets import secrets_store
from tests.factories import OperationFactory, ParticipantFactory, StageSessionFactory
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));"
)


class Watch:
    """Console errors and CSP violations of one browser page, and a screenshot of each page visited."""

    def __init__(self, page, folder: Path) -> None:
        self.page, self.folder, self.problems = page, folder, []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda message: self._console(message))
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: page error {error}"))

    def _console(self, message) -> None:
        source = message.location.get("url", "")
        if source == self.page.url or source.endswith("/favicon.ico"):
            return  # the browser reporting the page's own status (404, 429), or the icon it asks for by itself
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            self.problems.append(f"{self.page.url}: console {message.type}: {message.text} ({source})")

    def settle(self, name: str) -> None:
        self.page.wait_for_load_state()
        if self.page.locator("script[src*=htmx]").count():  # Django's admin pages have no htmx
            wait_for_htmx(self.page)  # the panels that load themselves with the page, and their swaps
        self.problems += [f"{self.page.url}: {v}" for v in self.page.evaluate("window.__violations || []")]
        self.page.screenshot(path=str(self.folder / f"{name}.png"), full_page=True)

    def visit(self, url: str, name: str, status: int = 200) -> None:
        response = self.page.goto(url)
        assert response.status == status, (url, response.status)
        assert "Content-Security-Policy" in {key.title(): v for key, v in response.headers.items()} or (
            "content-security-policy" in response.headers
        )
        self.settle(name)


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_every_page_keeps_to_the_policy(page, live_server, log_in, make_user, shots):
    admin = make_user("ada", Role.ADMIN)
    make_user("sam", Role.SUPPORT)
    participant = ParticipantFactory(session=StageSessionFactory(stage__name="town-hall"), user_id="alice")
    stage = participant.session.stage
    token = {"participantId": "pA", "userId": "alice", "capabilities": ["PUBLISH"], "duration": 60, "attributes": {},
             "expirationTime": "2026-12-01T10:00:00+00:00"}  # fmt: skip
    operation = OperationFactory(
        kind="stages.create", actor=admin, status=Operation.Status.SUCCEEDED, resource=stage, result={"tokens": [token]}
    )
    secrets_store(operation=operation, secrets=[("pA", "a-participant-token")])
    watch = Watch(page, shots)
    url = live_server.url

    watch.visit(f"{url}/login/", "login")
    log_in(admin)
    pages = {
        "overview": "/", "stages": "/stages/", "stage-create": "/stages/new/", "stage": f"/stages/{stage.pk}/",
        "stage-tokens": f"/stages/{stage.pk}/tokens/", "stage-delete": f"/stages/{stage.pk}/delete/",
        "timeline": f"/stages/{stage.pk}/participants/{participant.pk}/timeline/",
        "disconnect": f"/stages/{stage.pk}/participants/{participant.pk}/disconnect/",
        "operations": "/operations/", "operation": f"/operations/{operation.pk}/", "audit": "/audit/",
        "users": "/users/", "user-create": "/users/new/", "meetings": "/meetings/", "channels": "/channels/",
        "pipelines": "/pipelines/", "not-found": "/no-such-page/",
    }  # fmt: skip
    for name, path in pages.items():
        watch.visit(f"{url}{path}", name, status=404 if name == "not-found" else 200)

    watch.visit(f"{url}/operations/{operation.pk}/", "token-before-reveal")
    page.get_by_role("button", name="Show the participant token once").click()
    page.locator("textarea", has_text="a-participant-token").wait_for()
    watch.settle("token-revealed")

    watch.visit(f"{url}/users/", "users-again")
    page.locator('tr[data-username="sam"]').get_by_role("link", name="Reset password").click()
    page.get_by_label("Type their username to confirm").fill("sam")
    page.get_by_role("button", name="Reset password").click()
    page.get_by_role("button", name="Show the password once").click()
    page.locator("#new-password").wait_for()
    page.get_by_role("button", name="Copy").click()
    watch.settle("password-reset")

    page.context.clear_cookies()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        watch.visit(f"{url}/login/", f"login-{attempt}")
        page.fill("#id_username", "sam")
        page.fill("#id_password", "wrong")
        page.click("button[type=submit]")
    page.get_by_text("Too many failed logins").wait_for()
    watch.settle("locked-out")

    root = make_user("root", Role.ADMIN)
    get_user_model().objects.filter(pk=root.pk).update(is_superuser=True)
    log_in(root)
    watch.visit(f"{url}/users/", "users-with-lockout")
    watch.visit(f"{url}/admin/", "django-admin")
    watch.visit(f"{url}/admin/auth/user/{root.pk}/change/", "django-admin-user")

    assert watch.problems == []
