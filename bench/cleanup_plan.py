"""A cleanup policy's selection (the preview, and what a run acts on) over 1,000 and 10,000 stages: time and queries.

    .venv/bin/python bench/cleanup_plan.py

Runs on a throwaway SQLite database, with no AWS: it times `cleanup_plan` (which the preview page and every run
share) and the preview page, and prints how many stages matched, were protected and were skipped as in transition.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.update(
    DJANGO_SETTINGS_MODULE="portal.settings",
    PORTAL_VAR_DIR=tempfile.mkdtemp(prefix="rtc-bench-"),
    DEBUG="true",
    ALLOWED_HOSTS="testserver",
)

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from portal.cleanup.models import CleanupPolicy  # noqa: E402
from portal.cleanup.services import cleanup_plan  # noqa: E402
from portal.core.protection import PROTECTION_TAG  # noqa: E402
from portal.core.roles import Role  # noqa: E402
from portal.stages.models import Stage  # noqa: E402
from tests.factories import PASSWORD, StageFactory, StageSessionFactory, UserFactory  # noqa: E402


def estate(count: int) -> None:
    """Stages a week old, half named test-*: every 10th protected, every 50th being deleted, every 3rd with a session
    that ended two days ago."""
    Stage.objects.all().delete()
    Stage.objects.bulk_create(
        StageFactory.build(
            name=f"{'test' if n % 2 else 'prod'}-{n}",
            tags={PROTECTION_TAG: "yes"} if n % 10 == 3 else {"team": str(n % 7)},
            status=Stage.Status.DELETING if n % 50 == 1 else Stage.Status.ACTIVE,
        )
        for n in range(count)
    )
    Stage.objects.update(created_at=timezone.now() - timedelta(days=7))
    for stage in Stage.objects.all()[: count // 3]:
        StageSessionFactory(stage=stage, ended_at=timezone.now() - timedelta(days=2))


def main() -> None:
    call_command("migrate", verbosity=0)
    UserFactory(username="viewer", role=Role.VIEWER)
    client = Client()
    client.login(username="viewer", password=PASSWORD)
    policy = CleanupPolicy.objects.create(name="idle test stages", kind="stage", name_pattern="test-*",
                                          condition="idle_for", amount=1, unit="days", max_actions=100_000)  # fmt: skip
    print(f"{'stages':>8}{'act':>7}{'protected':>10}{'busy':>6}{'plan ms':>9}{'plan queries':>14}{'page ms':>9}")
    for count in (1_000, 10_000):
        estate(count)
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            plan = cleanup_plan(policy=policy, now=timezone.now())
            plan_ms = (time.perf_counter() - started) * 1000
        plan_queries = len(captured)  # read now: the connection keeps only the last 9,000 queries
        started = time.perf_counter()
        assert client.get(f"/cleanup/{policy.pk}/preview/").status_code == 200
        page_ms = (time.perf_counter() - started) * 1000
        protected = sum(entry.why.startswith("protected") for entry in plan.skip)
        busy = sum(entry.why.startswith("in transition") for entry in plan.skip)
        print(f"{count:>8}{len(plan.act):>7}{protected:>10}{busy:>6}{plan_ms:>9.0f}{plan_queries:>14}{page_ms:>9.0f}")


if __name__ == "__main__":
    main()
