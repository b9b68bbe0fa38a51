"""An admin works on a stage page in Chromium and the page keeps up, without a reload: the heading after a rename,
the tags after adding and removing one, the recent operations; issuing tokens lands on the operation's page, which
a reload never repeats; the create form's rows come and go and say what they will issue."""

from __future__ import annotations

import pytest

from portal.core.models import Operation
from portal.core.roles import Role
from portal.stages.models import Stage
from tests.conftest import sandbox_boto
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stage(aws_endpoint, sandbox, make_user) -> Stage:
    sandbox.quotas(enabled=False)
    made = sandbox_boto(sandbox.endpoint, "ivs-realtime").create_stage(name="town-hall", tags={"team": "rtc"})
    return Stage.objects.create(arn=made["stage"]["arn"], name="town-hall", region="us-east-1",
                                status=Stage.Status.ACTIVE, tags={"team": "rtc"})  # fmt: skip


def test_the_stage_page_keeps_up_with_what_the_admin_does(page, live_server, log_in, make_user, stage):
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/stages/{stage.pk}/")
    page.evaluate("window.notReloaded = true")

    page.fill("#stage-summary #id_name", "all-hands")
    page.locator("#stage-summary").get_by_role("button", name="Rename").click()
    page.locator("#stage-heading h1", has_text="all-hands").wait_for()
    page.locator("#stage-summary dd.stage-name", has_text="all-hands").wait_for()
    assert page.title() == "all-hands · RTC Portal"

    page.fill("#stage-tags #id_key", "env")
    page.fill("#stage-tags #id_value", "prod")
    page.locator("#stage-tags").get_by_role("button", name="Add tag").click()
    page.locator("#tags tr", has_text="env").wait_for()
    page.get_by_role("button", name="Remove tag team").click()
    page.locator("#tags tr", has_text="team").wait_for(state="detached")
    page.locator("#stage-operations li", has_text="removed the tag team").wait_for()
    wait_for_htmx(page)
    assert page.locator("#stage-operations li").all_inner_texts()[:3] == [
        "Untag stage Succeeded ada, just now · removed the tag team",
        "Tag stage Succeeded ada, just now · tagged env=prod",
        "Rename stage Succeeded ada, just now · now named 'all-hands'",
    ]
    assert page.evaluate("window.notReloaded") is True
    assert Stage.objects.get().tags == {"env": "prod"}


def test_issuing_tokens_lands_on_the_operation_and_a_reload_issues_nothing(page, live_server, log_in, make_user, stage):
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/stages/{stage.pk}/tokens/")
    summary = page.locator("[data-row-summary]")
    assert summary.inner_text() == "1 participant token will be issued: one per row, each with the values it shows."
    page.get_by_role("button", name="Add token").click()
    page.fill("#id_tokens-1-user_id", "host")
    assert summary.inner_text().startswith("2 participant tokens will be issued")
    page.get_by_role("button", name="Issue").click()
    operation = Operation.objects.get(kind="stages.issue_token")
    page.wait_for_url(f"{live_server.url}/operations/{operation.pk}/")
    page.reload()
    page.reload()
    assert Operation.objects.filter(kind="stages.issue_token").count() == 1
    page.get_by_role("button", name="Show the participant tokens once").click()
    wait_for_htmx(page)
    tokens = page.locator(".token").all_inner_texts()
    assert len(tokens) == 2
    assert all("PUBLISH, SUBSCRIBE" in token and " UTC" in token for token in tokens)
    assert "host" in tokens[1]


def test_the_create_form_rows_come_and_go_and_say_what_they_issue(page, live_server, log_in, make_user):
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/stages/new/")
    summary = page.locator("[data-row-summary]")
    assert summary.inner_text().startswith("No participant token will be issued")
    tokens = page.locator("[data-formset=tokens]")
    for _ in range(3):
        tokens.get_by_role("button", name="Add token").click()
    page.fill("#id_tokens-0-user_id", "first")
    page.fill("#id_tokens-2-user_id", "third")
    tokens.locator(".row").nth(1).get_by_role("button", name="Remove").click()
    assert page.input_value("#id_tokens-TOTAL_FORMS") == "2"
    assert page.input_value("#id_tokens-1-user_id") == "third"  # the rows after it were numbered again
    assert summary.inner_text().startswith("2 participant tokens will be issued")
    tags = page.locator("[data-formset=tags]")
    for _ in range(48):
        tags.get_by_role("button", name="Add tag").click()
    assert tags.get_by_role("button", name="Add tag").is_disabled()
    assert tags.locator("[data-row-limit]").is_visible()
    tags.locator(".row").first.get_by_role("button", name="Remove").click()
    assert tags.get_by_role("button", name="Add tag").is_enabled()
