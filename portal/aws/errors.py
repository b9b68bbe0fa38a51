"""One error hierarchy for every AWS call. Each error keeps AWS's code, message and request id."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)


class AwsError(Exception):
    """An AWS call failed. `retryable` says whether trying the same request again may succeed."""

    retryable = False

    def __init__(self, code: str, message: str, request_id: str = "", http_status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status


class AwsNotFound(AwsError):
    pass


class AwsConflict(AwsError):
    pass


class AwsQuotaExceeded(AwsConflict):
    pass


class AwsThrottled(AwsError):
    retryable = True


class AwsInvalid(AwsError):
    pass


class AwsUnavailable(AwsError):
    retryable = True


class AwsAccessDenied(AwsError):
    pass


_BY_CODE: dict[str, type[AwsError]] = {
    "NotFoundException": AwsNotFound,
    "ResourceNotFoundException": AwsNotFound,
    "NoSuchBucket": AwsNotFound,
    "ConflictException": AwsConflict,
    "ResourceInUseException": AwsConflict,
    "VersionMismatchException": AwsConflict,
    "PendingVerification": AwsConflict,
    "ServiceQuotaExceededException": AwsQuotaExceeded,
    "ResourceLimitExceededException": AwsQuotaExceeded,
    "LimitExceededException": AwsThrottled,
    "ThrottlingException": AwsThrottled,
    "ThrottledClientException": AwsThrottled,
    "Throttling": AwsThrottled,
    "TooManyRequestsException": AwsThrottled,
    "SlowDown": AwsThrottled,
    "BadRequestException": AwsInvalid,
    "ValidationException": AwsInvalid,
    "InvalidArgumentException": AwsInvalid,
    "InvalidParameterValue": AwsInvalid,
    "ClientLimitExceededException": AwsThrottled,
    "ForbiddenException": AwsAccessDenied,
    "AccessDeniedException": AwsAccessDenied,
    "AccessDenied": AwsAccessDenied,
    "UnauthorizedException": AwsAccessDenied,
    "UnauthorizedClientException": AwsAccessDenied,
    "UnrecognizedClientException": AwsAccessDenied,
    "InvalidSignatureException": AwsAccessDenied,
    "MissingAuthenticationToken": AwsAccessDenied,
    "IncompleteSignature": AwsAccessDenied,
    "ExpiredTokenException": AwsAccessDenied,
    "ServiceUnavailableException": AwsUnavailable,
    "ServiceFailureException": AwsUnavailable,
    "InternalServerException": AwsUnavailable,
    "InternalServerError": AwsUnavailable,
    "InternalFailure": AwsUnavailable,
}


# Codes the portal gives errors that never reached AWS (no connection, a courier lost, a call past its time limit).
_PORTAL_CODES: dict[str, type[AwsError]] = {
    "ConnectionError": AwsUnavailable,
    "CallTimedOut": AwsUnavailable,
    "WorkerLost": AwsUnavailable,
    "NoCredentials": AwsAccessDenied,
}


def aws_error_class(code: str) -> type[AwsError] | None:
    """The portal's class for an error with this code (its `retryable` says whether asking again may succeed);
    None when the code alone does not say."""
    return _BY_CODE.get(code) or _PORTAL_CODES.get(code)


def aws_error_from(exc: Exception) -> AwsError:
    """Translate a botocore exception into the portal's hierarchy."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or error.get("message") or exc)
        status = meta.get("HTTPStatusCode")
        request_id = str(meta.get("RequestId") or "")
        cls = _BY_CODE.get(code)
        if cls is None:
            if status == 429:
                cls = AwsThrottled
            elif status is not None and status >= 500:
                cls = AwsUnavailable
            elif status == 404:
                cls = AwsNotFound
            elif status in (401, 403):
                cls = AwsAccessDenied
            else:
                cls = AwsInvalid
        return cls(code, message, request_id, status)
    if isinstance(exc, NoCredentialsError):
        return AwsAccessDenied("NoCredentials", str(exc))
    if isinstance(exc, (NoRegionError, ParamValidationError)):
        return AwsInvalid(type(exc).__name__, str(exc))
    if isinstance(exc, (BotoConnectionError, HTTPClientError, OSError, TimeoutError)):
        return AwsUnavailable("ConnectionError", str(exc) or type(exc).__name__)
    if isinstance(exc, BotoCoreError):
        return AwsUnavailable(type(exc).__name__, str(exc))
    raise exc
