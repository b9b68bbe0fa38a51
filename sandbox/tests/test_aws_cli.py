"""A short pass of AWS CLI v1 (its own, newer botocore models) over the sandbox: create, list page by page, get and
delete in each simulated service, with `--output json`, and a documented error read from the CLI's message."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from second_clients import aws_cli

from rtc_sandbox.client import SandboxControl

DRIVER = Path(__file__).with_name("aws_cli_driver.py")
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:cli-pass"
# AWS CLI v1 exits 255 when "the command failed: there were errors thrown by either the CLI or the service"
# (https://docs.aws.amazon.com/cli/v1/userguide/cli-usage-returncodes.html).
CLI_FAILED = 255

Aws = Callable[..., Any]


@dataclass(frozen=True)
class CliResult:
    rc: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def cli_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    """AWS CLI v1 in .venv-cli (sandbox/tests/aws_cli_driver.py), with dummy credentials and nothing from ~/.aws."""
    python = aws_cli()
    home = tmp_path_factory.mktemp("aws-cli")
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
    }
    driver = subprocess.Popen(
        [str(python), str(DRIVER)], env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    yield driver
    assert driver.stdin is not None
    driver.stdin.close()
    driver.wait(timeout=30)


@pytest.fixture
def cli(cli_driver: subprocess.Popen[str], sandbox: SandboxControl) -> Callable[..., CliResult]:
    """Run `aws --endpoint-url SANDBOX --output json ARGS`."""
    sandbox.quotas(enabled=False)  # the rate limits have their own tests

    def run(*args: str) -> CliResult:
        assert cli_driver.stdin is not None
        assert cli_driver.stdout is not None
        cli_driver.stdin.write(json.dumps(["--endpoint-url", sandbox.endpoint, "--output", "json", *args]) + "\n")
        cli_driver.stdin.flush()
        return CliResult(**json.loads(cli_driver.stdout.readline()))

    return run


@pytest.fixture
def aws(cli) -> Aws:
    """The parsed JSON of a command that must succeed."""

    def run(*args: str) -> Any:
        result = cli(*args)
        assert result.rc == 0, f"aws {' '.join(args)}: {result.rc}\n{result.stderr}"
        return json.loads(result.stdout) if result.stdout.strip() else {}

    return run


@pytest.fixture
def aws_error(cli) -> Callable[..., str]:
    """The message of a command the service must refuse: `An error occurred (Code) when calling ...`."""

    def run(*args: str) -> str:
        result = cli(*args)
        assert result.rc == CLI_FAILED, f"aws {' '.join(args)}: {result.rc}\n{result.stdout}"
        return result.stderr

    return run


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_ivs_realtime_stages(aws, aws_error):
    created = aws(
        "ivs-realtime", "create-stage", "--name", "cli-stage", "--tags", "team=cli",
        "--participant-token-configurations", "userId=u-1,duration=60",
    )  # fmt: skip
    arn = created["stage"]["arn"]
    assert created["stage"]["tags"] == {"team": "cli"}
    assert created["participantTokens"][0]["userId"] == "u-1"
    assert created["participantTokens"][0]["duration"] == 60
    others = [aws("ivs-realtime", "create-stage", "--name", f"cli-{n}")["stage"]["arn"] for n in range(2)]
    # The CLI's model has no ListStages paginator: the pages are asked for by hand.
    first = aws("ivs-realtime", "list-stages", "--max-results", "2")
    second = aws("ivs-realtime", "list-stages", "--max-results", "2", "--next-token", first["nextToken"])
    assert len(first["stages"]) == 2
    assert "nextToken" not in second
    assert {stage["arn"] for stage in first["stages"] + second["stages"]} == {arn, *others}
    assert aws("ivs-realtime", "get-stage", "--arn", arn)["stage"]["name"] == "cli-stage"
    assert aws("ivs-realtime", "update-stage", "--arn", arn, "--name", "renamed")["stage"]["name"] == "renamed"
    aws("ivs-realtime", "delete-stage", "--arn", arn)
    assert "(ResourceNotFoundException)" in aws_error("ivs-realtime", "get-stage", "--arn", arn)


def test_chime_sdk_meetings_and_attendees(aws, aws_error):
    meeting = aws(
        "chime-sdk-meetings", "create-meeting", "--media-region", "us-east-1", "--external-meeting-id", "cli",
    )["Meeting"]  # fmt: skip
    meeting_id = meeting["MeetingId"]
    for user in ("person-1", "person-2", "person-3"):
        aws("chime-sdk-meetings", "create-attendee", "--meeting-id", meeting_id, "--external-user-id", user)
    # The CLI's model has no ListAttendees paginator either.
    first = aws("chime-sdk-meetings", "list-attendees", "--meeting-id", meeting_id, "--max-results", "2")
    second = aws(
        "chime-sdk-meetings", "list-attendees", "--meeting-id", meeting_id, "--max-results", "2",
        "--next-token", first["NextToken"],
    )  # fmt: skip
    assert [len(first["Attendees"]), len(second["Attendees"])] == [2, 1]
    users = {attendee["ExternalUserId"] for attendee in first["Attendees"] + second["Attendees"]}
    assert users == {"person-1", "person-2", "person-3"}
    assert aws("chime-sdk-meetings", "get-meeting", "--meeting-id", meeting_id)["Meeting"]["ExternalMeetingId"] == "cli"
    aws("chime-sdk-meetings", "delete-meeting", "--meeting-id", meeting_id)
    assert "(NotFoundException)" in aws_error("chime-sdk-meetings", "get-meeting", "--meeting-id", meeting_id)


def test_kinesis_video_signaling_channels(aws, aws_error, sandbox):
    prefix = _name("cli")
    arns = [
        aws("kinesisvideo", "create-signaling-channel", "--channel-name", f"{prefix}-{n}")["ChannelARN"]
        for n in range(3)
    ]
    condition = f"ComparisonOperator=BEGINS_WITH,ComparisonValue={prefix}"
    listed = aws("kinesisvideo", "list-signaling-channels", "--channel-name-condition", condition, "--page-size", "1")
    assert [channel["ChannelARN"] for channel in listed["ChannelInfoList"]] == arns
    one = aws("kinesisvideo", "list-signaling-channels", "--channel-name-condition", condition, "--max-items", "1")
    assert len(one["ChannelInfoList"]) == 1
    assert one["NextToken"]
    sandbox.advance(3)
    described = aws("kinesisvideo", "describe-signaling-channel", "--channel-arn", arns[0])["ChannelInfo"]
    assert described["ChannelStatus"] == "ACTIVE"
    ice = aws("kinesis-video-signaling", "get-ice-server-config", "--channel-arn", arns[0], "--client-id", "viewer")
    assert len(ice["IceServerList"]) == 2
    aws("kinesisvideo", "delete-signaling-channel", "--channel-arn", arns[0], "--current-version", described["Version"])
    sandbox.advance(3)
    message = aws_error("kinesisvideo", "describe-signaling-channel", "--channel-arn", arns[0])
    assert "(ResourceNotFoundException)" in message


def test_chime_sdk_media_capture_pipelines(aws, aws_error, sandbox):
    bucket = _name("cli-capture")
    aws("s3api", "create-bucket", "--bucket", bucket)
    meeting = aws(
        "chime-sdk-meetings", "create-meeting", "--media-region", "us-east-1", "--external-meeting-id", "cli",
    )["Meeting"]  # fmt: skip
    attendee = aws(
        "chime-sdk-meetings", "create-attendee", "--meeting-id", meeting["MeetingId"], "--external-user-id", "speaker"
    )["Attendee"]
    sandbox.meeting_join(attendee["JoinToken"])
    pipeline = aws(
        "chime-sdk-media-pipelines", "create-media-capture-pipeline", "--source-type", "ChimeSdkMeeting",
        "--source-arn", f"arn:aws:chime::123456789012:meeting:{meeting['MeetingId']}",
        "--sink-type", "S3Bucket", "--sink-arn", f"arn:aws:s3:::{bucket}",
    )["MediaCapturePipeline"]  # fmt: skip
    pipeline_id = pipeline["MediaPipelineId"]
    listed = aws("chime-sdk-media-pipelines", "list-media-capture-pipelines", "--max-results", "10")
    assert [item["MediaPipelineId"] for item in listed["MediaCapturePipelines"]] == [pipeline_id]
    got = aws("chime-sdk-media-pipelines", "get-media-capture-pipeline", "--media-pipeline-id", pipeline_id)
    assert got["MediaCapturePipeline"]["SinkArn"] == f"arn:aws:s3:::{bucket}"
    aws("chime-sdk-media-pipelines", "delete-media-capture-pipeline", "--media-pipeline-id", pipeline_id)
    missing = "00000000-0000-4000-8000-000000000000"
    message = aws_error("chime-sdk-media-pipelines", "get-media-capture-pipeline", "--media-pipeline-id", missing)
    assert "(NotFoundException)" in message


def test_chime_sdk_voice_sip_media_applications(aws, aws_error):
    ids = [
        aws(
            "chime-sdk-voice", "create-sip-media-application", "--aws-region", "us-east-1",
            "--name", _name("cli-sma"), "--endpoints", f"LambdaArn={LAMBDA}",
        )["SipMediaApplication"]["SipMediaApplicationId"]
        for _ in range(3)
    ]  # fmt: skip
    listed = aws("chime-sdk-voice", "list-sip-media-applications", "--page-size", "1")
    assert [sma["SipMediaApplicationId"] for sma in listed["SipMediaApplications"]] == ids
    one = aws("chime-sdk-voice", "list-sip-media-applications", "--max-items", "2")
    assert len(one["SipMediaApplications"]) == 2
    assert one["NextToken"]
    got = aws("chime-sdk-voice", "get-sip-media-application", "--sip-media-application-id", ids[0])
    assert got["SipMediaApplication"]["Endpoints"] == [{"LambdaArn": LAMBDA}]
    numbers = aws("chime-sdk-voice", "list-phone-numbers")["PhoneNumbers"]
    assert len(numbers) == 10
    aws("chime-sdk-voice", "delete-sip-media-application", "--sip-media-application-id", ids[0])
    message = aws_error("chime-sdk-voice", "get-sip-media-application", "--sip-media-application-id", ids[0])
    assert "(NotFoundException)" in message


def test_moto_services(aws, aws_error):
    queue = _name("cli-queue")
    url = aws("sqs", "create-queue", "--queue-name", queue)["QueueUrl"]
    assert url in aws("sqs", "list-queues", "--queue-name-prefix", queue)["QueueUrls"]
    assert aws("sts", "get-caller-identity")["Account"] == "123456789012"
    assert "(NoSuchBucket)" in aws_error("s3api", "list-objects-v2", "--bucket", _name("cli-no-bucket"))
