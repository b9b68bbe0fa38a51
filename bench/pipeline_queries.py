"""SQL queries made by the capture pipeline pages, the meetings list (its Recording column) and the overview, with
10 and with 10,000 capture pipelines.

    .venv/bin/python bench/pipeline_queries.py

Runs on a throwaway SQLite database; prints one line per page and size. The counts must not grow with rows.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.update(
    DJANGO_SETTINGS_MODULE="portal.settings",
    PORTAL_VAR_DIR=tempfile.mkdtemp(prefix="rtc-bench-"),
    DEBUG="true",
    ALLOWED_HOSTS="testserver",
    CAPTURE_SINK_BUCKETS="recordings",  # the estate's bucket: its artifacts are listed and linked
)

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from portal.core.roles import Role  # noqa: E402
from portal.meetings.models import Meeting  # noqa: E402
from portal.pipelines.models import Artifact, CapturePipeline  # noqa: E402
from tests.factories import PASSWORD, UserFactory  # noqa: E402

STATUSES = ("Initializing", "InProgress", "Stopping", "Stopped", "Stopped", "Stopped", "Failed")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def estate(count: int) -> CapturePipeline:
    """`count` captures, one per meeting, in every status; the last one in progress, with 300 artifacts in four
    folders."""
    Artifact.objects.all().delete()
    CapturePipeline.objects.all().delete()
    Meeting.objects.all().delete()
    meetings = Meeting.objects.bulk_create(
        Meeting(meeting_id=str(uuid.uuid4()), external_meeting_id=f"m-{n}", media_region="us-east-1", status="active")
        for n in range(count)
    )
    CapturePipeline.objects.bulk_create(
        CapturePipeline(
            meeting=meeting,
            media_pipeline_id=str(uuid.uuid4()),
            status=STATUSES[n % len(STATUSES)] if n % len(STATUSES) else "Stopped",
            sink_bucket="recordings",
            started_at=T0 + timedelta(minutes=n),
            ended_at=T0 + timedelta(minutes=n + 30),
            artifact_count=n % 50,
            bytes_written=n * 1000,
        )
        for n, meeting in enumerate(meetings)
    )
    last = CapturePipeline.objects.order_by("pk").last()
    CapturePipeline.objects.filter(pk=last.pk).update(status="InProgress", ended_at=None)  # the same page at any size
    Artifact.objects.bulk_create(
        Artifact(pipeline=last, key=f"{folder}/{n:04d}.mp4", folder=folder, size=n, chunk_at=T0 + timedelta(seconds=n))
        for folder in ("audio", "video", "meeting-events", "data-channel")
        for n in range(75)
    )
    return last


def queries(client: Client, path: str) -> int:
    headers = {"HX-Request": "true"} if "panel=" in path else {}
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    assert response.status_code in (200, 286), (path, response.status_code)
    return len(captured)


def main() -> None:
    call_command("migrate", verbosity=0)
    UserFactory(username="viewer", role=Role.VIEWER)
    client = Client()
    client.login(username="viewer", password=PASSWORD)
    print(f"{'page':<34}{'pipelines':>10}{'queries':>9}")
    for count in (10, 10_000):
        last = estate(count)
        pages = (
            ("pipelines list", "/pipelines/"),
            ("pipelines list, page 3", "/pipelines/?page=3"),
            ("pipelines list, filtered", "/pipelines/?status=Stopped&since=2026-11-01&meeting=m-"),
            ("pipelines list (htmx)", "/pipelines/?panel=table"),
            ("pipeline detail", f"/pipelines/{last.pk}/"),
            ("artifacts panel (htmx)", f"/pipelines/{last.pk}/?panel=artifacts"),
            ("meetings list (Recording column)", "/meetings/"),
            ("meeting detail (capture panel)", f"/meetings/{last.meeting_id}/"),
            ("overview", "/"),
        )
        for _label, path in pages:
            queries(client, path)  # once first: per-process caches (content types) are filled the first time
        for label, path in pages:
            print(f"{label:<34}{count:>10}{queries(client, path):>9}")


if __name__ == "__main__":
    main()
