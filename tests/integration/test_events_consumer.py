"""The events consumer (portal.core.events) as the worker tier runs it (`manage.py events`, a process of its own): its
database connection cut from under it, an event that fails every time, its queue gone for a while, and it goes on
applying events."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

from portal.core.models import DeadLetter
from portal.meetings.models import Attendee, Meeting
from tests.backing_services import missing, wait_until
from tests.conftest import sandbox_boto
from tests.integration.fault_harness import REPOSITORY, DrillConfig, terminate, worker_environment
from tests.unit.test_meeting_events import T0, _event

pytestmark = pytest.mark.django_db(transaction=True)


def _connected(attendee_id: str) -> bool:
    return Attendee.objects.filter(attendee_id=attendee_id, state=Attendee.State.CONNECTED).exists()


def test_the_consumer_reconnects_after_its_database_connection_is_cut_and_outlives_a_failing_event(
    sandbox, aws_endpoint, tmp_path: Path
):
    """The consumer's PostgreSQL backend is terminated (as a database restart does) while it long-polls: it logs
    one line, reconnects, and applies the events sent after, in the same process. An event PostgreSQL refuses (an
    external user id longer than its column) fails on each receive, is kept as a dead letter after the second
    (MEETING_EVENTS_MAX_RECEIVES=2), and the events around it apply. Its queue deleted and made again: the failed
    receives are logged, and the events sent to the new queue apply."""
    if connection.vendor != "postgresql":
        missing("The consumer process shares the test database: it needs PostgreSQL")
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    url = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    meeting = Meeting.objects.create(
        meeting_id=str(uuid.uuid4()), external_meeting_id="standup", media_region="us-east-1", status="active"
    )
    name = f"events-consumer-{uuid.uuid4().hex[:8]}"
    environment = worker_environment(broker_url="memory://", aws_endpoint=aws_endpoint, var_dir=tmp_path,
                                     config=DrillConfig())  # fmt: skip
    environment |= {
        "DATABASE_URL": f"{environment['DATABASE_URL']}?application_name={name}",
        "MEETING_EVENTS_QUEUE_URL": url,
        "MEETING_EVENTS_MAX_RECEIVES": "2",
    }
    log_path = tmp_path / "consumer.log"
    with log_path.open("ab") as log:
        consumer = subprocess.Popen(
            [sys.executable, "manage.py", "events", "--wait", "1"],
            cwd=REPOSITORY, env=environment, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        sqs.send_message(QueueUrl=url, MessageBody=_event("AttendeeJoined", T0, meeting, "a-1", "alice"))
        wait_until(lambda: _connected("a-1"), timeout=60)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s", [name]
            )
            assert cursor.fetchone()[0] >= 1
        sqs.send_message(QueueUrl=url, MessageBody=_event("AttendeeJoined", T0, meeting, "a-2", "bob"))
        wait_until(lambda: _connected("a-2"), timeout=60)
        assert log_path.read_text().count("Database lost") == 1, log_path.read_text()
        refused = _event("AttendeeAdded", T0, meeting, "a-x", "x" * 65)
        for body in (refused, _event("AttendeeJoined", T0, meeting, "a-3", "carol")):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        wait_until(lambda: _connected("a-3") and DeadLetter.objects.exists(), timeout=60)
        assert "failed=1" in log_path.read_text()  # its first receive left it on the queue
        letter = DeadLetter.objects.get()
        assert letter.body == refused
        assert letter.error.startswith("Failed on receive 2, the last allowed: DataError: value too long")
        sqs.delete_queue(QueueUrl=url)  # anything else that goes wrong: logged, and the next receive comes later
        wait_until(lambda: "The events consumer failed" in log_path.read_text(), timeout=30)
        sqs.create_queue(QueueName=url.rsplit("/", 1)[1])
        sqs.send_message(QueueUrl=url, MessageBody=_event("AttendeeJoined", T0, meeting, "a-4", "dave"))
        wait_until(lambda: _connected("a-4"), timeout=60)
        assert consumer.poll() is None, log_path.read_text()
    finally:
        terminate(consumer, timeout=15)
