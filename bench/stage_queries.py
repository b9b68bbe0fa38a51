"""SQL queries made by the stage pages, the overview and "find a person", with few and with 1,000 stages.

    .venv/bin/python bench/stage_queries.py

Runs on a throwaway SQLite database; prints one line per page and size, and how many stages the filtered list
matched (it must match some). The counts must not grow with rows.
"""

from __future__ import annotations

import os
import sys
import tempfile
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

from portal.core.roles import Role  # noqa: E402
from portal.stages.filters import StageFilter  # noqa: E402
from portal.stages.models import Participant, ParticipantToken, Stage  # noqa: E402
from tests.factories import (  # noqa: E402
    PASSWORD,
    ParticipantFactory,
    ParticipantTokenFactory,
    StageFactory,
    StageSessionFactory,
    UserFactory,
)


def stages(count: int) -> Stage:
    Stage.objects.all().delete()
    Stage.objects.bulk_create(
        StageFactory.build(
            tags={"team": str(n % 7), "env": "bench"},
            active_session_id=f"st-{n:013d}" if n % 2 else "",
            connected_count=n % 12,
        )
        for n in range(count)
    )
    stage = Stage.objects.order_by("pk").last()
    session = StageSessionFactory(stage=stage)
    Stage.objects.filter(pk=stage.pk).update(active_session_id=session.session_id)
    Participant.objects.bulk_create(ParticipantFactory.build_batch(count // 5, session=session, user_id="alice"))
    ParticipantToken.objects.bulk_create(
        ParticipantTokenFactory.build(stage=stage, user_id="alice") for stage in Stage.objects.all()[: count // 5]
    )
    return stage


def queries(client: Client, path: str) -> int:
    headers = {"HX-Request": "true"} if "panel=" in path else {}
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return len(captured)


def main() -> None:
    call_command("migrate", verbosity=0)
    UserFactory(username="viewer", role=Role.VIEWER)
    UserFactory(username="support", role=Role.SUPPORT)
    client, support = Client(), Client()
    client.login(username="viewer", password=PASSWORD)
    support.login(username="support", password=PASSWORD)
    print(f"{'page':<28}{'stages':>8}{'participants':>14}{'queries':>9}")
    for count in (10, 1000):
        stage = stages(count)
        for label, path, who in (
            ("overview", "/", client),
            ("stage list", "/stages/", client),
            ("stage list, filtered", "/stages/?tag=team%3D3&live=on", client),
            ("stage detail", f"/stages/{stage.pk}/", client),
            ("stage detail, filtered", f"/stages/{stage.pk}/?user_id=alice&state=CONNECTED", client),
            ("participants panel (htmx)", f"/stages/{stage.pk}/?panel=participants", client),
            ("find a person (alice)", "/people/?user_id=alice", support),
        ):
            print(f"{label:<28}{count:>8}{count // 5:>14}{queries(who, path):>9}")
        matched = StageFilter({"tag": "team=3", "live": "on"}, queryset=Stage.objects.all()).qs.count()
        assert matched, "the filtered list matched no stage: the tag filter is broken"
        print(f"  (the filtered list matched {matched} of {count} stages)")


if __name__ == "__main__":
    main()
