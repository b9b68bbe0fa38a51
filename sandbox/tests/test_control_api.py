"""The control API checks every body before it changes anything, answers 400 with what is wrong, and keeps working."""

from __future__ import annotations

import json
import math
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from botocore.exceptions import ClientError


def _post(sandbox, path: str, body: bytes) -> tuple[int, dict]:
    request = Request(f"{sandbox.endpoint}/_sandbox/{path}", data=body, method="POST")
    try:
        with urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b'{"operation": "*", "latency_ms": "abc"}', "'abc' at 'latency_ms'"),
        (b'{"operation": "*", "latency_ms": -5}', "'-5' at 'latency_ms'"),
        (b'{"operation": "*", "latency_ms": 1.5}', "'1.5' at 'latency_ms'"),
        (b'{"operation": "*", "throttle": "0.5"}', "'0.5' at 'throttle'"),
        (b'{"operation": "*", "drop": true}', "'bool' at 'drop'"),
        (b'{"operation": "*", "remaining": -1}', "'-1' at 'remaining'"),
        (b'{"operation": "*", "error": NaN}', "'nan' at 'error'"),
        (b'{"operation": "*", "throttle": 0.6, "error": 0.6}', "cannot be more than 1"),
        (b'{"operation": "ivs-realtime:NoSuchOperation", "error": 1}', "not 'ivs-realtime:NoSuchOperation'"),
        (b'{"operation": "dynamodb:*", "error": 1}', "not 'dynamodb:*'"),
        (b'{"operation": "*", "latncy_ms": 5}', "Unknown member 'latncy_ms'"),
    ],
)
def test_faults_that_make_no_sense_are_refused_and_nothing_changes(boto_client, sandbox, body, names):
    status, document = _post(sandbox, "faults", body)
    assert (status, document["error"]) == (400, "InvalidRequest")
    assert names in document["message"]
    assert sandbox._call("GET", "faults") == {}
    assert boto_client("ivs-realtime").list_stages()["stages"] == []


def test_a_fault_at_the_edges_is_kept(sandbox):
    body = b'{"operation": "ivs-realtime:ListStages", "latency_ms": 0, "throttle": 0.25, "error": 0.75, "remaining": 0}'
    status, document = _post(sandbox, "faults", body)
    assert status == 200
    assert document["ivs-realtime:ListStages"] == {
        "latency_ms": 0,
        "throttle": 0.25,
        "error": 0.75,
        "drop": 0.0,
        "remaining": 0,
    }


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b'{"advance": NaN}', "'nan' at 'advance'"),
        (b'{"advance": Infinity}', "'inf' at 'advance'"),
        (b'{"advance": 1e300}', "past 9000-01-01"),
        (b'{"advance": "60"}', "'60' at 'advance'"),
        (b'{"advance": -5}', "only moves forward"),
        (b'{"scale": NaN}', "'nan' at 'scale'"),
        (b'{"scale": 1e300}', "between 0 and 10000"),
        (b'{"scale": 2, "advance": -1}', "only moves forward"),
        (b'{"scale": -1, "advance": 60}', "between 0 and 10000"),
    ],
)
def test_the_clock_refuses_what_it_cannot_keep_and_stays_as_it_was(boto_client, sandbox, body, names):
    before = sandbox.clock()
    status, document = _post(sandbox, "clock", body)
    assert status == 400
    assert names in document["message"]
    after = sandbox.clock()
    assert math.isfinite(after["time"])
    assert after["scale"] == before["scale"] == 1.0
    assert 0 <= after["time"] - before["time"] < 5
    chime = boto_client("chime-sdk-meetings")  # a meeting's events carry the clock's time
    chime.create_meeting(ClientRequestToken="after", MediaRegion="us-east-1", ExternalMeetingId="after")


def test_the_clock_still_moves_within_bounds(sandbox):
    before = sandbox.clock()["time"]
    after = sandbox._call("POST", "clock", {"advance": 86_400, "scale": 60})
    assert after["scale"] == 60
    assert after["time"] - before >= 86_400


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b'{"rates": "x"}', "'x' at 'rates'"),
        (b'{"rates": {"ivs-realtime": 5}}', "'5' at 'rates.ivs-realtime'"),
        (b'{"rates": {"ivs-realtime": {"*": -1}}}', "'-1' at 'rates.ivs-realtime.*'"),
        (b'{"rates": {"ivs-realtime": {"*": "fast"}}}', "'fast' at 'rates.ivs-realtime.*'"),
        (b'{"rates": {"dynamodb": {"*": 5}}}', "'dynamodb' at 'rates.key'"),
        (b'{"rates": {"ivs-realtime": {"CreateTable": 5}}}', "no operation CreateTable"),
        (b'{"enabled": "no"}', "'no' at 'enabled'"),
        (b'{"enabled": false, "rates": "x"}', "'x' at 'rates'"),
    ],
)
def test_quotas_that_make_no_sense_are_refused_and_nothing_changes(sandbox, body, names):
    before = sandbox.quotas()
    status, document = _post(sandbox, "quotas", body)
    assert (status, document["error"]) == (400, "InvalidRequest")
    assert names in document["message"]
    assert sandbox.quotas() == before
    assert before["enabled"] is True


def test_a_rate_below_one_per_second_still_lets_a_request_through(boto_client, sandbox):
    sandbox.quotas(rates={"ivs-realtime": {"ListStages": 0.5}})
    ivs = boto_client("ivs-realtime")
    ivs.list_stages()
    with pytest.raises(ClientError) as raised:
        ivs.list_stages()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


@pytest.mark.parametrize(
    ("path", "body", "names"),
    [
        ("stages/join", b'{"token": ["a"]}', "'list' at 'token'"),
        ("stages/join", b'{"token": "t", "publish": "no"}', "'no' at 'publish'"),
        ("stages/join", b"{}", "Value null at 'token'"),
        ("stages/publish", b'{"stageArn": "a", "participantId": "p", "published": 1}', "'1' at 'published'"),
        ("stages/leave", b'{"stageArn": "a", "participantId": "p", "extra": 1}', "Unknown member 'extra'"),
        ("meetings/join", b'{"joinToken": {}}', "'dict' at 'joinToken'"),
        ("meetings/leave", b'{"meetingId": "m"}', "Value null at 'attendeeId'"),
        ("meetings/join", b'{"joinToken": "\\ud800"}', "Member must be valid Unicode text"),
        ("clock", b"[" * 100_000 + b"]" * 100_000, "Could not parse the request body as JSON"),
        ("clock", b'{"advance": ' + b"9" * 5_000 + b"}", "Could not parse the request body as JSON"),
        ("clock", b"[1]", "The body must be a JSON object."),
    ],
)
def test_bodies_of_the_wrong_shape_are_refused(sandbox, path, body, names):
    status, document = _post(sandbox, path, body)
    assert (status, document["error"]) == (400, "InvalidRequest")
    assert names in document["message"]


def test_a_get_never_changes_anything(sandbox):
    request = Request(f"{sandbox.endpoint}/_sandbox/faults", data=b'{"operation": "*", "error": 1}', method="GET")
    with urlopen(request, timeout=10) as response:
        assert json.loads(response.read()) == {}
