"""Meeting events applied per second by one consumer, 250 attendees churning; query counts of the meeting pages.

    .venv/bin/python bench/meeting_events.py [--database sqlite|postgres] [--events 5000] [--queued 500]

First the consumer's own work: parse, dedupe and apply each event in its own transaction, in received batches of 10
(`events_dispatch`, which hands them to `meeting_events_apply` as the consumer does: the batch's seen ids, meetings and
attendees read with one query each, its commits flushed to disk once), for `--events` events. Then the whole path for
`--queued` events: the sandbox as a process of its own (port 18800-18899), an SQS queue on it, one consumer
(`events_consume`, batches of 10, delete after commit) until the queue is empty; that figure includes moto's
SQS emulation, which is slow with thousands of queued messages.
Then the people panel's latency: `manage.py events` runs as the worker tier runs it (long poll), other events
churn at `--churn` per second, and for each of `--joins` attendees an AttendeeJoined is sent to the queue and the
people panel (the roster, the attendees table and the counts) is read every 20 ms until it shows them; a browser polls
that panel every second while the meeting is live, so a person sees the attendee within that latency plus at most one
second.

Events are EventBridge-format, for one meeting of 250 attendees (each added, then joining, turning video on and
off, leaving and re-joining), with 5 % duplicates. Then counts the SQL queries of the list at 1 and at 10,001
meetings, and of the detail page and people panel with 250 attendees, and times the people panel's answer.
PostgreSQL uses a throwaway database on BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432/).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
arguments.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
arguments.add_argument("--events", type=int, default=5000, help="events applied directly")
arguments.add_argument("--queued", type=int, default=500, help="events sent through the sandbox's SQS queue")
arguments.add_argument("--joins", type=int, default=40, help="attendees whose way to the people panel is timed")
arguments.add_argument("--churn", type=int, default=20, help="other events per second while they join")
options = arguments.parse_args()
server = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
database_name = f"rtc_bench_meetings_{os.getpid()}"
os.environ.update(
    DJANGO_SETTINGS_MODULE="portal.settings",
    PORTAL_VAR_DIR=tempfile.mkdtemp(prefix="rtc-bench-"),
    DEBUG="false",
    SECRET_KEY="bench-only-not-secret",
    ALLOWED_HOSTS="testserver",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_EC2_METADATA_DISABLED="true",
)
if options.database == "postgres":
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database_name}"')
    os.environ["DATABASE_URL"] = f"{server}/{database_name}"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.harness import percentile  # noqa: E402
from portal.aws.sqs import RECEIVE_MAX  # noqa: E402
from portal.core.events import events_consume, events_dispatch  # noqa: E402
from portal.core.roles import Role  # noqa: E402
from portal.meetings.models import Attendee, Meeting, MeetingEvent  # noqa: E402
from rtc_sandbox.client import SandboxControl  # noqa: E402
from rtc_sandbox.testing import COMMAND  # noqa: E402
from tests.factories import PASSWORD, UserFactory  # noqa: E402

ATTENDEES = 250
PEOPLE = [(str(uuid.uuid4()), f"user-{n:03d}") for n in range(ATTENDEES)]


def churn(meeting: Meeting, count: int) -> list[str]:
    """Bodies of `count` events: every attendee added, then random joins, video, leaves; 5 % sent twice."""
    clock = int(time.time() * 1000)
    connected: set[int] = set()
    bodies: list[str] = []

    def event(event_type: str, who: int) -> str:
        nonlocal clock
        clock += 5
        return meeting_event(meeting, event_type, *PEOPLE[who], at=clock)

    bodies += [event("AttendeeAdded", n) for n in range(ATTENDEES)]
    while len(bodies) < count:
        who = random.randrange(ATTENDEES)
        if who in connected:
            kind = random.choice(["AttendeeVideoStarted", "AttendeeVideoStopped", "AttendeeLeft", "AttendeeDropped"])
            if kind in ("AttendeeLeft", "AttendeeDropped"):
                connected.discard(who)
        else:
            kind = "AttendeeJoined"
            connected.add(who)
        body = event(kind, who)
        bodies.append(body)
        if random.random() < 0.05:
            bodies.append(body)  # a duplicate delivery
    return bodies[:count]


def meeting_event(meeting: Meeting, event_type: str, attendee_id: str, user: str, *, at: int) -> str:
    detail = {"version": "0", "eventType": f"chime:{event_type}", "timestamp": at, "meetingId": meeting.meeting_id,
              "externalMeetingId": meeting.external_meeting_id, "mediaRegion": "us-east-1",
              "attendeeId": attendee_id, "externalUserId": user}  # fmt: skip
    envelope = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Chime Meeting State Change",
                "source": "aws.chime", "region": "us-east-1", "resources": [], "detail": detail}  # fmt: skip
    return json.dumps(envelope)


def roster_latency(sqs: Any, url: str, meeting: Meeting, client: Client) -> list[float]:
    """Seconds from each AttendeeJoined reaching the queue to the roster panel showing that attendee, with the
    consumer as its own process and other events churning."""
    consumer = subprocess.Popen(
        [sys.executable, "manage.py", "events", "--wait", "10"],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "MEETING_EVENTS_QUEUE_URL": url},
        stdout=subprocess.DEVNULL,
    )
    stop = threading.Event()

    def churning() -> None:
        bodies = churn(meeting, 10**6)[ATTENDEES:]
        while not stop.wait(10 / options.churn):
            entries = [{"Id": str(n), "MessageBody": bodies.pop()} for n in range(10)]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)

    churner = threading.Thread(target=churning, daemon=True)
    churner.start()
    applied = MeetingEvent.objects.count()
    while MeetingEvent.objects.count() < applied + 10:  # the consumer has started and is keeping up
        time.sleep(0.1)
    panel = f"/meetings/{meeting.pk}/?panel=people"
    latencies: list[float] = []
    try:
        for n in range(options.joins):
            attendee_id = str(uuid.uuid4())
            body = meeting_event(meeting, "AttendeeJoined", attendee_id, f"joiner-{n}", at=int(time.time() * 1000))
            sqs.send_message(QueueUrl=url, MessageBody=body)
            sent = time.perf_counter()
            while attendee_id not in client.get(panel, headers={"HX-Request": "true"}).content.decode():
                if time.perf_counter() - sent > 30:
                    raise RuntimeError(f"joiner-{n} did not reach the roster within 30 s")
                time.sleep(0.02)
            latencies.append(time.perf_counter() - sent)
            time.sleep(0.2)
    finally:
        stop.set()
        churner.join()
        consumer.terminate()
        consumer.wait()
    return latencies


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def wait_for(endpoint: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            SandboxControl(endpoint).health()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"The sandbox at {endpoint} did not start.")


def queries(client: Client, path: str, htmx: bool = False) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers={"HX-Request": "true"} if htmx else {})
    assert response.status_code == 200, (path, response.status_code)
    return len(captured)


def main() -> None:
    call_command("migrate", verbosity=0)
    port = next(p for p in range(18800, 18900) if port_free(p))
    sandbox = subprocess.Popen([COMMAND, "--port", str(port)], cwd=Path(__file__).resolve().parents[1])
    endpoint = f"http://127.0.0.1:{port}"
    wait_for(endpoint)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName="bench-meeting-events")["QueueUrl"]
    meeting = Meeting.objects.create(
        meeting_id=str(uuid.uuid4()), external_meeting_id="bench", media_region="us-east-1", status="active"
    )
    bodies = churn(meeting, options.events)
    began = time.perf_counter()
    outcomes = [
        outcome
        for start in range(0, len(bodies), RECEIVE_MAX)
        for outcome in events_dispatch([(body, "") for body in bodies[start : start + RECEIVE_MAX]]).outcomes
    ]
    elapsed = time.perf_counter() - began
    connected = Attendee.objects.filter(meeting=meeting, state=Attendee.State.CONNECTED).count()
    print(f"{options.database}: applied {len(bodies)} events ({outcomes.count('duplicate')} duplicates) in "
          f"{elapsed:.2f} s: {len(bodies) / elapsed:.0f} events/s; {connected} of {ATTENDEES} connected")  # fmt: skip

    queued = churn(meeting, options.queued)
    for start in range(0, len(queued), 10):
        entries = [{"Id": str(n), "MessageBody": b} for n, b in enumerate(queued[start : start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    taken = 0
    began = time.perf_counter()
    while True:
        counts = events_consume(url=url, wait_seconds=0)
        if not any(counts.values()):
            break
        taken += sum(counts.values())
    elapsed = time.perf_counter() - began
    print(f"{options.database}: through the sandbox's SQS queue (moto), {taken} events in {elapsed:.2f} s: "
          f"{taken / elapsed:.0f} events/s, receive and delete included")  # fmt: skip

    user = UserFactory(username="bench-viewer", role=Role.VIEWER)
    client = Client()
    client.login(username=user.get_username(), password=PASSWORD)
    few = queries(client, "/meetings/")
    Meeting.objects.bulk_create(
        Meeting(
            meeting_id=str(uuid.uuid4()),
            external_meeting_id=f"m-{n}",
            media_region="us-east-1",
            status="active",
            tags={"n": str(n % 9)},
        )
        for n in range(10_000)
    )
    latencies = roster_latency(sqs, url, meeting, client)
    print(f"{options.database}: roster latency, AttendeeJoined in the queue to the people panel showing them, "
          f"{len(latencies)} joins with {options.churn} other events/s: p50 {percentile(latencies, 0.5):.2f} s, "
          f"p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s + the 1 s poll")  # fmt: skip
    many = queries(client, "/meetings/")
    detail = queries(client, f"/meetings/{meeting.pk}/")
    people = f"/meetings/{meeting.pk}/?panel=people"
    people_queries = queries(client, people, htmx=True)
    renders = []
    for _ in range(20):
        started = time.perf_counter()
        client.get(people, headers={"HX-Request": "true"})
        renders.append(time.perf_counter() - started)
    print(f"queries: list {few} (1 meeting) / {many} (10,001 meetings); detail {detail} and people panel "
          f"{people_queries} with {ATTENDEES} attendees; the people panel (roster, attendees table, counts) answers in "
          f"p50 {percentile(renders, 0.5) * 1000:.0f} ms, max {max(renders) * 1000:.0f} ms")  # fmt: skip
    sandbox.terminate()
    sandbox.wait()


if __name__ == "__main__":
    try:
        main()
    finally:
        if options.database == "postgres":
            connections.close_all()
            with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
