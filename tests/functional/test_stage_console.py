"""The console features in Chromium: copy a stage's endpoint, filter its participants, delete several stages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.core.models import OperationBatch
from portal.core.roles import Role
from portal.stages.models import Stage
from portal.stages.refresh import stages_refresh
from tests.conftest import sandbox_boto
from tests.functional.conftest import wait_for_htmx, wait_for_refresh

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stages_in_aws(aws_endpoint, sandbox):
    sandbox.quotas(enabled=False)
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    made = []
    for name in ("town-hall", "old-a", "old-b", "old-c"):
        users = ["alice", "bob"] if name == "town-hall" else []
        created = ivs.create_stage(name=name, participantTokenConfigurations=[{"userId": u} for u in users])
        made.append(Stage.objects.create(arn=created["stage"]["arn"], name=name, region="us-east-1", status="active"))
        for token in created["participantTokens"]:
            sandbox.stage_join(token["token"], client={"browserName": "Firefox", "browserVersion": "128"})
    stages_refresh()
    return {"ivs": ivs, "stages": made}


def test_endpoints_copy_and_participants_filter(stages_in_aws, make_user, live_server, page, log_in):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(make_user("vic", Role.VIEWER))
    town_hall = Stage.objects.get(name="town-hall")
    page.goto(f"{live_server.url}/stages/{town_hall.pk}/")
    copy = page.get_by_role("button", name="Copy the WHIP endpoint")
    copy.click()
    expect(copy).to_have_text("Copied")  # once the clipboard has taken it
    assert page.evaluate("navigator.clipboard.readText()") == town_hall.endpoints["whip"]

    rows = page.locator("#participants tbody tr")
    assert rows.count() == 2
    assert "Firefox 128" in rows.first.inner_text()
    page.fill("#participant-filters input[name=user_id]", "bob")
    page.get_by_role("button", name="Filter participants").click()
    page.wait_for_url("**user_id=bob**")
    wait_for_htmx(page)
    assert rows.count() == 1
    assert rows.first.inner_text().startswith("bob")
    wait_for_refresh(page, "#participants")  # the panel polls: the filter holds across a refresh of the panel
    assert rows.count() == 1
    assert page.locator("#participant-filters input[name=user_id]").input_value() == "bob"


def test_admin_deletes_several_stages_at_once(
    stages_in_aws, redis_broker, real_worker, make_user, live_server, page, log_in
):
    real_worker(redis_broker)
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/stages/?q=old")
    page.get_by_label("Select every stage on this page that can be deleted").check()
    page.get_by_role("button", name="Delete selected…").click()
    assert page.locator("h1").inner_text() == "Delete 3 stages"
    page.fill("#id_confirm", "delete 3 stages")
    page.get_by_role("button", name="Delete 3 stages").click()

    page.wait_for_url(f"{live_server.url}/operations/batches/*/")
    page.locator("#batch-progress[data-done=true]").wait_for(timeout=20_000)
    assert "3 of 3 done: 3 succeeded" in page.locator("#batch-progress").inner_text()
    assert OperationBatch.objects.get().operations.count() == 3
    assert [s["name"] for s in stages_in_aws["ivs"].list_stages()["stages"]] == ["town-hall"]
    assert sorted(Stage.objects.filter(status="deleted").values_list("name", flat=True)) == ["old-a", "old-b", "old-c"]
