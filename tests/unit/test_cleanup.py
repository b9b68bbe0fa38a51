"""Cleanup policies against the sandbox (operations run eagerly here): preview equals run, protection, cap, retries,
no overlap, reports, the policy form and its audited changes, and the schedules beat reads from the database."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from portal.cleanup.models import CleanupItem, CleanupPolicy, CleanupRun
from portal.cleanup.services import cleanup_plan, cleanup_policy_save, cleanup_run
from portal.cleanup.tasks import cleanup_scheduled_run
from portal.core.errors import Conflict
from portal.core.models import AuditEntry, Operation
from portal.core.protection import PROTECTION_TAG
from portal.meetings.models import Meeting
from portal.stages.models import ParticipantToken, Stage
from portal.stages.services import stages_reconcile
from tests.conftest import login, sandbox_boto
from tests.factories import ParticipantTokenFactory, StageFactory

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def ivs(sandbox, aws_endpoint):
    sandbox.quotas(enabled=False)
    return sandbox_boto(sandbox.endpoint, "ivs-realtime")


def _estate(ivs, *stages: tuple[str, dict[str, str]]) -> dict[str, Stage]:
    """Stages made in the sandbox and brought into the registry, created two days ago."""
    for name, tags in stages:
        ivs.create_stage(name=name, tags=tags)
    with transaction.atomic():
        stages_reconcile(listed=ivs.list_stages()["stages"], region="us-east-1")
    Stage.objects.update(created_at=timezone.now() - 2 * DAY)
    return {stage.name: stage for stage in Stage.objects.all()}


def _policy(**values: object) -> CleanupPolicy:
    fields = {"name": "old test stages", "kind": "stage", "name_pattern": "test-*", "condition": "older_than",
              "amount": 1, "unit": "days", "max_actions": 10} | values  # fmt: skip
    return CleanupPolicy.objects.create(**fields)


def _in_aws(ivs) -> set[str]:
    return {stage["name"] for stage in ivs.list_stages()["stages"]}


def test_a_preview_lists_exactly_what_the_run_then_acts_on(ivs, admin, django_capture_on_commit_callbacks):
    _estate(ivs, ("test-a", {}), ("test-b", {"team": "x"}), ("test-kept", {PROTECTION_TAG: "yes"}), ("prod-a", {}))
    StageFactory(name="test-new", arn=None)  # never created in AWS: not a candidate
    Stage.objects.filter(name="test-b").update(created_at=timezone.now() - timedelta(hours=2))
    policy = _policy()
    now = timezone.now()
    plan = cleanup_plan(policy=policy, now=now)
    assert sorted(entry.label for entry in plan.act) == ["test-a"]
    assert [(entry.label, entry.why) for entry in plan.skip] == [
        ("test-kept", f"protected: tagged {PROTECTION_TAG} (found 2 days ago)")
    ]
    page = login(admin).get(f"/cleanup/{policy.pk}/preview/", headers={"HX-Request": "true"}).content.decode()
    assert 'data-act="1" data-skip="1"' in page
    assert 'class="preview-acts" data-label="test-a"' in page
    assert "found 2 days ago" in page

    with django_capture_on_commit_callbacks(execute=True):
        run = cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL, now=now)
    acted = {item.label for item in run.items.filter(outcome="acted")}
    assert acted == {entry.label for entry in plan.act}
    assert {item.label: item.why for item in run.items.filter(outcome="skipped")} == {e.label: e.why for e in plan.skip}
    assert _in_aws(ivs) == {"test-b", "test-kept", "prod-a"}
    assert Stage.objects.get(name="test-a").status == Stage.Status.DELETED
    operation = Operation.objects.get(kind="stages.delete")
    assert operation.reason.startswith(f"Cleanup policy old test stages, run #{run.pk}: found 2 days ago")
    assert operation.actor == admin
    assert list(run.batch.operations.all()) == [operation]


def test_the_protection_tag_holds_for_every_condition_and_shows_on_the_stage_list(ivs, viewer):
    _estate(ivs, ("test-kept", {PROTECTION_TAG: "", "team": "x"}))
    for condition in ("older_than", "idle_for"):
        plan = cleanup_plan(policy=_policy(name=condition, condition=condition), now=timezone.now())
        assert plan.act == []
        assert plan.skip[0].why.startswith("protected")
    page = login(viewer).get("/stages/").content.decode()
    badge = '<span class="badge tag protected" title="Protected: no cleanup policy touches it">'
    assert f"{badge}{PROTECTION_TAG}=</span>" in page
    stage = Stage.objects.get()
    assert "data-protected" in login(viewer).get(f"/stages/{stage.pk}/").content.decode()
    Stage.objects.update(tags={"team": "x"})
    assert "data-protected" not in login(viewer).get(f"/stages/{stage.pk}/").content.decode()


def test_a_run_over_the_cap_acts_on_none_and_reports_them_all(ivs, admin, django_capture_on_commit_callbacks):
    _estate(ivs, ("test-a", {}), ("test-b", {}), ("test-c", {}))
    policy = _policy(max_actions=2)
    assert cleanup_plan(policy=policy, now=timezone.now()).over_cap
    with django_capture_on_commit_callbacks(execute=True):
        run = cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL)
    assert (run.outcome, run.matched, run.batch) == ("over_cap", 3, None)
    assert Operation.objects.filter(kind="stages.delete").count() == 0
    assert _in_aws(ivs) == {"test-a", "test-b", "test-c"}
    whys = set(run.items.values_list("outcome", "why"))
    assert whys == {("skipped", "over the cap: 3 matched, the policy acts on at most 2 per run (found 2 days ago)")}
    report = login(admin).get(f"/cleanup/runs/{run.pk}/").content.decode()
    assert "Over the cap: 3 resources matched" in report
    assert "Cleanup runs failed in the last 24 h" in login(admin).get("/").content.decode()


def test_a_failing_delete_is_recorded_with_awss_code_and_retried_by_the_next_run(
    ivs, sandbox, admin, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    settings.OPERATION_MAX_ATTEMPTS = 1
    _estate(ivs, ("test-a", {}), ("test-b", {}))
    policy = _policy()
    sandbox.inject_fault("ivs-realtime:DeleteStage", error=1.0, remaining=1)
    with django_capture_on_commit_callbacks(execute=True):
        first = cleanup_run(policy=policy, actor=None, trigger=CleanupRun.Trigger.SCHEDULED)
    failed = [item for item in first.items.select_related("operation") if item.state == "failed"]
    assert len(failed) == 1
    code, message = failed[0].failure
    assert code == "InternalServerException"
    assert message
    client = login(admin)
    report = client.get(f"/cleanup/runs/{first.pk}/").content.decode()
    assert f'<span class="error-code">{code}</span>' in report
    assert f'id="run-{first.pk}" data-state="failed"' in client.get("/cleanup/runs/?outcome=failed").content.decode()
    assert f'id="run-{first.pk}"' not in client.get("/cleanup/runs/?outcome=succeeded").content.decode()
    csv = b"".join(client.get("/cleanup/runs/export.csv?outcome=failed").streaming_content).decode()
    assert f"{first.pk},old test stages," in csv
    assert code in csv

    preview = cleanup_plan(policy=policy, now=timezone.now())
    assert [(entry.label, entry.retry_of) for entry in preview.act] == [(failed[0].label, failed[0])]
    with django_capture_on_commit_callbacks(execute=True):
        second = cleanup_run(policy=policy, actor=None, trigger=CleanupRun.Trigger.SCHEDULED)
    retried = second.items.get()
    assert (retried.label, retried.retry_of, retried.state) == (failed[0].label, failed[0], "acted")
    assert f"failed in run #{first.pk}, tried again" in retried.why
    assert _in_aws(ivs) == set()


def test_a_failed_item_that_no_longer_matches_is_reported_not_dropped(ivs, sandbox, settings, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    settings.OPERATION_MAX_ATTEMPTS = 1
    _estate(ivs, ("test-a", {}))
    policy = _policy()
    sandbox.inject_fault("ivs-realtime:DeleteStage", error=1.0, remaining=1)
    first = cleanup_run(policy=policy, actor=None, trigger=CleanupRun.Trigger.SCHEDULED)
    from portal.core.services import operation_execute

    operation_execute(operation_id=first.items.get().operation_id)
    Stage.objects.update(tags={PROTECTION_TAG: "now"})
    skipped = cleanup_plan(policy=policy, now=timezone.now()).skip
    assert [entry.why[:9] for entry in skipped] == ["protected"]
    policy.name_pattern = "other-*"
    entries = cleanup_plan(policy=policy, now=timezone.now()).skip
    assert [entry.why for entry in entries] == [
        f"failed in run #{first.pk}; no longer matches the policy, so not tried again"
    ]


def test_a_run_never_overlaps_itself(ivs, admin, monkeypatch):
    monkeypatch.setattr("portal.core.services._enqueue", lambda operation_id, countdown=0: None)  # stay queued
    _estate(ivs, ("test-a", {}), ("test-b", {}))
    policy = _policy()
    first = cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL)
    assert first.outcome == "requested"
    with pytest.raises(Conflict, match=f"Run #{first.pk} of this policy is still in progress"):
        cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL)
    refused = login(admin).post(f"/cleanup/{policy.pk}/run/")
    assert "still in progress" in refused.content.decode()
    scheduled = CleanupRun.objects.get(pk=cleanup_scheduled_run(policy.pk))
    assert (scheduled.outcome, scheduled.items.count()) == ("overlap", 0)
    assert Operation.objects.filter(kind="stages.delete").count() == 2
    Operation.objects.update(status=Operation.Status.SUCCEEDED)  # ended; their stages are still being deleted
    third = cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL)
    assert third.outcome == "nothing"
    assert set(third.items.values_list("outcome", "why")) == {("skipped", "in transition: being deleted")}


@pytest.mark.django_db(transaction=True)
def test_two_runs_started_together_never_both_act(sandbox, aws_endpoint, monkeypatch):
    monkeypatch.setattr("portal.core.services._enqueue", lambda operation_id, countdown=0: None)
    sandbox.quotas(enabled=False)
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    _estate(ivs, ("test-a", {}))
    policy = _policy()
    start = threading.Barrier(2)

    def scheduled() -> None:
        start.wait()
        try:
            cleanup_scheduled_run(policy.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduled) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(CleanupRun.objects.values_list("outcome", flat=True)) == ["overlap", "requested"]
    assert Operation.objects.filter(kind="stages.delete").count() == 1


def test_meetings_idle_are_ended_and_expired_tokens_revoked(
    admin, aws_endpoint, sandbox, django_capture_on_commit_callbacks
):
    sandbox.quotas(enabled=False)
    form = {"external_meeting_id": "standup", "media_region": "us-east-1", "attendee_lines": "",
            "audio": "SendReceive", "video": "SendReceive", "content": "SendReceive",
            "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0"}  # fmt: skip
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/meetings/new/", form)
        client.post("/meetings/new/", form | {"external_meeting_id": "busy"})
    Meeting.objects.filter(external_meeting_id="busy").update(connected_count=2)
    meetings = CleanupPolicy.objects.create(name="idle meetings", kind="meeting", condition="idle_for", amount=10,
                                            unit="minutes", max_actions=5)  # fmt: skip
    later = timezone.now() + timedelta(minutes=11)
    assert [entry.label for entry in cleanup_plan(policy=meetings, now=later).act] == ["standup"]
    with django_capture_on_commit_callbacks(execute=True):
        cleanup_run(policy=meetings, actor=admin, trigger=CleanupRun.Trigger.MANUAL, now=later)
    assert dict(Meeting.objects.values_list("external_meeting_id", "status")) == {"standup": "ended", "busy": "active"}

    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    stage = _estate(ivs, ("tokens", {}))["tokens"]
    minted = {user: ivs.create_participant_token(stageArn=stage.arn, userId=user)["participantToken"]
              for user in ("gone", "valid")}  # fmt: skip
    expired = ParticipantTokenFactory(stage=stage, user_id="gone", participant_id=minted["gone"]["participantId"],
                                      expires_at=timezone.now() - timedelta(minutes=1))  # fmt: skip
    ParticipantTokenFactory(stage=stage, user_id="valid", participant_id=minted["valid"]["participantId"])
    tokens = CleanupPolicy.objects.create(name="expired tokens", kind="token", condition="token_expired",
                                          max_actions=5)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        run = cleanup_run(policy=tokens, actor=admin, trigger=CleanupRun.Trigger.MANUAL)
    assert [(item.label, item.state) for item in run.items.all()] == [("gone", "acted")], Operation.objects.last()
    assert ParticipantToken.objects.get(pk=expired.pk).revoked_at is not None
    assert ParticipantToken.objects.get(user_id="valid").revoked_at is None


POLICY_FORM = {"name": "nightly test stages", "kind": "stage", "name_pattern": "test-*", "tag_key": "", "tag_value": "",
               "origin": "", "condition": "older_than", "amount": "3", "unit": "days", "schedule": "0 3 * * *",
               "max_actions": "20", "enabled": "on"}  # fmt: skip


def test_admins_create_and_change_policies_audited_with_a_database_schedule(admin, support):
    assert login(support).post("/cleanup/new/", POLICY_FORM).status_code == 403
    client = login(admin)
    response = client.post("/cleanup/new/", POLICY_FORM)
    policy = CleanupPolicy.objects.get()
    assert (response.status_code, response["Location"]) == (303, f"/cleanup/{policy.pk}/")
    task = PeriodicTask.objects.get(name=f"cleanup-policy-{policy.pk}")
    assert (task.task, task.args, task.enabled, str(task.crontab.hour), task.crontab.minute) == (
        "portal.cleanup.tasks.cleanup_scheduled_run", f"[{policy.pk}]", True, "3", "0",
    )  # fmt: skip
    assert policy.periodic_task == task

    client.post(f"/cleanup/{policy.pk}/edit/", POLICY_FORM | {"max_actions": "5", "schedule": "*/15 * * * *",
                                                             "enabled": ""})  # fmt: skip
    task.refresh_from_db()
    assert (task.crontab.minute, task.enabled) == ("*/15", False)
    entries = AuditEntry.objects.filter(kind__startswith="cleanup.").order_by("id")
    assert [(e.actor_name, e.kind, e.resource_name) for e in entries] == [
        (admin.username, "cleanup.policy_create", "nightly test stages"),
        (admin.username, "cleanup.policy_change", "nightly test stages"),
    ]
    assert entries[1].detail == "schedule: '0 3 * * *' → '*/15 * * * *'; max_actions: 20 → 5; enabled: True → False"
    client.post(f"/cleanup/{policy.pk}/edit/", POLICY_FORM | {"schedule": ""})
    assert not PeriodicTask.objects.filter(name=f"cleanup-policy-{policy.pk}").exists()
    assert "Change cleanup policy" in client.get("/audit/").content.decode()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"schedule": "0 3 * *"}, "schedule", "A cron expression has five fields"),
        ({"schedule": "99 3 * * *"}, "schedule", "This cron expression cannot be read"),
        ({"schedule": "1,,2 3 * * *"}, "schedule", "This cron expression cannot be read"),  # ParseException, a 500
        ({"schedule": "-1 3 * * *"}, "schedule", "This cron expression cannot be read"),
        ({"schedule": "*/-1 3 * * *"}, "schedule", "This cron expression cannot be read"),
        ({"kind": "token", "condition": "idle_for"}, "condition", "Participant tokens take one of these conditions"),
        ({"amount": "0"}, "amount", "Say how long"),
        ({"max_actions": "0"}, "max_actions", "at least one resource per run"),
        ({"tag_key": PROTECTION_TAG}, "tag_key", "protects resources"),
        ({"tag_value": "x"}, "tag_key", "A tag value needs its key"),
        ({"amount": "1000000000"}, "amount", "At most 3,650 days (ten years)"),
        ({"amount": "3651"}, "amount", "At most 3,650 days (ten years)"),
        ({"amount": "87601", "unit": "hours"}, "amount", "At most 87,600 hours (ten years)"),
        ({"amount": "5256001", "unit": "minutes"}, "amount", "At most 5,256,000 minutes (ten years)"),
        ({"amount": "9" * 40, "unit": "minutes"}, "amount", "At most 5,256,000 minutes (ten years)"),
        ({"max_actions": "10001"}, "max_actions", "at most 10,000 resources per run"),
        ({"max_actions": "9" * 40}, "max_actions", "at most 10,000 resources per run"),
    ],
)
def test_the_policy_form_refuses_beside_the_field_and_keeps_the_input(admin, change, field, message):
    response = login(admin).post("/cleanup/new/", POLICY_FORM | change)
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page.split(f'id="error-{field}"', 1)[1].split("</span>", 1)[0]
    assert 'value="nightly test stages"' in page
    assert f'value="{(POLICY_FORM | change)[field]}"' in page
    assert not CleanupPolicy.objects.exists()


def test_the_policy_form_takes_ten_years_in_any_unit(admin):
    client = login(admin)
    for number, (amount, unit) in enumerate([("3650", "days"), ("87600", "hours"), ("5256000", "minutes")]):
        form = POLICY_FORM | {"name": f"ten years {number}", "amount": amount, "unit": unit, "max_actions": "10000"}
        assert client.post("/cleanup/new/", form).status_code == 303
    assert {policy.threshold for policy in CleanupPolicy.objects.all()} == {timedelta(days=3650)}


@pytest.mark.parametrize(("amount", "unit"), [(1_000_000_000, "days"), (2**31 - 1, "minutes"), (2**31 - 1, "hours")])
def test_a_policy_saved_with_a_huge_amount_previews_and_runs_as_ten_years(ivs, admin, amount, unit):
    """The probe: a policy saved with "older than 1000000000 days" (the form took it) answered its preview and Run
    now with 500 (OverflowError making its cut-off). Such a row counts as ten years: nothing is that old."""
    _estate(ivs, ("test-a", {}))
    policy = _policy(amount=amount, unit=unit)
    assert policy.threshold == timedelta(days=3650)
    client = login(admin)
    preview = client.get(f"/cleanup/{policy.pk}/preview/")
    assert preview.status_code == 200
    assert 'data-act="0" data-skip="0"' in preview.content.decode()
    ran = client.post(f"/cleanup/{policy.pk}/run/")
    run = CleanupRun.objects.get(policy=policy)
    assert (ran.status_code, ran["Location"], run.outcome) == (303, f"/cleanup/runs/{run.pk}/", "nothing")
    assert _in_aws(ivs) == {"test-a"}


@pytest.mark.django_db(transaction=True)  # the scheduler closes the database connection between its reads
def test_beat_loads_the_refreshers_and_the_policies_from_the_database(admin):
    from django_celery_beat.schedulers import DatabaseScheduler

    from portal import celery_app

    cleanup_policy_save(policy=CleanupPolicy(), actor=admin, values={
        "name": "p", "kind": "stage", "condition": "older_than", "amount": 1, "unit": "days",
        "schedule": "0 * * * *", "max_actions": 3})  # fmt: skip
    schedule = DatabaseScheduler(app=celery_app).schedule
    assert {"refresh-stages", "refresh-meetings", "operations-sweep", "secrets-expire"} <= set(schedule)
    assert schedule["refresh-stages"].options["queue"] == "refresh"
    assert schedule["refresh-stages"].task == "portal.core.tasks.refresh_run"
    policy_entry = schedule[f"cleanup-policy-{CleanupPolicy.objects.get().pk}"]
    assert policy_entry.task == "portal.cleanup.tasks.cleanup_scheduled_run"


def test_the_pages_list_policies_runs_and_items(ivs, viewer, admin, django_capture_on_commit_callbacks):
    _estate(ivs, ("test-a", {}), ("test-kept", {PROTECTION_TAG: "1"}))
    policy = _policy()
    with django_capture_on_commit_callbacks(execute=True):
        run = cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL)
    client = login(viewer)
    listing = client.get("/cleanup/").content.decode()
    assert f'<tr id="policy-{policy.pk}">' in listing
    assert "New policy" not in listing
    detail = client.get(f"/cleanup/{policy.pk}/").content.decode()
    assert 'id="run-now"' not in detail
    assert f'id="run-{run.pk}" data-state="succeeded"' in detail
    report = client.get(f"/cleanup/runs/{run.pk}/").content.decode()
    assert 'id="batch-progress" data-done="true"' in report
    items = {item.label: item for item in CleanupItem.objects.filter(run=run)}
    assert f'id="item-{items["test-a"].pk}" data-state="acted"' in report
    assert f'id="item-{items["test-kept"].pk}" data-state="skipped"' in report
    partial = client.get(f"/cleanup/runs/{run.pk}/", headers={"HX-Request": "true"})
    assert partial.status_code == 286  # nothing in flight: the report stops polling
    assert client.get(f"/cleanup/runs/?policy={policy.pk}").content.decode().count('<tr id="run-') == 1


def test_a_run_report_refreshes_its_progress_and_its_items_together(ivs, admin, viewer):
    """One element polls while the run is in progress and its answer holds both the progress and the items, read at
    one moment: never "0 of 2 done" beside an item marked Acted."""
    _estate(ivs, ("test-a", {}), ("test-b", {}))
    run = cleanup_run(policy=_policy(), actor=admin, trigger=CleanupRun.Trigger.MANUAL)  # operations left queued
    client = login(viewer)
    page = client.get(f"/cleanup/runs/{run.pk}/").content.decode()
    assert f'id="run-report" hx-get="/cleanup/runs/{run.pk}/" hx-trigger="every 1s"' in page
    assert page.count("hx-get=") == 1  # the progress inside no longer polls on its own
    assert "0 of 2 done" in page

    first = CleanupItem.objects.filter(run=run).order_by("pk").first()
    Operation.objects.filter(pk=first.operation_id).update(status=Operation.Status.SUCCEEDED)
    partial = client.get(f"/cleanup/runs/{run.pk}/", headers={"HX-Request": "true"})
    assert partial.status_code == 200  # one still in flight: it goes on polling
    answer = partial.content.decode()
    assert "1 of 2 done" in answer  # the progress ...
    assert f'id="item-{first.pk}" data-state="acted"' in answer  # ... and the items, in the same answer
    assert answer.count('data-state="in_progress"') == 2  # the other item, and the report's state

    Operation.objects.update(status=Operation.Status.SUCCEEDED)
    done = client.get(f"/cleanup/runs/{run.pk}/", headers={"HX-Request": "true"})
    assert done.status_code == 286
    assert "2 of 2 done" in done.content.decode()
    assert 'id="run-items" data-state="succeeded"' in done.content.decode()


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_lists_cost_the_same_queries_for_one_policy_or_many(viewer):
    client = login(viewer)

    def policy_with_runs(number: int) -> None:
        policy = _policy(name=f"policy {number}")
        for _ in range(2):
            CleanupRun.objects.create(policy=policy, trigger="manual", actor_name="ada", started_at=timezone.now(),
                                      outcome="nothing")  # fmt: skip

    policy_with_runs(0)
    one = (_queries(client, "/cleanup/"), _queries(client, "/cleanup/runs/"))
    for number in range(1, 6):
        policy_with_runs(number)
    assert (_queries(client, "/cleanup/"), _queries(client, "/cleanup/runs/")) == one
