"""What SDKs hide: signatures, malformed bodies, unknown paths and methods, the control API's own errors."""

from __future__ import annotations

import json
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError


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


# --- hostile input: the 4xx AWS answers, never a 500 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": ' + b"9" * 5_000 + b"}",  # more digits than Python converts to an int
        b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # deeper than the recursion limit
    ],
    ids=["integer-of-5000-digits", "nested-100000-deep"],
)
def test_json_python_cannot_read_is_the_services_validation_error(sandbox, body):
    status, headers, payload = _signed(sandbox.endpoint, "/CreateStage", body=body)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert json.loads(payload)["message"].startswith("1 validation error detected: Could not parse the request body")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/CreateStage", b'{"name": "s", "participantTokenConfigurations": [{"attributes": {"role": "\\ud800"}}]}'),
        ("/CreateStage", b'{"name": "s", "participantTokenConfigurations": [{"attributes": {"\\udc00": "x"}}]}'),
        ("/CreateStage", b'{"name": "s", "tags": {"team": "a\\udfffb"}}'),
    ],
    ids=["attribute-value", "attribute-key", "tag-value"],
)
def test_a_lone_surrogate_is_the_services_validation_error(sandbox, path, body):
    status, headers, payload = _signed(sandbox.endpoint, path, body=body)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert "Member must be valid Unicode text" in json.loads(payload)["message"]
    assert _signed(sandbox.endpoint, "/ListStages")[0] == 200
    assert json.loads(_signed(sandbox.endpoint, "/ListStages")[2])["stages"] == []


def test_a_participant_token_with_a_lone_surrogate_is_refused(boto_client, sandbox):
    arn = boto_client("ivs-realtime").create_stage(name="s")["stage"]["arn"]
    body = json.dumps({"stageArn": arn, "attributes": {"role": "\ud800"}}).encode()
    status, headers, _ = _signed(sandbox.endpoint, "/CreateParticipantToken", body=body)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert sandbox.state()["state"].get("ivs.tokens", {}) == {}


def test_a_pagination_token_for_a_negative_offset_is_refused(boto_client, sandbox):
    import base64

    ivs = boto_client("ivs-realtime")
    for name in ("a", "b"):
        ivs.create_stage(name=name)
    token = base64.urlsafe_b64encode(b"offset:-1").decode()
    status, headers, payload = _signed(sandbox.endpoint, "/ListStages", body=json.dumps({"nextToken": token}).encode())
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert json.loads(payload)["message"] == "The pagination token is invalid."


def _sqs(endpoint: str, body: bytes, headers: dict[str, str]):
    request = AWSRequest(method="POST", url=f"{endpoint}/", data=body, headers=headers)
    SigV4Auth(Credentials("testing", "testing"), "sqs", "us-east-1").add_auth(request)
    return _send(request.url, "POST", body, dict(request.headers.items()))


def test_an_unknown_sqs_action_is_invalid_action(sandbox):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, payload = _sqs(sandbox.endpoint, b"Action=Nope&Version=2012-11-05", form)
    assert status == 400
    assert b"<Code>InvalidAction</Code>" in payload
    assert b"The action Nope is not valid for this endpoint." in payload
    assert _sqs(sandbox.endpoint, b"Action=ListQueues&Version=2012-11-05", form)[0] == 200


def test_an_unknown_sqs_json_target_is_an_unknown_operation(sandbox):
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.Nope"}
    status, _, payload = _sqs(sandbox.endpoint, b"{}", headers)
    assert (status, json.loads(payload)["__type"]) == (400, "UnknownOperationException")


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body", "status", "code"),
    [
        ("PATCH", "/a-bucket", None, b"", 405, "MethodNotAllowed"),
        ("POST", "/a-bucket/a-key", None, b"", 405, "MethodNotAllowed"),
        ("POST", "/a-bucket", "application/json", b"{}", 412, "PreconditionFailed"),
        ("POST", "/a-bucket", "multipart/form-data; boundary=x", b"--x--\r\n", 400, "InvalidArgument"),
        ("PUT", "/a-new-bucket", "application/xml", b"[1, 2]", 400, "MalformedXML"),
        ("POST", "/", "application/json", b"[" * 100_000, 400, "InvalidRequest"),
    ],
)
def test_requests_no_s3_operation_matches_get_s3s_errors(sandbox, method, path, content_type, body, status, code):
    headers = {"Content-Type": content_type} if content_type else {}
    request = AWSRequest(method=method, url=f"{sandbox.endpoint}{path}", data=body, headers=headers)
    SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    answer = _send(request.url, method, body, dict(request.headers.items()))
    assert answer[0] == status
    assert f"<Code>{code}</Code>".encode() in answer[2]


def test_create_bucket_with_a_name_aws_refuses_is_invalid_bucket_name(boto_client):
    s3 = boto_client("s3")
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket="Invalid_Bucket_Name")
    error = raised.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (400, "InvalidBucketName")
    assert (error["Error"]["Message"], error["Error"]["BucketName"]) == (
        "The specified bucket is not valid.",
        "Invalid_Bucket_Name",
    )
    assert "Invalid_Bucket_Name" not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "UPPER",
        "-starts-with-hyphen",
        "ends-with-dot.",
        "two..periods",
        "192.168.5.4",
        "xn--punycode",
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "my-access-point-s3alias",
        "my-object-lambda--ol-s3",
        "my-region-point.mrap",
        "my-directory--x-s3",  # boto3 would ask CreateSession first: S3 Express names it a directory bucket
        "my-table-bucket--table-s3",
    ],
)
def test_each_bucket_naming_rule_is_applied(sandbox, name):
    request = AWSRequest(method="PUT", url=f"{sandbox.endpoint}/{name}", data=b"")
    SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    status, _, body = _send(request.url, "PUT", b"", dict(request.headers.items()))
    assert status == 400
    assert b"<Code>InvalidBucketName</Code>" in body
    assert f"<BucketName>{name}</BucketName>".encode() in body


def test_bucket_names_within_the_rules_are_created(boto_client):
    s3 = boto_client("s3")
    names = ["abc", "a" * 63, "my.dotted-name.1", "1.2.3.bucket", "sthree", "xn-one-hyphen"]
    for name in names:
        s3.create_bucket(Bucket=name)
    assert set(names) <= {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}


def test_a_header_signature_wins_over_a_presigned_query(sandbox):
    """A malformed Authorization header is refused as such, whatever the query string says."""
    url = f"{sandbox.endpoint}/ListStages?X-Amz-Credential=a/20260101/us-east-1/sqs/aws4_request&X-Amz-Signature=x"
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, Signature=zz", "X-Amz-Date": "x"}
    status, response_headers, _ = _send(url, "POST", b"{}", headers)
    assert (status, response_headers["x-amzn-ErrorType"]) == (403, "IncompleteSignatureException")


def test_meeting_events_aimed_at_what_is_no_queue_or_topic_are_not_delivered(boto_client):
    chime = boto_client("chime-sdk-meetings")
    meeting = chime.create_meeting(
        ClientRequestToken="notify",
        MediaRegion="us-east-1",
        ExternalMeetingId="notify",
        NotificationsConfiguration={"SqsQueueArn": "arn:not-a-queue", "SnsTopicArn": "arn:aws:sns:xx-nowhere-1:1:t"},
    )["Meeting"]
    assert chime.get_meeting(MeetingId=meeting["MeetingId"])["Meeting"]["MeetingId"] == meeting["MeetingId"]
