"""Cleanup policies for each kind against an estate seeded through the portal, with the sandbox's clock advanced:
each preview equals what its run then acts on, through a real Celery worker over Redis, and the sandbox shows it."""

from __future__ import annotations

from datetime import datetime

import pytest

from portal.cleanup.models import CleanupPolicy, CleanupRun
from portal.cleanup.services import cleanup_plan, cleanup_run
from portal.core.models import Operation
from portal.core.protection import PROTECTION_TAG
from portal.meetings.models import Meeting
from portal.stages.models import ParticipantToken, Stage
from tests.backing_services import wait_until
from tests.conftest import login, sandbox_boto

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _stage_form(name: str, tags: dict[str, str], tokens: int) -> dict[str, object]:
    form: dict[str, object] = {"name": name, "tags-TOTAL_FORMS": str(len(tags)), "tags-INITIAL_FORMS": "0",
                               "tokens-TOTAL_FORMS": str(tokens), "tokens-INITIAL_FORMS": "0"}  # fmt: skip
    for number, (key, value) in enumerate(tags.items()):
        form |= {f"tags-{number}-key": key, f"tags-{number}-value": value}
    for number in range(tokens):
        form |= {f"tokens-{number}-user_id": f"guest-{number}", f"tokens-{number}-capabilities": ["SUBSCRIBE"],
                 f"tokens-{number}-duration": "1"}  # fmt: skip
    return form


MEETING = {"external_meeting_id": "standup", "media_region": "us-east-1", "attendee_lines": "",
           "audio": "SendReceive", "video": "SendReceive", "content": "SendReceive",
           "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0"}  # fmt: skip


def _settled() -> bool:
    return all(operation.is_settled for operation in Operation.objects.all())


def _run_as_previewed(policy: CleanupPolicy, now: datetime) -> CleanupRun:
    previewed = {entry.label for entry in cleanup_plan(policy=policy, now=now).act}
    run = cleanup_run(policy=policy, actor=None, trigger=CleanupRun.Trigger.SCHEDULED, now=now)
    assert {item.label for item in run.items.filter(outcome="acted")} == previewed
    wait_until(_settled, timeout=30)
    return run


def test_policies_for_each_kind_on_a_seeded_estate_with_the_sandbox_clock_advanced(
    admin, aws_endpoint, sandbox, real_worker, redis_broker
):
    real_worker(redis_broker)
    sandbox.quotas(enabled=False)
    client = login(admin)
    client.post("/stages/new/", _stage_form("test-ephemeral", {}, tokens=2))
    client.post("/stages/new/", _stage_form("test-kept", {PROTECTION_TAG: "demo"}, tokens=0))
    client.post("/stages/new/", _stage_form("prod-main", {}, tokens=0))
    client.post("/meetings/new/", MEETING)
    wait_until(_settled, timeout=30)
    assert set(Stage.objects.values_list("status", flat=True)) == {"active"}
    assert ParticipantToken.objects.count() == 2

    sandbox.advance(180)  # three minutes pass in AWS: the one-minute tokens expire, nobody joined the meeting
    now = datetime.fromisoformat(sandbox.clock()["now"])
    policies = [
        CleanupPolicy.objects.create(name="expired tokens", kind="token", condition="token_expired", max_actions=5),
        CleanupPolicy.objects.create(name="idle meetings", kind="meeting", condition="idle_for", amount=2,
                                     unit="minutes", max_actions=5),
        CleanupPolicy.objects.create(name="old test stages", kind="stage", name_pattern="test-*",
                                     condition="older_than", amount=2, unit="minutes", max_actions=5),
    ]  # fmt: skip
    runs = [_run_as_previewed(policy, now) for policy in policies]
    states = [sorted((item.label, item.state) for item in run.items.select_related("operation")) for run in runs]
    assert states == [
        [("guest-0", "acted"), ("guest-1", "acted")],
        [("standup", "acted")],
        [("test-ephemeral", "acted"), ("test-kept", "skipped")],
    ]
    assert ParticipantToken.objects.filter(revoked_at__isnull=True).count() == 0
    assert Meeting.objects.get().status == Meeting.Status.ENDED
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    with pytest.raises(chime.exceptions.NotFoundException):
        chime.get_meeting(MeetingId=Meeting.objects.get().meeting_id)
    names = {stage["name"] for stage in sandbox_boto(sandbox.endpoint, "ivs-realtime").list_stages()["stages"]}
    assert names == {"test-kept", "prod-main"}
    report = client.get(f"/cleanup/runs/{runs[2].pk}/").content.decode()
    assert 'id="run-items" data-state="succeeded"' in report
