"""The support flow end to end: browser requests → views → Operation → real Celery worker over Redis → sandbox."""

from __future__ import annotations

import pytest

from portal.core.models import AuditEntry, Operation
from portal.core.tasks import refresh_run
from portal.stages.models import Participant, Stage
from rtc_sandbox.client import SandboxControlError
from tests.backing_services import wait_until
from tests.conftest import login, sandbox_boto

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _finished(operation_id: int) -> Operation:
    wait_until(lambda: Operation.objects.get(pk=operation_id).is_settled)  # ended, and its local change applied
    return Operation.objects.get(pk=operation_id)


CREATE = {
    "name": "support-drill",
    "tags-TOTAL_FORMS": "0",
    "tags-INITIAL_FORMS": "0",
    "tokens-TOTAL_FORMS": "1",
    "tokens-INITIAL_FORMS": "0",
    "tokens-0-user_id": "troublemaker",
    "tokens-0-capabilities": ["PUBLISH", "SUBSCRIBE"],
    "tokens-0-duration": "720",
}


def test_create_join_disconnect_and_audit(admin, support, aws_endpoint, sandbox, real_worker, redis_broker):
    real_worker(redis_broker)
    admin_client = login(admin)
    admin_client.post("/stages/new/", CREATE)
    created = _finished(Operation.objects.get(kind="stages.create").pk)
    assert created.status == Operation.Status.SUCCEEDED, created.error_message
    page = admin_client.post(f"/operations/{created.pk}/secrets/").content.decode()
    token = page.split('readonly rows="3"', 1)[1].split(">", 1)[1].split("<", 1)[0]

    joined = sandbox.stage_join(token, publish=True)
    refresh_run.delay("stages")
    wait_until(lambda: Participant.objects.filter(state="CONNECTED").exists())
    participant = Participant.objects.get()
    stage = Stage.objects.get()
    assert participant.participant_id == joined["participantId"]
    support_client = login(support)
    detail = support_client.get(f"/stages/{stage.pk}/").content.decode()
    assert f'id="participant-{participant.pk}" data-state="CONNECTED"' in detail

    row = support_client.post(
        f"/stages/{stage.pk}/participants/{participant.pk}/disconnect/",
        {"reason": "harassing other participants"},
        headers={"HX-Request": "true"},
        follow=True,
    ).content.decode()
    assert "disconnecting…" in row or 'data-state="DISCONNECTED"' in row
    operation = Operation.objects.get(kind="stages.disconnect_participant")
    assert _finished(operation.pk).status == Operation.Status.SUCCEEDED

    aws = sandbox_boto(sandbox.endpoint, "ivs-realtime").get_participant(
        stageArn=stage.arn, sessionId=joined["sessionId"], participantId=joined["participantId"]
    )
    assert aws["participant"]["state"] == "DISCONNECTED"
    with pytest.raises(SandboxControlError) as refused:
        sandbox.stage_join(token)
    assert refused.value.code == "TokenRevoked"

    panel = support_client.get(
        f"/stages/{stage.pk}/?panel=participants", headers={"HX-Request": "true"}
    ).content.decode()
    assert f'id="participant-{participant.pk}" data-state="DISCONNECTED"' in panel
    audit = support_client.get("/audit/", {"kind": "stages.disconnect_participant"}).content.decode()
    assert "harassing other participants" in audit
    entries = AuditEntry.objects.filter(kind="stages.disconnect_participant").order_by("id")
    assert [(e.actor_name, e.event) for e in entries] == [("sam", "requested"), ("sam", "succeeded")]


def test_sync_finds_a_stage_created_directly_in_the_sandbox(support, aws_endpoint, sandbox, real_worker, redis_broker):
    real_worker(redis_broker)
    arn = sandbox_boto(sandbox.endpoint, "ivs-realtime").create_stage(name="from-the-cli")["stage"]["arn"]
    login(support).post("/stages/sync/", headers={"HX-Request": "true"})
    assert _finished(Operation.objects.get(kind="stages.sync").pk).status == Operation.Status.SUCCEEDED
    stage = Stage.objects.get(arn=arn)
    assert (stage.name, stage.origin) == ("from-the-cli", Stage.Origin.FOUND)


def test_a_throttled_sandbox_still_completes_every_operation_exactly_once(
    admin, aws_endpoint, sandbox, real_worker, redis_broker, settings, monkeypatch
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # no SDK retries: every throttle reaches the operation pipeline
    settings.OPERATION_MAX_ATTEMPTS = 30
    sandbox.inject_fault("ivs-realtime:*", throttle=1.0, remaining=5)  # the next five IVS calls are throttled
    real_worker(redis_broker)
    client = login(admin)
    for number in range(4):
        client.post("/stages/new/", {**CREATE, "name": f"throttled-{number}", "tokens-TOTAL_FORMS": "0"})
    creations = [_finished(operation.pk) for operation in Operation.objects.filter(kind="stages.create")]
    wait_until(lambda: Operation.objects.filter(kind="stages.untag").count() == 4)  # each creation's marker cleanup
    cleanups = [_finished(operation.pk) for operation in Operation.objects.filter(kind="stages.untag")]
    finished = creations + cleanups
    assert {operation.status for operation in finished} == {Operation.Status.SUCCEEDED}
    sandbox.clear_faults()
    sandbox.quotas(enabled=False)
    stages = sandbox_boto(sandbox.endpoint, "ivs-realtime").list_stages()["stages"]
    assert sorted(stage["name"] for stage in stages) == [f"throttled-{n}" for n in range(4)]
    assert all(stage["tags"] == {} for stage in stages)
    assert all(AuditEntry.objects.filter(operation=o, event="succeeded").count() == 1 for o in finished)
    assert sum(o.attempts for o in finished) == len(finished) + 5  # each throttled call cost one more attempt
    assert AuditEntry.objects.filter(event="retrying").count() == 5
