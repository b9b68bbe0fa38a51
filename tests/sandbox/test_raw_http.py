"""What SDKs hide: signatures, malformed bodies, unknown paths and methods, the control API's own errors."""

from __future__ import annotations

import json
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def _send(url: str, method: str = "POST", body: bytes = b"", headers: dict[str, str] | None = None):
    request = Request(url, data=body or None, method=method, headers=headers or {})
    try:
        with urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _signed(
    endpoint: str,
    path: str,
    *,
    service: str = "ivs",
    region: str = "us-east-1",
    method: str = "POST",
    body: bytes = b"{}",
):
    headers = {"Content-Type": "application/json"}
    request = AWSRequest(method=method, url=f"{endpoint}{path}", data=body, headers=headers)
    SigV4Auth(Credentials("testing", "testing"), service, region).add_auth(request)
    return _send(request.url, method, body, dict(request.headers.items()))


def test_unsigned_requests_are_refused(sandbox):
    status, headers, body = _send(f"{sandbox.endpoint}/ListStages", body=b"{}")
    assert status == 403
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert json.loads(body)["message"] == "Missing Authentication Token"


def test_malformed_signatures_are_refused(sandbox):
    for authorization in ("AWS4-HMAC-SHA256 Credential=x", "Basic dXNlcjpwYXNz", "AWS4-HMAC-SHA256"):
        status, headers, _ = _send(
            f"{sandbox.endpoint}/ListStages", body=b"{}", headers={"Authorization": authorization, "X-Amz-Date": "x"}
        )
        assert status == 403
        assert headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


def test_a_signature_needs_a_date(sandbox):
    request = AWSRequest(method="POST", url=f"{sandbox.endpoint}/ListStages", data=b"{}")
    SigV4Auth(Credentials("testing", "testing"), "ivs", "us-east-1").add_auth(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "x-amz-date"}
    status, response_headers, _ = _send(request.url, "POST", b"{}", headers)
    assert (status, response_headers["x-amzn-ErrorType"]) == (403, "IncompleteSignatureException")


def test_a_signed_request_works_without_an_sdk(sandbox):
    status, headers, body = _signed(sandbox.endpoint, "/CreateStage", body=b'{"name": "raw"}')
    assert status == 200
    assert headers["x-amzn-RequestId"]
    assert json.loads(body)["stage"]["name"] == "raw"


def test_the_region_comes_from_the_credential_scope(sandbox):
    _, _, body = _signed(sandbox.endpoint, "/CreateStage", region="eu-west-1", body=b'{"name": "dublin"}')
    assert json.loads(body)["stage"]["arn"].startswith("arn:aws:ivs:eu-west-1:123456789012:stage/")
    _, _, listed = _signed(sandbox.endpoint, "/ListStages", region="us-east-1")
    assert json.loads(listed)["stages"] == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_malformed_json_is_the_services_validation_error(sandbox, body):
    status, headers, payload = _signed(sandbox.endpoint, "/CreateStage", body=body)
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(payload)["message"]


def test_wrong_types_are_named_in_the_error(sandbox):
    status, headers, payload = _signed(sandbox.endpoint, "/CreateStage", body=b'{"name": 7, "tags": []}')
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    message = json.loads(payload)["message"]
    assert message.startswith("2 validation errors detected")
    assert "'name'" in message
    assert "'tags'" in message


def test_unknown_paths_and_methods_are_unknown_operations(sandbox):
    for method, path in (("POST", "/NoSuchOperation"), ("GET", "/CreateStage"), ("DELETE", "/ListStages")):
        status, headers, _ = _signed(sandbox.endpoint, path, method=method)
        assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException"), (method, path)


def test_services_the_sandbox_does_not_offer_are_unknown(sandbox):
    status, headers, _ = _signed(sandbox.endpoint, "/", service="dynamodb")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")


def test_chime_tag_routes_are_told_apart_by_the_arn(boto_client, sandbox):
    chime = boto_client("chime-sdk-meetings")
    meeting = chime.create_meeting(ClientRequestToken="t-1", MediaRegion="us-east-1", ExternalMeetingId="tags")
    arn = meeting["Meeting"]["MeetingArn"]
    assert boto_client("chime-sdk-media-pipelines").list_tags_for_resource(ResourceARN=arn)["Tags"] == []


def test_the_control_api_answers_its_own_errors(sandbox):
    assert _send(f"{sandbox.endpoint}/_sandbox/nothing", "GET")[0] == 404
    assert _send(f"{sandbox.endpoint}/_sandbox/reset", "GET")[0] == 405
    status, _, body = _send(f"{sandbox.endpoint}/_sandbox/clock", "POST", b"{oops")
    assert status == 400
    assert json.loads(body)["error"] == "InvalidRequest"
    status, _, body = _send(f"{sandbox.endpoint}/_sandbox/clock", "POST", b'{"advance": -5}')
    assert status == 400
    status, _, body = _send(f"{sandbox.endpoint}/_sandbox/faults", "POST", b'{"operation": "*", "throttle": 2}')
    assert status == 400


def test_state_dumps_as_json(boto_client, sandbox):
    boto_client("kinesisvideo").create_signaling_channel(ChannelName="dumped")
    state = sandbox.state()
    assert state["account"] == "123456789012"
    assert [c["name"] for c in state["state"]["kvs.channels"].values()] == ["dumped"]
