"""`rtc-sandbox --state FILE` keeps everything it holds across its own restarts: the simulated services, the
clock, the injected faults, and moto's S3 objects, SQS queues and messages and SNS topics, whether it was stopped
(SIGTERM) or killed (SIGKILL). A file it cannot read is set aside, and it starts empty."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from rtc_sandbox.client import SandboxControl
from rtc_sandbox.server import SandboxServer
from rtc_sandbox.testing import REGION, SandboxProcess, sandbox_boto

ACCOUNT = "444455556666"  # the in-process tests' own: moto's backends are the process's
IN_FLIGHT_SECONDS = 20  # the visibility timeout of the message received before the kill (the longest poll: 20 s)


def _saved(control: SandboxControl) -> None:
    """Until the state file holds every change answered so far (the sandbox writes within about 0.5 s)."""
    deadline = time.monotonic() + 30
    while not control.health()["stateFile"]["saved"]:
        assert time.monotonic() < deadline, "the sandbox did not write its state file"
        time.sleep(0.05)


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _everything(url: str, control: SandboxControl) -> dict[str, Any]:
    """A stage with a token, a channel still CREATING, a meeting with an attendee whose events wait in a queue, an S3
    object, a queue of three messages (one received and not deleted), an SNS topic feeding a queue, a fault."""
    control.set_clock_scale(0)  # the clock stands still: the channel stays CREATING, the meeting never idles out
    control.advance(1000)
    control.inject_fault("kinesisvideo:ListSignalingChannels", latency_ms=5)
    ivs, kvs, chime = (sandbox_boto(url, name) for name in ("ivs-realtime", "kinesisvideo", "chime-sdk-meetings"))
    s3, sqs, sns = (sandbox_boto(url, name) for name in ("s3", "sqs", "sns"))
    stage = ivs.create_stage(name="kept", participantTokenConfigurations=[{"userId": "u-1"}])
    channel = kvs.create_signaling_channel(ChannelName="kept")["ChannelARN"]
    events = sqs.create_queue(QueueName="meeting-events")["QueueUrl"]
    meeting = chime.create_meeting(
        ClientRequestToken=uuid.uuid4().hex,
        MediaRegion=REGION,
        ExternalMeetingId="kept",
        NotificationsConfiguration={"SqsQueueArn": _queue_arn(sqs, events)},
    )["Meeting"]
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="person-1")["Attendee"]
    s3.create_bucket(Bucket="kept-artifacts")
    body, metadata = b"\x00chunk\xff", {"meeting": meeting["MeetingId"]}
    s3.put_object(Bucket="kept-artifacts", Key="audio/0001.mp4", Body=body, ContentType="audio/mp4", Metadata=metadata)
    work = sqs.create_queue(
        QueueName="work", Attributes={"VisibilityTimeout": "7", "MessageRetentionPeriod": "3600"}, tags={"t": "v"}
    )["QueueUrl"]
    for text in ("first", "second", "third"):
        kind = {"kind": {"DataType": "String", "StringValue": text}}
        sqs.send_message(QueueUrl=work, MessageBody=text, MessageAttributes=kind)
    received = sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=1, VisibilityTimeout=IN_FLIGHT_SECONDS)
    received_at = time.time()
    topic = sns.create_topic(Name="kept-topic")["TopicArn"]
    fed = sqs.create_queue(QueueName="fed-by-topic")["QueueUrl"]
    raw = {"RawMessageDelivery": "true"}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=_queue_arn(sqs, fed), Attributes=raw)
    return {
        "stage": stage["stage"]["arn"],
        "token": stage["participantTokens"][0]["token"],
        "channel": kvs.describe_signaling_channel(ChannelARN=channel)["ChannelInfo"],
        "meeting": meeting,
        "attendee": attendee,
        "events": events,
        "event_count": sqs.get_queue_attributes(QueueUrl=events, AttributeNames=["ApproximateNumberOfMessages"]),
        "work": work,
        "in_flight": received["Messages"][0],
        "received_at": received_at,
        "topic": topic,
        "fed": fed,
        "clock": control.clock()["time"],
    }


def test_everything_survives_a_sigkill(tmp_path):
    with SandboxProcess(tmp_path, state=tmp_path / "sandbox-state.json") as sandbox:
        control = SandboxControl(sandbox.start().url)
        before = _everything(sandbox.url, control)
        _saved(control)
        assert sandbox.stop(signal.SIGKILL) == -signal.SIGKILL

        sandbox.start()
        url = sandbox.url
        ivs, kvs, chime = (sandbox_boto(url, name) for name in ("ivs-realtime", "kinesisvideo", "chime-sdk-meetings"))
        s3, sqs, sns = (sandbox_boto(url, name) for name in ("s3", "sqs", "sns"))

        assert control.clock()["time"] == before["clock"]  # where it stood, still standing (scale 0)
        fault = {"latency_ms": 5, "throttle": 0.0, "error": 0.0, "drop": 0.0, "remaining": None}
        assert control.faults() == {"kinesisvideo:ListSignalingChannels": fault}
        assert ivs.get_stage(arn=before["stage"])["stage"]["name"] == "kept"
        assert control.stage_join(before["token"])["stageArn"] == before["stage"]  # the token issued is still good
        channel_arn = before["channel"]["ChannelARN"]
        assert kvs.describe_signaling_channel(ChannelARN=channel_arn)["ChannelInfo"] == before["channel"]
        control.advance(5)  # the channel's pending transition is still due
        assert kvs.describe_signaling_channel(ChannelARN=channel_arn)["ChannelInfo"]["ChannelStatus"] == "ACTIVE"
        meeting_id = before["meeting"]["MeetingId"]
        assert chime.get_meeting(MeetingId=meeting_id)["Meeting"] == before["meeting"]
        attendee = chime.get_attendee(MeetingId=meeting_id, AttendeeId=before["attendee"]["AttendeeId"])["Attendee"]
        assert attendee["ExternalUserId"] == "person-1"

        kept = s3.get_object(Bucket="kept-artifacts", Key="audio/0001.mp4")
        body = s3.raw_bodies[-1][2]  # the test client keeps (and so consumes) every raw body
        assert (body, kept["ContentType"], kept["Metadata"]) == (b"\x00chunk\xff", "audio/mp4", {"meeting": meeting_id})

        assert sqs.get_queue_url(QueueName="work")["QueueUrl"] == before["work"]
        attributes = sqs.get_queue_attributes(QueueUrl=before["work"], AttributeNames=["All"])["Attributes"]
        assert (attributes["VisibilityTimeout"], attributes["MessageRetentionPeriod"]) == ("7", "3600")
        assert sqs.list_queue_tags(QueueUrl=before["work"])["Tags"] == {"t": "v"}
        waiting = sqs.receive_message(
            QueueUrl=before["work"], MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        )["Messages"]
        assert sorted(m["Body"] for m in waiting) == ["second", "third"]  # the first one is still in flight
        assert [m["MessageAttributes"]["kind"]["StringValue"] for m in waiting] == [m["Body"] for m in waiting]
        back = sqs.receive_message(
            QueueUrl=before["work"], WaitTimeSeconds=IN_FLIGHT_SECONDS, AttributeNames=["ApproximateReceiveCount"]
        )["Messages"]
        assert [(m["MessageId"], m["Attributes"]["ApproximateReceiveCount"]) for m in back] == [
            (before["in_flight"]["MessageId"], "2")
        ]
        assert time.time() >= before["received_at"] + IN_FLIGHT_SECONDS - 1  # back after its visibility timeout
        sqs.delete_message(QueueUrl=before["work"], ReceiptHandle=before["in_flight"]["ReceiptHandle"])  # still good
        counts = sqs.get_queue_attributes(QueueUrl=before["work"], AttributeNames=["All"])["Attributes"]
        assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("0", "2")

        count = before["event_count"]["Attributes"]["ApproximateNumberOfMessages"]
        events = sqs.receive_message(QueueUrl=before["events"], MaxNumberOfMessages=10)["Messages"]
        assert int(count) >= 1
        assert len(events) == int(count)
        assert json.loads(events[-1]["Body"])["detail"]["meetingId"] == meeting_id

        assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [before["topic"]]
        sns.publish(TopicArn=before["topic"], Message="still wired")
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=before["fed"])["Messages"]] == ["still wired"]


def test_a_sigterm_saves_what_changed_just_before(tmp_path):
    with SandboxProcess(tmp_path, state=tmp_path / "sandbox-state.json") as sandbox:
        s3 = sandbox_boto(sandbox.start().url, "s3")
        s3.create_bucket(Bucket="last-moment")
        s3.put_object(Bucket="last-moment", Key="k", Body=b"written just before the stop")
        assert sandbox.stop(signal.SIGTERM) == 0

        sandbox.start()
        s3.get_object(Bucket="last-moment", Key="k")
        assert s3.raw_bodies[-1][2] == b"written just before the stop"


NOT_A_PICKLE = {
    "account": ACCOUNT,
    "state": "gAV9lC4=",  # an empty dict, pickled
    "clock": {"time": 1, "at": 1, "scale": 1},
    "moto": dict.fromkeys(["s3", "sns", "sqs", "sts"], "bm90IGEgcGlja2xl"),  # base64 of "not a pickle"
}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"account": "444455556666", "state": {', "JSONDecodeError"),
        (b"\xff\xfe not json", "UnicodeDecodeError"),
        (b"[]", "not a JSON object"),
        (json.dumps(NOT_A_PICKLE).encode(), "UnpicklingError"),
        (json.dumps({**NOT_A_PICKLE, "account": "123456789012"}).encode(), "account '123456789012'"),
    ],
    ids=["half-written", "not-utf8", "not-an-object", "moto-not-a-pickle", "another-account"],
)
def test_a_corrupt_state_file_is_set_aside_and_the_sandbox_starts_empty(tmp_path, caplog, content, reason):
    state = tmp_path / "sandbox-state.json"
    state.write_bytes(content)
    server = SandboxServer("127.0.0.1", 0, account=ACCOUNT, state_file=state).start()
    try:
        control = SandboxControl(server.url)
        assert control.health()["ok"] is True
        assert [name for name, table in control.state()["state"].items() if table] == []
        assert (tmp_path / "sandbox-state.json.corrupt").read_bytes() == content
        assert reason in caplog.text
        assert "kept as" in caplog.text
        assert "starts empty" in caplog.text
        arn = sandbox_boto(server.url, "kinesisvideo").create_signaling_channel(ChannelName="fresh")["ChannelARN"]
    finally:
        server.stop()
    again = SandboxServer("127.0.0.1", 0, account=ACCOUNT, state_file=state).start()
    try:
        assert list(SandboxControl(again.url).state()["state"]["kvs.channels"]) == [arn]  # a good file again
    finally:
        again.stop()


def test_a_state_path_that_cannot_be_read_is_set_aside_too(tmp_path, caplog):
    state = tmp_path / "sandbox-state.json"
    state.mkdir()  # a directory where the file should be: it can be neither read nor replaced
    server = SandboxServer("127.0.0.1", 0, account=ACCOUNT, state_file=state).start()
    try:
        control = SandboxControl(server.url)
        assert control.health()["ok"] is True
        assert Path(f"{state}.corrupt").is_dir()
        assert "starts empty" in caplog.text
    finally:
        server.stop()
