"""Issue 20 items 15 and 16 in Chromium: a new cleanup policy makes the admin choose its kind and confirm selecting
every resource of it (the input kept), and a report says its states in words.

Screenshots go to $SCREENSHOT_DIR when it is set (to look at them), else to pytest's tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone

from portal.cleanup.models import CleanupItem, CleanupPolicy, CleanupRun
from portal.core.models import Operation, OperationBatch
from portal.core.protection import PROTECTION_TAG
from portal.core.roles import Role
from tests.factories import OperationFactory, StageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_policy_selecting_everything_is_chosen_and_confirmed(page, live_server, log_in, make_user, shots):
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/cleanup/new/")
    assert page.input_value("#id_kind") == ""
    assert page.locator("#id_kind option:checked").inner_text() == "Choose the resources and the action"

    page.fill("#id_name", "every old stage")
    page.select_option("#id_condition", "older_than")
    page.fill("#id_amount", "3")
    page.select_option("#id_unit", "days")
    page.fill("#id_max_actions", "5")
    page.fill("#id_tag_key", PROTECTION_TAG)
    page.click("#policy-form button[type=submit]")
    assert page.locator("#error-kind").is_visible()
    refusal = f"{PROTECTION_TAG} protects resources: no policy selects by it."
    assert page.locator("#error-tag_key").inner_text() == refusal
    assert page.locator("#error-select_everything").count() == 0
    page.screenshot(path=str(shots / "policy-form-kind-and-tag.png"), full_page=True)

    page.select_option("#id_kind", "stage")
    page.fill("#id_tag_key", "")
    page.click("#policy-form button[type=submit]")
    warning = page.locator("#error-select_everything")
    assert "this policy selects every one of the stages" in warning.inner_text()
    assert page.input_value("#id_name") == "every old stage"  # the input is kept
    assert page.input_value("#id_kind") == "stage"
    assert page.input_value("#id_amount") == "3"
    assert not CleanupPolicy.objects.exists()
    page.screenshot(path=str(shots / "policy-form-select-everything.png"), full_page=True)

    page.check("#id_select_everything")
    page.click("#policy-form button[type=submit]")
    policy = CleanupPolicy.objects.get()
    page.wait_for_url(f"{live_server.url}/cleanup/{policy.pk}/")
    assert "selects every one of the stages" in page.locator("#selects-everything").inner_text()
    assert "Older than 3 days" in page.locator(".facts").inner_text()
    page.screenshot(path=str(shots / "policy-page-selects-everything.png"), full_page=True)


def test_a_report_says_its_states_in_words(page, live_server, log_in, make_user, shots):
    log_in(make_user("ada", Role.ADMIN))
    policy = CleanupPolicy.objects.create(name="quick", kind="stage", name_pattern="t-*", condition="older_than",
                                          amount=1, unit="minutes", max_actions=5)  # fmt: skip
    batch = OperationBatch.objects.create(label="run", actor_name="ada")
    run = CleanupRun.objects.create(policy=policy, trigger="manual", actor_name="ada", started_at=timezone.now(),
                                    outcome="requested", matched=2, batch=batch)  # fmt: skip
    for number, status in enumerate((Operation.Status.SUCCEEDED, Operation.Status.FAILED)):
        stage = StageFactory(name=f"t-{number}")
        operation = OperationFactory(kind="stages.delete", status=status)
        batch.operations.add(operation)
        CleanupItem.objects.create(run=run, resource=stage, label=stage.name, outcome="acted",
                                   why="created 5 minutes ago", operation=operation)  # fmt: skip

    page.goto(f"{live_server.url}/cleanup/")
    row = page.locator(f"#policy-{policy.pk}")
    assert "Older than 1 minute" in row.inner_text()
    assert "Failed items" in row.inner_text()
    assert "Operations requested" not in row.inner_text()
    page.screenshot(path=str(shots / "policies.png"), full_page=True)

    page.goto(f"{live_server.url}/cleanup/runs/{run.pk}/")
    assert page.locator("#run-items h2 .status").inner_text() == "Failed items"
    states = sorted(badge.inner_text() for badge in page.locator("#run-items tbody .status").all())
    assert states == ["Acted", "Failed"]
    page.screenshot(path=str(shots / "run-report.png"), full_page=True)
