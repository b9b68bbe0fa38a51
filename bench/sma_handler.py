"""Server time of the SMA handler (/pstn/sma/) per invocation: the p99 must stay within 50 ms.

    .venv/bin/python bench/sma_handler.py [--calls 200] [--hostile 2000]

Every request goes through Django's whole stack in this process (middleware, signature check, rate limit, replay
guard, the handler, the call's row and timeline), on PostgreSQL (a throwaway database on BENCH_POSTGRES), with the
sandbox as a process of its own (port 8300-8399), as AWS is to the portal. Each call dials in as a caller would:
NEW_INBOUND_CALL, a wrong PIN (counted against the calling and the dial-in number), the right PIN (the caller's
attendee is created in the request: CreateAttendee through an operation run at once, against the sandbox),
ACTION_SUCCESSFUL of JoinChimeMeeting, *6 (mute), HANGUP (the attendee's removal is queued). Calls start at most 6
a second, so CreateAttendee stays under its quota (10/s) and the shared rate limiter never makes a join wait. Then
`--hostile` signed events built to break it (random types, fields missing or of the wrong type). The process starts
as the web process does (`portal.wsgi.web_process_ready`: every view imported, the AWS clients opened, then the heap
frozen for the garbage collector). A few warm-up calls are left out of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.harness import bench_estate, percentile, process_stop
from rtc_sandbox.testing import COMMAND

arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
arguments.add_argument("--calls", type=int, default=200)
arguments.add_argument("--hostile", type=int, default=2000)
arguments.add_argument("--warmup", type=int, default=5)
options = arguments.parse_args()
SECRET = "bench-secret"
os.environ.update(SMA_HANDLER_SECRET=SECRET, SMA_HANDLER_RATE_PER_SECOND="100000", ALLOWED_HOSTS="testserver")
# Every call's wrong PIN is counted (under its rows' locks) as any would be, from the one caller: limits no bench run
# reaches, so each call goes on to join.
os.environ.update(PSTN_WRONG_PINS_PER_CALLER="1000000", PSTN_WRONG_PINS_PER_DIAL_IN="1000000")
CALL_SPACING_SECONDS = 1 / 6
TARGET_MS = 50.0


def invocation(kind: str, transaction: str, sequence: int, *, action=None, attributes=None, legs=2) -> dict:
    participants = [
        {
            "CallId": f"{transaction}-a",
            "ParticipantTag": "LEG-A",
            "To": "+12065550100",
            "From": "+14155550123",
            "Direction": "Inbound",
            "Status": "Connected",
            "StartTimeInMilliseconds": "1",
        }
    ]
    if legs == 2:
        participants.append({**participants[0], "CallId": f"{transaction}-b", "ParticipantTag": "LEG-B"})
    details = {
        "TransactionId": transaction,
        "AwsAccountId": "123456789012",
        "AwsRegion": "us-east-1",
        "SipMediaApplicationId": "bench-sma",
        "SipRuleId": "bench-rule",
        "Participants": participants,
    }
    if attributes:
        details["TransactionAttributes"] = attributes
    event = {"SchemaVersion": "1.0", "Sequence": sequence, "InvocationEventType": kind, "CallDetails": details}
    if action:
        event["ActionData"] = action
    return event


def hostile_event(rng: random.Random) -> object:
    junk = [None, 7, "x" * rng.randint(0, 300), [], {}, {"a": [1, {"b": None}]}, True, -1.5]
    kinds = [
        "NEW_INBOUND_CALL",
        "ACTION_SUCCESSFUL",
        "ACTION_FAILED",
        "DIGITS_RECEIVED",
        "HANGUP",
        "CALL_ANSWERED",
        "CALL_UPDATE_REQUESTED",
        "NEW_OUTBOUND_CALL",
        "INVALID_LAMBDA_RESPONSE",
        "NOPE",
        rng.choice(junk),
    ]
    event = invocation(
        rng.choice(kinds),
        rng.choice([str(uuid.uuid4()), "", "t" * 80]),
        rng.randint(-5, 10**12),
        action={
            "Type": rng.choice(["SpeakAndGetDigits", "JoinChimeMeeting", "ReceiveDigits", rng.choice(junk)]),
            "ReceivedDigits": rng.choice(["123456", "*6", "", "9" * 40, rng.choice(junk)]),
            "Parameters": rng.choice([{"Arguments": {"Operation": "Hangup", "meeting": "1"}}, rng.choice(junk)]),
        },
        attributes=rng.choice(
            [
                {"stage": "pin", "pin_tries": "99"},
                {"stage": "in_meeting", "meeting_id": "m", "attendee_id": "a"},
                {"stage": rng.choice(junk)},
            ]
        ),
    )
    for key in rng.sample(["SchemaVersion", "Sequence", "InvocationEventType", "ActionData", "CallDetails"], 2):
        if rng.random() < 0.3:
            event[key] = rng.choice(junk)
    return event if rng.random() < 0.95 else rng.choice(junk)


def free_port() -> int:
    for port in range(8300, 8400):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("No free port in 8300-8399 for the sandbox.")


def sandbox_process(estate: Any) -> str:
    """The sandbox as a process of its own, as AWS is to the portal: its work does not count as the handler's."""
    port = free_port()
    process = subprocess.Popen(
        [COMMAND, "--port", str(port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    estate.stack.callback(process_stop, process)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                os.environ["AWS_ENDPOINT_URL"] = url
                return url
        time.sleep(0.2)
    raise RuntimeError("The sandbox did not start.")


def main() -> None:
    with bench_estate("sma") as estate:
        from django.test import Client

        from portal.wsgi import web_process_ready

        web_process_ready()  # the web worker's start-up: views imported, AWS clients opened, the heap frozen
        from portal.meetings.models import Meeting
        from portal.pstn.models import CallInvocation, Lifecycle, PhoneCall, SipMediaApplication
        from portal.pstn.services import dial_in_pin_for
        from portal.pstn.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
        from tests.conftest import sandbox_boto

        chime = sandbox_boto(sandbox_process(estate), "chime-sdk-meetings")
        made = chime.create_meeting(
            ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="bench"
        )["Meeting"]
        meeting = Meeting.objects.create(
            meeting_id=made["MeetingId"],
            external_meeting_id="bench",
            media_region="us-east-1",
            status=Meeting.Status.ACTIVE,
        )
        SipMediaApplication.objects.create(
            name="bench",
            aws_region="us-east-1",
            sma_id="bench-sma",
            lambda_arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
            status=Lifecycle.ACTIVE,
        )
        pin = dial_in_pin_for(meeting=meeting).pin
        wrong = "000000" if pin != "000000" else "111111"
        client = Client()
        timings: dict[str, list[float]] = {}
        invalid = 0

        signatures: set[str] = set()
        replays = 0

        def post(event: object, label: str, record: bool) -> dict:
            nonlocal invalid, replays
            body = json.dumps(event).encode()
            signed = signed_headers(SECRET, body)
            headers = {
                "HTTP_X_SMA_TIMESTAMP": signed[TIMESTAMP_HEADER],
                "HTTP_X_SMA_SIGNATURE": signed[SIGNATURE_HEADER],
            }
            # The hostile stream repeats a few bodies (`null`, `7`): one sent again within its second carries the same
            # signature, a replay, which must be refused.
            replay = signed[SIGNATURE_HEADER] in signatures
            signatures.add(signed[SIGNATURE_HEADER])
            started = time.perf_counter()
            response = client.post("/pstn/sma/", body, content_type="application/json", **headers)
            elapsed = (time.perf_counter() - started) * 1000
            answer = response.json()
            if replay:
                replays += 1
                invalid += response.status_code != 403
            elif (
                response.status_code != 200
                or not isinstance(answer.get("Actions"), list)
                or len(answer["Actions"]) > 10
            ):
                invalid += 1
            if record:
                timings.setdefault(label, []).append(elapsed)
            return answer

        def one_call(record: bool) -> None:
            transaction = str(uuid.uuid4())
            answer = post(invocation("NEW_INBOUND_CALL", transaction, 1, legs=1), "NEW_INBOUND_CALL", record)
            attributes = answer.get("TransactionAttributes")
            digits = {"Type": "SpeakAndGetDigits", "ReceivedDigits": wrong}
            answer = post(
                invocation("ACTION_SUCCESSFUL", transaction, 2, action=digits, attributes=attributes, legs=1),
                "wrong PIN",
                record,
            )
            attributes = answer.get("TransactionAttributes")
            digits = {"Type": "SpeakAndGetDigits", "ReceivedDigits": pin}
            answer = post(
                invocation("ACTION_SUCCESSFUL", transaction, 3, action=digits, attributes=attributes, legs=1),
                "right PIN (CreateAttendee)",
                record,
            )
            attributes = answer.get("TransactionAttributes")
            joined = {"Type": "JoinChimeMeeting", "Parameters": {}}
            answer = post(
                invocation("ACTION_SUCCESSFUL", transaction, 4, action=joined, attributes=attributes),
                "JoinChimeMeeting done",
                record,
            )
            attributes = answer.get("TransactionAttributes")
            keys = {"Type": "ReceiveDigits", "ReceivedDigits": "*6"}
            post(invocation("DIGITS_RECEIVED", transaction, 5, action=keys, attributes=attributes), "*6", record)
            hangup = {"Type": "Hangup", "Parameters": {"ParticipantTag": "LEG-A", "SipResponseCode": "0"}}
            post(invocation("HANGUP", transaction, 6, action=hangup, attributes=attributes), "HANGUP", record)

        for _ in range(options.warmup):
            one_call(record=False)
        for _ in range(options.calls):
            started = time.monotonic()
            one_call(record=True)
            time.sleep(max(0.0, CALL_SPACING_SECONDS - (time.monotonic() - started)))
        joined_calls = PhoneCall.objects.filter(state=PhoneCall.State.ENDED).exclude(attendee_id="").count()
        rng = random.Random(13)
        for _ in range(options.hostile):
            post(hostile_event(rng), "hostile", record=True)

        print(
            f"SMA handler server time, {options.calls} dial-in calls ({joined_calls} joined and hung up) and "
            f"{options.hostile} hostile events, PostgreSQL + sandbox, in-process Django client"
        )
        print(f"{'invocation':<28} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        everything: list[float] = []
        for label, values in timings.items():
            everything += values
            print(
                f"{label:<28} {len(values):>6} {percentile(values, 0.5):>8.2f} {percentile(values, 0.95):>8.2f} "
                f"{percentile(values, 0.99):>8.2f} {max(values):>8.2f}"
            )
        p99 = percentile(everything, 0.99)
        print(
            f"{'all':<28} {len(everything):>6} {percentile(everything, 0.5):>8.2f} "
            f"{percentile(everything, 0.95):>8.2f} {p99:>8.2f} {max(everything):>8.2f}"
        )
        recorded = [row.server_ms for row in CallInvocation.objects.all()]
        print(
            f"handler's own figure (recorded on each invocation, before the response is written): "
            f"p99 {percentile(recorded, 0.99):.2f} ms over {len(recorded)}"
        )
        print(f"answers that were not a valid action list (or, to a replay, not 403): {invalid}")
        print(f"replays refused (a body the hostile stream repeated within its second): {replays}")
        print(
            f"p99 {p99:.2f} ms {'≤' if p99 <= TARGET_MS else '>'} {TARGET_MS:.0f} ms: "
            f"{'PASS' if p99 <= TARGET_MS and not invalid else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
