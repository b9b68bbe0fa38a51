"""The operation pipeline never runs an AWS change twice in effect and never strands a row: one test per hole."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from portal.core.models import OneTimeSecret, Operation
from portal.core.operation_kinds import OperationCall, OperationKind, register
from portal.core.secrets import secrets_take
from portal.core.services import operation_execute, operation_request, operations_requeue_stuck
from portal.core.tasks import operation_run
from portal.stages import operations as stage_operations
from portal.stages.models import Participant, ParticipantToken, Stage
from portal.stages.refresh import stages_refresh
from portal.stages.services import TokenSpec, stage_create, stage_delete, stage_rename, stage_tokens_issue
from tests.backing_services import wait_until
from tests.conftest import login

pytestmark = pytest.mark.django_db

LATER = timedelta(seconds=settings.OPERATION_STUCK_AFTER_SECONDS + 1)


@pytest.fixture
def stage(admin, aws_endpoint, sandbox, django_capture_on_commit_callbacks) -> Stage:
    sandbox.quotas(enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        stage_create(actor=admin, name="town-hall", tags={}, tokens=[])
    made = Stage.objects.get()
    assert made.status == Stage.Status.ACTIVE
    return made


def _sandbox_tokens(sandbox) -> list[dict[str, Any]]:
    return list(sandbox.state()["state"].get("ivs.tokens", {}).values())


def _lost(request: Any, django_capture_on_commit_callbacks) -> Operation:
    """Request an operation whose message the broker loses."""
    with django_capture_on_commit_callbacks(execute=False):
        return request()


def test_a_courier_stops_before_the_sweeper_may_hand_its_operation_to_another():
    assert operation_run.soft_time_limit < operation_run.time_limit < settings.OPERATION_STUCK_AFTER_SECONDS


def test_an_operation_lost_for_good_fails_through_its_kind_and_frees_the_stage(
    admin, stage, django_capture_on_commit_callbacks
):
    operation = _lost(lambda: stage_delete(actor=admin, stage=stage), django_capture_on_commit_callbacks)
    assert Stage.objects.get().status == Stage.Status.DELETING
    long_ago = timezone.now() - LATER
    Operation.objects.filter(pk=operation.pk).update(
        status=Operation.Status.RUNNING, attempts=settings.OPERATION_MAX_ATTEMPTS, started_at=long_ago
    )
    operations_requeue_stuck()
    operation.refresh_from_db()
    assert (operation.status, operation.error_code) == (Operation.Status.FAILED, "WorkerLost")
    assert operation.effect_status == Operation.Effect.APPLIED
    assert Stage.objects.get().status == Stage.Status.ACTIVE  # not DELETING forever: it can be changed again


GATES: dict[int, threading.Event] = {}


async def _gated(call: OperationCall) -> dict[str, Any]:
    await asyncio.to_thread(GATES[call.attempt].wait, 10)
    return {"attempt": call.attempt}


register(OperationKind(name="tests.gated", label="Wait at a gate", permission="core.manage_resources", call=_gated))


@pytest.mark.django_db(transaction=True)
def test_only_the_courier_that_owns_the_attempt_records_an_outcome(admin, aws_endpoint, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    GATES.clear()
    GATES[1], GATES[2] = threading.Event(), threading.Event()
    GATES[2].set()
    operation = Operation.objects.create(kind="tests.gated", actor=admin, actor_name="ada")
    first = threading.Thread(target=operation_execute, kwargs={"operation_id": operation.pk})
    first.start()
    wait_until(lambda: Operation.objects.get(pk=operation.pk).status == Operation.Status.RUNNING, timeout=10)
    operations_requeue_stuck(now=timezone.now() + LATER)  # the sweeper gives up on courier 1; courier 2 succeeds
    GATES[1].set()
    first.join(10)
    operation.refresh_from_db()
    assert (operation.status, operation.attempts, operation.result) == ("succeeded", 2, {"attempt": 2})
    assert list(operation.audit_entries.order_by("id").values_list("event", flat=True)) == [
        "retrying",
        "succeeded",
    ]


def test_a_failing_local_effect_is_kept_visible_and_applied_again_without_calling_aws(
    admin, stage, sandbox, monkeypatch, django_capture_on_commit_callbacks, settings
):
    record_tokens = stage_operations._record_tokens

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database said no")

    monkeypatch.setattr(stage_operations, "_record_tokens", broken)
    spec = TokenSpec(user_id="guest", capabilities=["SUBSCRIBE"], duration=60, attributes={})
    with django_capture_on_commit_callbacks(execute=True):
        operation = stage_tokens_issue(actor=admin, stage=stage, tokens=[spec])
    operation.refresh_from_db()
    assert operation.status == Operation.Status.SUCCEEDED  # AWS's outcome is recorded...
    assert operation.effect_status == Operation.Effect.FAILED  # ...and the failed local effect is visible
    assert "the database said no" in operation.effect_error
    assert OneTimeSecret.objects.filter(operation=operation).count() == 1  # the token is not lost
    assert len(_sandbox_tokens(sandbox)) == 1

    monkeypatch.setattr(stage_operations, "_record_tokens", record_tokens)
    settings.OPERATION_EFFECT_RETRY_SECONDS = 0
    operations_requeue_stuck(now=timezone.now() + timedelta(seconds=1))
    operation.refresh_from_db()
    assert operation.effect_status == Operation.Effect.APPLIED
    assert ParticipantToken.objects.get().user_id == "guest"
    assert len(_sandbox_tokens(sandbox)) == 1  # AWS was not called again: no second token
    assert operation.attempts == 1


def test_a_throttled_mutation_is_retried_by_the_pipeline_visibly_not_by_the_sdk(
    admin, stage, sandbox, django_capture_on_commit_callbacks
):
    sandbox.inject_fault("ivs-realtime:UpdateStage", throttle=1, remaining=1)
    with django_capture_on_commit_callbacks(execute=True):
        operation = stage_rename(actor=admin, stage=stage, name="renamed")
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == (Operation.Status.SUCCEEDED, 2)
    retry = operation.audit_entries.get(event="retrying")
    assert retry.detail.startswith("ThrottlingException:")


def test_a_broker_outage_answers_queued_and_the_sweeper_delivers(
    admin, stage, broker_down, django_capture_on_commit_callbacks
):
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/stages/{stage.pk}/rename/", {"name": "while-redis-is-down"})
    operation = Operation.objects.get(kind="stages.rename")
    assert (response.status_code, response["Location"]) == (303, f"/operations/{operation.pk}/")
    assert operation.status == Operation.Status.QUEUED
    broker_down()
    operations_requeue_stuck(now=timezone.now() + LATER)
    operation.refresh_from_db()
    assert operation.status == Operation.Status.SUCCEEDED
    assert Stage.objects.get().name == "while-redis-is-down"


def test_lost_operations_on_one_stage_are_delivered_oldest_first_in_request_order(
    admin, stage, django_capture_on_commit_callbacks
):
    for name in ("first", "second", "third"):
        _lost(lambda name=name: stage_rename(actor=admin, stage=stage, name=name), django_capture_on_commit_callbacks)
    operations_requeue_stuck(now=timezone.now() + LATER)
    assert Stage.objects.get().name == "third"
    finished = Operation.objects.filter(kind="stages.rename").order_by("finished_at")
    assert [o.parameters["name"] for o in finished] == ["first", "second", "third"]


def test_a_serial_operation_waits_for_the_earlier_one_on_the_same_stage(
    admin, stage, django_capture_on_commit_callbacks
):
    earlier = _lost(lambda: stage_rename(actor=admin, stage=stage, name="earlier"), django_capture_on_commit_callbacks)
    later = _lost(lambda: stage_rename(actor=admin, stage=stage, name="later"), django_capture_on_commit_callbacks)
    assert operation_execute(operation_id=later.pk) is None  # its turn has not come
    assert Operation.objects.get(pk=later.pk).status == Operation.Status.QUEUED
    with django_capture_on_commit_callbacks(execute=True):
        operation_execute(operation_id=earlier.pk)  # ends, and hands over to the next one
    assert Operation.objects.get(pk=later.pk).status == Operation.Status.SUCCEEDED
    assert Stage.objects.get().name == "later"


def test_a_token_minted_by_a_lost_attempt_is_recognised_and_its_holder_disconnected(
    admin, stage, sandbox, django_capture_on_commit_callbacks
):
    from portal.aws.clients import aws_run
    from portal.core.operation_kinds import operation_kind_get

    spec = TokenSpec(user_id="guest", capabilities=["SUBSCRIBE"], duration=60, attributes={})
    operation = _lost(
        lambda: stage_tokens_issue(actor=admin, stage=stage, tokens=[spec]), django_capture_on_commit_callbacks
    )
    Operation.objects.filter(pk=operation.pk).update(
        status=Operation.Status.RUNNING, attempts=1, started_at=timezone.now() - LATER
    )
    lost_call = OperationCall(operation.kind, operation.target, operation.parameters,
                              str(operation.idempotency_token), attempt=1)  # fmt: skip
    minted = aws_run(operation_kind_get(operation.kind).call(lost_call))  # the worker dies before recording this
    with django_capture_on_commit_callbacks(execute=True):
        operations_requeue_stuck()  # attempt 2 mints the token the portal records
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == (Operation.Status.SUCCEEDED, 2)
    assert len(_sandbox_tokens(sandbox)) == 2
    assert ParticipantToken.objects.count() == 1

    (lost_participant_id, lost_token), *_ = minted["secrets"]
    sandbox.stage_join(lost_token)
    with django_capture_on_commit_callbacks(execute=True):
        stages_refresh()
    holder = Participant.objects.get(participant_id=lost_participant_id)
    assert holder.unrecorded_token
    assert holder.disconnect_operation.status == Operation.Status.SUCCEEDED
    assert holder.disconnect_operation.actor_name == "scheduler"
    state = sandbox.state()["state"]
    assert any(p["state"] == "DISCONNECTED" for p in state["ivs.participants"].values()
               if p["participantId"] == lost_participant_id)  # fmt: skip


def test_a_recorded_token_is_left_alone(admin, stage, sandbox, django_capture_on_commit_callbacks):
    spec = TokenSpec(user_id="host", capabilities=["PUBLISH", "SUBSCRIBE"], duration=60, attributes={})
    with django_capture_on_commit_callbacks(execute=True):
        operation = stage_tokens_issue(actor=admin, stage=stage, tokens=[spec])
    ((_participant_id, token),) = secrets_take(operation=operation, user=admin)
    sandbox.stage_join(token)
    stages_refresh()
    participant = Participant.objects.get()
    assert participant.token_attempt == f"{operation.idempotency_token}/1"
    assert not participant.unrecorded_token
    assert participant.disconnect_operation is None
    assert participant.state == "CONNECTED"


def test_a_redelivered_message_takes_over_at_once_from_a_courier_that_died(
    admin, aws_endpoint, django_capture_on_commit_callbacks
):
    import socket
    import subprocess

    ended = subprocess.Popen(["true"])
    ended.wait()
    with django_capture_on_commit_callbacks(execute=False):
        operation = operation_request(kind="aws.check_connection", actor=admin)
    Operation.objects.filter(pk=operation.pk).update(
        status=Operation.Status.RUNNING,
        attempts=1,
        started_at=timezone.now(),
        courier=f"{socket.gethostname()}:{ended.pid}",
    )
    operation_execute(operation_id=operation.pk)  # the broker redelivers the task of the child that was killed
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == (Operation.Status.SUCCEEDED, 2)
    assert "ended mid-call" in operation.audit_entries.get(event="retrying").detail


def test_a_courier_that_is_still_running_is_left_alone(admin, aws_endpoint, django_capture_on_commit_callbacks):
    import os
    import socket

    with django_capture_on_commit_callbacks(execute=False):
        operation = operation_request(kind="aws.check_connection", actor=admin)
    Operation.objects.filter(pk=operation.pk).update(
        status=Operation.Status.RUNNING,
        attempts=1,
        started_at=timezone.now(),
        courier=f"{socket.gethostname()}:{os.getppid()}",
    )
    assert operation_execute(operation_id=operation.pk) is None
    assert operations_requeue_stuck() == 0
    assert Operation.objects.get(pk=operation.pk).status == Operation.Status.RUNNING
