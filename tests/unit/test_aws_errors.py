from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from portal.aws import errors
from portal.aws.clients import aws_client, aws_run


def _client_error(code: str, status: int, message: str = "msg") -> ClientError:
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "req-123"},
    }
    return ClientError(response, "AnyOperation")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NotFoundException", 404, errors.AwsNotFound),
        ("ResourceNotFoundException", 400, errors.AwsNotFound),
        ("ConflictException", 409, errors.AwsConflict),
        ("VersionMismatchException", 400, errors.AwsConflict),
        ("ServiceQuotaExceededException", 402, errors.AwsQuotaExceeded),
        ("ThrottlingException", 429, errors.AwsThrottled),
        ("BadRequestException", 400, errors.AwsInvalid),
        ("ValidationException", 400, errors.AwsInvalid),
        ("AccessDeniedException", 403, errors.AwsAccessDenied),
        ("ServiceUnavailableException", 503, errors.AwsUnavailable),
        ("SomethingNew", 429, errors.AwsThrottled),
        ("SomethingNew", 502, errors.AwsUnavailable),
        ("SomethingNew", 400, errors.AwsInvalid),
    ],
)
def test_client_errors_map_onto_the_hierarchy(code, status, expected):
    error = errors.aws_error_from(_client_error(code, status, "the message"))
    assert type(error) is expected
    assert (error.code, error.message, error.request_id, error.http_status) == (code, "the message", "req-123", status)


def test_only_throttling_and_unavailability_are_retryable():
    assert errors.AwsThrottled("x", "y").retryable
    assert errors.AwsUnavailable("x", "y").retryable
    for cls in (errors.AwsNotFound, errors.AwsConflict, errors.AwsInvalid, errors.AwsAccessDenied):
        assert not cls("x", "y").retryable


def test_transport_failures_are_unavailable():
    error = errors.aws_error_from(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert isinstance(error, errors.AwsUnavailable)
    assert error.code == "ConnectionError"
    assert isinstance(errors.aws_error_from(NoCredentialsError()), errors.AwsAccessDenied)


def test_programming_errors_are_not_disguised():
    with pytest.raises(KeyError):
        errors.aws_error_from(KeyError("bug"))


def test_the_client_factory_raises_portal_errors(closed_endpoint, settings):
    async def call() -> None:
        async with aws_client("sts") as sts:
            await sts.get_caller_identity()

    with pytest.raises(errors.AwsUnavailable):
        aws_run(call())


def test_the_client_factory_uses_the_configured_region_and_endpoint(aws_endpoint, settings):
    settings.AWS_REGION = "eu-west-1"

    async def call() -> tuple[str, str]:
        async with aws_client("ivs-realtime") as ivs:
            return ivs.meta.region_name, ivs.meta.endpoint_url

    assert aws_run(call()) == ("eu-west-1", aws_endpoint)
