"""Support finds a person by user id in Chromium, and disconnects and revokes them everywhere in one action."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portal.core.models import Operation, OperationBatch
from portal.core.roles import Role
from portal.stages.models import Participant, ParticipantToken, Stage
from portal.stages.refresh import stages_refresh
from rtc_sandbox.client import SandboxControlError
from tests.conftest import sandbox_boto
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def troublemaker(aws_endpoint, sandbox):
    """'troll' is connected on one stage and holds an unused token issued here on another; 'fan' sits beside them."""
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    tokens = {}
    for name, users in (("town-hall", ["troll", "fan"]), ("backstage", ["troll"])):
        created = ivs.create_stage(name=name, participantTokenConfigurations=[{"userId": u} for u in users])
        stage = Stage.objects.create(arn=created["stage"]["arn"], name=name, region="us-east-1", status="active")
        for token in created["participantTokens"]:
            tokens[(name, token["userId"])] = token
            ParticipantToken.objects.create(
                stage=stage, participant_id=token["participantId"], user_id=token["userId"],
                capabilities=token["capabilities"], duration_minutes=token["duration"],
                expires_at=token["expirationTime"],
            )  # fmt: skip
    sandbox.stage_join(tokens[("town-hall", "troll")]["token"], publish=True)
    sandbox.stage_join(tokens[("town-hall", "fan")]["token"])
    stages_refresh()
    return tokens


def test_support_ends_a_person_everywhere(
    troublemaker, sandbox, redis_broker, real_worker, make_user, live_server, page, log_in, tmp_path
):
    real_worker(redis_broker)
    shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    log_in(make_user("sam", Role.SUPPORT))
    page.goto(f"{live_server.url}/")

    page.fill("#home-user-id", "troll")
    page.get_by_role("button", name="Find").click()
    results = page.locator("#results")
    assert results.locator("h2").first.inner_text() == "2 places for troll"
    assert results.locator("tr[data-connected=true]").inner_text().startswith("town-hall")
    assert results.locator("tr[data-connected=false]").inner_text().startswith("backstage")
    assert "fan" not in results.inner_text()

    page.fill("#find-form input[name=user_id]", "nobody-at-all")
    page.get_by_role("button", name="Find").click()
    page.get_by_text("Nowhere for").wait_for()
    wait_for_htmx(page)
    assert "user_id=nobody-at-all" in page.url
    page.go_back()
    page.get_by_text("2 places for").wait_for()

    end = page.get_by_role("button", name="Disconnect and revoke in all 2 places")
    end.click()
    assert page.locator("#id_reason").evaluate("input => input.validity.valueMissing")
    assert not Operation.objects.exists()
    too_long = "t" * 129
    page.fill("#id_reason", too_long)
    end.click()
    page.locator("#end-form .error").wait_for()
    wait_for_htmx(page)
    assert "at most 128 characters" in page.locator("#end-form .error").inner_text()
    assert (page.locator("#id_reason").count(), page.locator("#end-form").count()) == (1, 1)
    assert page.locator("#results h2").count() == 2  # the result's heading and the form's, once each
    assert page.locator("#id_reason").input_value() == too_long
    page.screenshot(path=str(shots / "people-reason-refused.png"), full_page=True)
    assert not Operation.objects.exists()
    page.fill("#id_reason", "trolling the town hall")
    end.click()

    page.wait_for_url(f"{live_server.url}/operations/batches/*/")
    page.locator("#batch-progress[data-done=true]").wait_for(timeout=20_000)
    assert "2 of 2 done" in page.locator("#batch-progress").inner_text()
    assert page.locator("#batch-progress tr[data-status=succeeded]").count() == 2
    batch = OperationBatch.objects.get()
    assert page.url == f"{live_server.url}/operations/batches/{batch.pk}/"
    assert {o.reason for o in batch.operations.all()} == {"trolling the town hall"}

    for stage in ("town-hall", "backstage"):
        with pytest.raises(SandboxControlError, match="TokenRevoked"):
            sandbox.stage_join(troublemaker[(stage, "troll")]["token"])
    assert Participant.objects.get(user_id="troll").state == "DISCONNECTED"
    assert Participant.objects.get(user_id="fan").state == "CONNECTED"
    assert not ParticipantToken.objects.filter(user_id="troll", revoked_at__isnull=True).exists()
