"""An admin records a meeting in a real browser: the status changes on the meeting's page without a reload, the
artifacts are listed and an audio chunk plays from its presigned link, under the Content-Security-Policy."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from portal.core.events import events_consume
from portal.core.models import Operation
from portal.core.roles import Role
from portal.meetings.models import Meeting
from portal.meetings.services import AttendeeSpec, meeting_create
from portal.pipelines.models import CapturePipeline
from portal.pipelines.refresh import pipelines_refresh
from tests.backing_services import wait_until
from tests.conftest import sandbox_boto

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def follow(url: str) -> None:
    """The events consumer and a refresher cycle, in a thread of their own (Playwright's loop runs in this one)."""

    def work() -> None:
        try:
            while any(events_consume(url=url, wait_seconds=0).values()):
                pass
            pipelines_refresh()
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=30)


def test_record_watch_the_status_and_play_a_chunk(
    aws_endpoint, sandbox, settings, redis_broker, real_worker, make_user, live_server, page, log_in
):
    real_worker(redis_broker)
    sandbox.quotas(enabled=False)
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    settings.MEETING_EVENTS_QUEUE_URL = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    bucket = f"recordings-{uuid.uuid4().hex[:8]}"
    sandbox_boto(sandbox.endpoint, "s3").create_bucket(Bucket=bucket)
    settings.CAPTURE_SINK_BUCKETS = [bucket]
    admin = make_user("ada", Role.ADMIN)
    created = meeting_create(
        actor=admin, external_meeting_id="browser-recording", media_region="us-east-1", features={}, tenant_ids=[],
        tags={}, primary=None, attendees=[AttendeeSpec("alice")],
    )  # fmt: skip
    wait_until(lambda: Operation.objects.get(pk=created.pk).is_settled)
    meeting = Meeting.objects.get()
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    sandbox.meeting_join(chime.list_attendees(MeetingId=meeting.meeting_id)["Attendees"][0]["JoinToken"])
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    log_in(admin)
    page.goto(f"{live_server.url}/meetings/{meeting.pk}/")
    page.click("#capture-start")
    page.select_option("#id_bucket", bucket)
    page.fill("#id_prefix", "browser")
    page.click("#capture-submit")
    page.locator("#open-capture").wait_for(timeout=10_000)
    page.goto(f"{live_server.url}/meetings/{meeting.pk}/")
    page.locator('#meeting-capture [data-capture-status="Initializing"]').wait_for(timeout=5_000)

    sandbox.advance(6)
    follow(settings.MEETING_EVENTS_QUEUE_URL)
    # The panel polls every second while the capture is starting: InProgress shows without a reload.
    page.locator('#meeting-capture [data-capture-status="InProgress"]').wait_for(timeout=5_000)
    sandbox.advance(10)
    follow(settings.MEETING_EVENTS_QUEUE_URL)
    assert CapturePipeline.objects.get().artifacts.filter(folder="audio").exists()

    page.locator("#meeting-capture a", has_text="capture").first.click()
    audio = page.locator("#folder-audio audio").first
    audio.wait_for(timeout=5_000)
    page.locator("#folder-audio summary").click()  # a gesture: the page may play media
    page.locator("#folder-audio summary").click()
    played = page.evaluate(
        """() => new Promise((resolve) => {
            const audio = document.querySelector('#folder-audio audio');
            audio.addEventListener('timeupdate', () => { if (audio.currentTime > 0) resolve(audio.currentTime); });
            audio.addEventListener('error', () => resolve(-1));
            audio.play().catch(() => resolve(-2));
        })"""
    )
    assert played > 0
    assert not [problem for problem in problems if "Content Security Policy" in problem or "Refused" in problem]
