"""Rate limits answer each service's throttling error; injected faults behave as AWS's failures do."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError


def _code(raised) -> str:
    return raised.value.response["Error"]["Code"]


def test_stage_apis_are_limited_to_5_per_second(boto_client):
    ivs = boto_client("ivs-realtime")
    outcomes = []
    for _ in range(8):
        try:
            ivs.list_stages()
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append((error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert outcomes.count("ok") in (5, 6)  # one token may refill while the loop runs
    assert set(outcomes) - {"ok"} == {("ThrottlingException", 429)}
    time.sleep(1)
    ivs.list_stages()


def test_the_quotas_page_counts_the_requests_it_refused(boto_client, sandbox):
    ivs = boto_client("ivs-realtime")
    refused = 0
    for _ in range(8):
        try:
            ivs.list_stages()
        except ClientError:
            refused += 1
    assert sandbox.quotas()["throttled"] == {"ivs-realtime:ListStages": refused}
    sandbox.reset()
    assert sandbox.quotas()["throttled"] == {}


def test_participant_tokens_have_their_own_50_per_second_quota(boto_client):
    ivs = boto_client("ivs-realtime")
    arn = ivs.create_stage(name="q")["stage"]["arn"]
    for _ in range(20):
        ivs.create_participant_token(stageArn=arn)


@pytest.mark.parametrize(
    ("service", "operation", "kwargs", "code"),
    [
        (
            "chime-sdk-meetings",
            "get_meeting",
            {"MeetingId": "00000000-0000-4000-8000-000000000000"},
            "ThrottlingException",
        ),
        ("chime-sdk-media-pipelines", "list_media_pipelines", {}, "ThrottledClientException"),
        ("kinesisvideo", "list_signaling_channels", {}, "ClientLimitExceededException"),
    ],
)
def test_throttling_uses_the_operations_own_error(boto_client, sandbox, service, operation, kwargs, code):
    sandbox.quotas(rates={service: {"*": 1}})
    made = boto_client(service)
    codes = []
    for _ in range(3):
        try:
            getattr(made, operation)(**kwargs)
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
    assert code in codes


def test_quotas_can_be_switched_off(boto_client, sandbox):
    sandbox.quotas(enabled=False)
    ivs = boto_client("ivs-realtime")
    for _ in range(12):
        ivs.list_stages()


def test_injected_throttling_is_retried_by_the_sdk(boto_client, sandbox):
    sandbox.inject_fault("ivs-realtime:ListStages", throttle=1.0, remaining=2)
    ivs = boto_client("ivs-realtime", attempts=3)
    response = ivs.list_stages()
    assert response["ResponseMetadata"]["RetryAttempts"] == 2


def test_injected_server_errors_use_the_services_fault_codes(boto_client, sandbox):
    sandbox.inject_fault("chime-sdk-meetings:*", error=1.0)
    with pytest.raises(ClientError) as raised:
        boto_client("chime-sdk-meetings").list_attendees(MeetingId="00000000-0000-4000-8000-000000000000")
    assert _code(raised) == "ServiceFailureException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    sandbox.inject_fault("ivs-realtime:ListStages", error=1.0)
    with pytest.raises(ClientError) as raised:
        boto_client("ivs-realtime").list_stages()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_injected_latency(boto_client, sandbox):
    sandbox.inject_fault("kinesisvideo:ListSignalingChannels", latency_ms=300)
    started = time.monotonic()
    boto_client("kinesisvideo").list_signaling_channels()
    assert time.monotonic() - started >= 0.3


def test_dropped_connections_are_retried_by_the_sdk(boto_client, sandbox):
    sandbox.inject_fault("ivs-realtime:ListStages", drop=1.0, remaining=1)
    response = boto_client("ivs-realtime", attempts=3).list_stages()
    assert response["ResponseMetadata"]["RetryAttempts"] >= 1
    assert sandbox._call("GET", "faults")["ivs-realtime:ListStages"]["remaining"] == 0


def test_faults_can_be_listed_and_cleared(sandbox):
    sandbox.inject_fault("*", latency_ms=5)
    assert sandbox._call("GET", "faults")["*"]["latency_ms"] == 5
    sandbox.clear_faults()
    assert sandbox._call("GET", "faults") == {}
