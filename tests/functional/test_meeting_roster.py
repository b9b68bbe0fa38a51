"""An admin creates a meeting in a real browser, watches an attendee appear in the live roster, and revokes them."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from portal.core.events import events_consume
from portal.core.models import AuditEntry
from portal.core.roles import Role
from portal.meetings.models import Attendee, Meeting
from portal.meetings.services import AttendeeSpec, meeting_create
from tests.backing_services import wait_until
from tests.conftest import sandbox_boto

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def drain(url: str) -> None:
    """Run the consumer until the queue is empty, in a thread of its own (Playwright's loop runs in this one)."""

    def consume() -> None:
        try:
            while any(events_consume(url=url, wait_seconds=0).values()):
                pass
        finally:
            connection.close()

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join(timeout=30)


def test_create_watch_the_roster_and_revoke(
    aws_endpoint, sandbox, settings, redis_broker, real_worker, make_user, live_server, page, log_in
):
    real_worker(redis_broker)
    sandbox.quotas(enabled=False)
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    settings.MEETING_EVENTS_QUEUE_URL = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    log_in(make_user("ada", Role.ADMIN))
    page.goto(f"{live_server.url}/meetings/new/")
    page.fill("#id_external_meeting_id", "browser-standup")
    page.fill("#id_attendee_lines", "alice\nbob")
    page.get_by_role("button", name="Create meeting").click()
    page.get_by_text("Open the meeting").click()

    meeting = Meeting.objects.get()
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    alice = next(
        a for a in chime.list_attendees(MeetingId=meeting.meeting_id)["Attendees"] if a["ExternalUserId"] == "alice"
    )
    assert page.locator("#roster [data-empty]").count() == 1
    sandbox.meeting_join(alice["JoinToken"])
    drain(settings.MEETING_EVENTS_QUEUE_URL)
    page.locator('#roster tr[data-user="alice"]').wait_for(timeout=5_000)  # the roster polls every second

    row = Attendee.objects.get(external_user_id="alice")
    page.locator(f"#attendee-{row.pk}").get_by_role("link", name="Revoke").click()
    page.fill("#id_reason", "left the laptop unlocked")
    page.get_by_role("button", name="Revoke attendee").click()
    # Revoking until the worker is done (it may be done before the page loads), then deleted without a reload: the
    # operation's progress announces its end and the attendees table, which follows the meeting, fetches itself.
    page.locator(f'#attendee-{row.pk}[data-state="deleted"]').wait_for(timeout=5_000)
    wait_until(lambda: Attendee.objects.get(pk=row.pk).state == Attendee.State.DELETED, timeout=10)
    drain(settings.MEETING_EVENTS_QUEUE_URL)  # AttendeeLeft and AttendeeDeleted from the sandbox
    page.locator("#roster [data-empty]").wait_for(timeout=5_000)  # the roster follows without a reload
    page.reload()
    assert page.locator(f"#attendee-{row.pk}").get_attribute("data-state") == "deleted"
    entry = AuditEntry.objects.get(kind="meetings.revoke_attendee", event="succeeded")
    assert (entry.actor_name, entry.reason) == ("ada", "left the laptop unlocked")


def test_the_attendees_table_and_counts_follow_the_events_with_the_roster(
    aws_endpoint, sandbox, settings, make_user, live_server, page, log_in, tmp_path
):
    """alice joins: "Connected now", the Attendees table and the counts all show her, without a reload."""
    sandbox.quotas(enabled=False)
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    settings.MEETING_EVENTS_QUEUE_URL = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    admin = make_user("ada", Role.ADMIN)
    support = make_user("sam", Role.SUPPORT)
    meeting_create(actor=admin, external_meeting_id="walk-standup", media_region="us-east-1", features={},
                   tenant_ids=[], tags={}, primary=None,
                   attendees=[AttendeeSpec("alice"), AttendeeSpec("bob")])  # fmt: skip
    meeting = Meeting.objects.get()
    alice = Attendee.objects.get(external_user_id="alice")
    drain(settings.MEETING_EVENTS_QUEUE_URL)  # MeetingStarted and the AttendeeAdded events
    log_in(support)
    page.goto(f"{live_server.url}/meetings/{meeting.pk}/")
    assert page.locator(f"#attendee-{alice.pk}").get_attribute("data-state") == "added"
    assert page.locator("#connected-count").inner_text() == "0"

    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    token = next(a for a in chime.list_attendees(MeetingId=meeting.meeting_id)["Attendees"]
                 if a["ExternalUserId"] == "alice")["JoinToken"]  # fmt: skip
    sandbox.meeting_join(token)
    drain(settings.MEETING_EVENTS_QUEUE_URL)
    page.locator(f'#attendee-{alice.pk}[data-state="connected"]').wait_for(timeout=5_000)  # no reload
    assert "Connected" in page.locator(f"#attendee-{alice.pk}").inner_text()
    assert page.locator('#roster tr[data-user="alice"]').count() == 1
    assert page.locator("#connected-count").inner_text() == "1"
    page.screenshot(path=str(tmp_path / "meeting-alice-joined.png"), full_page=True)

    chime.delete_meeting(MeetingId=meeting.meeting_id)  # ended outside the portal: only events tell
    drain(settings.MEETING_EVENTS_QUEUE_URL)
    page.locator("#meeting-heading .status", has_text="Ended").wait_for(timeout=5_000)  # the heading follows too
    assert page.locator(f"#attendee-{alice.pk}").get_attribute("data-state") != "connected"
    assert page.locator("#roster [data-empty]").count() == 1
    page.screenshot(path=str(tmp_path / "meeting-ended.png"), full_page=True)
