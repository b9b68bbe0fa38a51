"""An admin writes a cleanup policy in the browser, previews it, runs it and reads the report, in Chromium."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from portal.cleanup.models import CleanupPolicy, CleanupRun
from portal.cleanup.services import cleanup_run
from portal.core.models import Operation
from portal.core.protection import PROTECTION_TAG
from portal.core.roles import Role
from portal.stages.models import Stage
from tests.backing_services import celery_app_sending_to
from tests.conftest import sandbox_boto
from tests.functional.conftest import wait_for_htmx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
User = get_user_model()


@pytest.fixture
def estate(aws_endpoint, sandbox, make_user) -> dict[str, Stage]:
    sandbox.quotas(enabled=False)
    make_user("ada", Role.ADMIN)
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    stages = {}
    for name, tags in (("test-old", {}), ("test-kept", {PROTECTION_TAG: "yes"}), ("prod-old", {})):
        arn = ivs.create_stage(name=name, tags=tags)["stage"]["arn"]
        stages[name] = Stage.objects.create(arn=arn, name=name, region="us-east-1", status=Stage.Status.ACTIVE,
                                            tags=tags)  # fmt: skip
    Stage.objects.update(created_at=timezone.now() - timedelta(days=3))
    return stages


def test_an_admin_creates_previews_runs_and_reads_the_report(page, live_server, log_in, estate, sandbox):
    log_in(User.objects.get(username="ada"))
    page.goto(f"{live_server.url}/cleanup/")
    page.get_by_role("link", name="New policy").click()

    page.fill("#id_name", "old test stages")
    page.select_option("#id_kind", "stage")
    page.fill("#id_name_pattern", "test-*")
    page.select_option("#id_condition", "older_than")
    page.fill("#id_amount", "2")
    page.select_option("#id_unit", "days")
    page.fill("#id_schedule", "0 3 * * *")
    page.fill("#id_max_actions", "0")
    page.click("#policy-form button[type=submit]")
    assert "at least one resource per run" in page.locator("#error-max_actions").inner_text()
    assert page.input_value("#id_name_pattern") == "test-*"  # the input is kept
    page.fill("#id_max_actions", "5")
    page.click("#policy-form button[type=submit]")
    policy = CleanupPolicy.objects.get()
    page.wait_for_url(f"{live_server.url}/cleanup/{policy.pk}/")

    page.click("#preview")
    page.locator("#preview-result").wait_for()
    wait_for_htmx(page)
    assert page.locator(".preview-acts").get_attribute("data-label") == "test-old"
    assert "created 3 days ago" in page.locator(".preview-acts").inner_text()
    skipped = page.locator(".preview-skips")
    assert skipped.get_attribute("data-label") == "test-kept"
    assert "protected" in skipped.inner_text()

    page.click("#run-now button")
    run = CleanupRun.objects.get()
    page.wait_for_url(f"{live_server.url}/cleanup/runs/{run.pk}/")
    page.locator('#run-items[data-state="succeeded"]').wait_for()
    states = [row.get_attribute("data-state") for row in page.locator("#run-items tbody tr").all()]
    assert sorted(states) == ["acted", "skipped"]
    assert "test-old" in page.locator('#run-items tr[data-state="acted"]').inner_text()
    assert "protected" in page.locator('#run-items tr[data-state="skipped"]').inner_text()
    names = {stage["name"] for stage in sandbox_boto(sandbox.endpoint, "ivs-realtime").list_stages()["stages"]}
    assert names == {"test-kept", "prod-old"}

    page.goto(f"{live_server.url}/cleanup/runs/?policy={policy.pk}")
    assert page.locator(f'#run-{run.pk}[data-state="succeeded"]').count() == 1


REPORT_AGREES = """() => {
    const summary = document.querySelector('#batch-progress .batch-summary strong');
    const acted = document.querySelectorAll('#run-items tr[data-state="acted"]').length;
    return summary !== null && summary.textContent.startsWith(`${acted} of 2 done`) ? summary.textContent : null;
}"""


@pytest.mark.redis
def test_a_run_reports_progress_and_items_that_agree_as_its_operations_end(
    page, live_server, log_in, estate, redis_broker, tmp_path
):
    """The progress and the item list refresh as one: whenever "n of 2 done" shows, n items are marked Acted."""
    admin = User.objects.get(username="ada")
    Stage.objects.filter(name="prod-old").update(name="test-older")  # it and test-old match; test-kept is protected
    policy = CleanupPolicy.objects.create(name="old test stages", kind="stage", name_pattern="test-*",
                                          condition="older_than", amount=2, unit="days", max_actions=5)  # fmt: skip
    with celery_app_sending_to(redis_broker):  # queued, with no worker: the test ends the operations itself
        run = cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL)
    operations = list(Operation.objects.filter(pk__in=run.items.values("operation")).order_by("pk"))
    assert len(operations) == 2
    log_in(admin)
    page.goto(f"{live_server.url}/cleanup/runs/{run.pk}/")
    assert page.evaluate(REPORT_AGREES).startswith("0 of 2 done")

    for done, operation in enumerate(operations, start=1):
        Operation.objects.filter(pk=operation.pk).update(status=Operation.Status.SUCCEEDED, finished_at=timezone.now())
        page.wait_for_function(f"() => document.querySelector('#batch-progress strong').textContent"
                               f".startsWith('{done} of 2 done')")  # fmt: skip
        assert page.evaluate(REPORT_AGREES).startswith(f"{done} of 2 done")  # the items moved in the same swap
    page.locator('#run-items[data-state="succeeded"]').wait_for()
    page.screenshot(path=str(tmp_path / "run-report.png"), full_page=True)
