"""Support staff disconnect a participant in a real browser and watch the row change without a reload."""

from __future__ import annotations

import pytest

from portal.core.models import Operation
from portal.core.roles import Role
from portal.stages.models import Participant, Stage
from portal.stages.refresh import stages_refresh
from tests.conftest import sandbox_boto
from tests.factories import ParticipantTokenFactory
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_stage(aws_endpoint, sandbox):
    """A stage in the sandbox with one connected participant, known to the portal."""
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    created = ivs.create_stage(name="live-event", participantTokenConfigurations=[{"userId": "spammer"}])
    Stage.objects.create(arn=created["stage"]["arn"], name="live-event", region="us-east-1", status=Stage.Status.ACTIVE)
    token = created["participantTokens"][0]
    sandbox.stage_join(token["token"], publish=True)
    stages_refresh()
    stage = Stage.objects.get()
    ParticipantTokenFactory(stage=stage, participant_id=token["participantId"], user_id="spammer")  # issued here
    return {"stage": stage, "participant": Participant.objects.get(), "token": token, "ivs": ivs}


def test_support_disconnects_a_participant(live_stage, redis_broker, real_worker, make_user, live_server, page, log_in):
    real_worker(redis_broker)
    log_in(make_user("sam", Role.SUPPORT))
    page.goto(f"{live_server.url}/stages/")
    page.get_by_role("link", name="live-event").click()

    participant = live_stage["participant"]
    row = page.locator(f"#participant-{participant.pk}")
    assert row.get_attribute("data-state") == "CONNECTED"
    assert page.get_by_role("button", name="Create stage").count() == 0
    row.get_by_role("link", name="Disconnect").click()

    dialog = page.locator("#disconnect-form")
    dialog.get_by_role("button", name="Disconnect").click()
    wait_for_htmx(page)
    assert page.locator("#id_reason").evaluate("input => input.validity.valueMissing")  # the browser asks first
    assert not Operation.objects.filter(kind="stages.disconnect_participant").exists()

    url_before = page.url
    page.fill("#id_reason", "spamming the chat")
    page.locator("#disconnect-form").get_by_role("button", name="Disconnect").click()
    page.locator(f"#participant-{participant.pk}[data-state=DISCONNECTED]").wait_for(timeout=20_000)
    assert page.url == url_before
    assert page.locator("#dialog").inner_text() == ""
    # The disconnect's other effects show without a reload: the token's record, its column, the recent operations.
    revoked = page.locator(f"#stage-tokens #token-{participant.participant_id} td").nth(5)
    revoked.filter(has_text="by sam").wait_for()
    page.locator(f"#participant-{participant.pk} td", has_text="revoked").wait_for()
    page.locator("#stage-operations li", has_text="Disconnect participant").wait_for()
    aws = live_stage["ivs"].get_participant(
        stageArn=live_stage["stage"].arn,
        sessionId=participant.session.session_id,
        participantId=participant.participant_id,
    )
    assert aws["participant"]["state"] == "DISCONNECTED"
