"""The sandbox endpoint as one WSGI application.

/_sandbox/...           control API (simulate the world; no signature)
signed as chime, ivs, kinesisvideo  ->  the simulated services, driven by botocore's models (a route two services
                                       share goes to the one whose resource the request's ARN names)
signed as s3, sqs, sns, sts         ->  moto's server application
anything else                       ->  UnknownOperationException, as AWS answers
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from rtc_sandbox import channels, meetings, pipelines, stages, voice  # noqa: F401  (register their handlers)
from rtc_sandbox.control import control_response
from rtc_sandbox.moto_side import MOTO_SERVICES, MOTO_WRITES, moto_application
from rtc_sandbox.protocol import (
    FAULT_ERRORS,
    THROTTLING_ERRORS,
    VALIDATION_ERRORS,
    ApiError,
    Response,
    Service,
    ValidationFailed,
    error_response,
    parse_request,
    request_body,
    serialize_output,
    validate,
)
from rtc_sandbox.quotas import Faults, RateLimits
from rtc_sandbox.world import HANDLERS, Call, World

if TYPE_CHECKING:
    from rtc_sandbox.state import StateFile

SERVICE_NAMES = (
    "chime-sdk-meetings",
    "chime-sdk-media-pipelines",
    "chime-sdk-voice",
    "ivs-realtime",
    "kinesisvideo",
    "kinesis-video-signaling",
)
# The Chime SDK services all sign as "chime" and share the /tags routes. A Chime ARN names its resource type
# (arn:PARTITION:chime:REGION:ACCOUNT:TYPE/ID), and each type is one service's, as the Service Authorization
# Reference lists them: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonchime.html
ARN_RESOURCE_OWNERS = {
    ("chime", "meeting"): "chime-sdk-meetings",
    ("chime", "media-pipeline"): "chime-sdk-media-pipelines",
    ("chime", "media-insights-pipeline-configuration"): "chime-sdk-media-pipelines",
    ("chime", "media-pipeline-kinesis-video-stream-pool"): "chime-sdk-media-pipelines",
    ("chime", "sma"): "chime-sdk-voice",
    ("chime", "vc"): "chime-sdk-voice",
    ("chime", "voice-profile-domain"): "chime-sdk-voice",
    ("chime", "voice-profile"): "chime-sdk-voice",
}
ARN = re.compile(r"arn:[^:]+:(?P<service>[^:]+):[^:]*:[^:]*:(?P<type>[^/:]+)[/:]")
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9;._-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class Sandbox:
    def __init__(self, world: World | None = None, limits: RateLimits | None = None) -> None:
        self.world = world or World()
        self.limits = limits or RateLimits()
        self.faults = Faults()
        self.services = {name: Service.load(name) for name in SERVICE_NAMES}
        self.by_signing_name: dict[str, list[Service]] = {}
        for service in self.services.values():
            self.by_signing_name.setdefault(service.signing_name, []).append(service)
        self.moto = moto_application()
        self.state_file: StateFile | None = None  # the server's, when it keeps one

    # --- WSGI -------------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Every request but a control GET or an S3 read may change something (a read too: ReceiveMessage, a
        lifecycle ticked into its next state): the world is touched before the answer leaves."""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/") or path == "/_sandbox":
            try:
                return self._send(start_response, control_response(self, environ))
            finally:
                if environ.get("REQUEST_METHOD") != "GET":
                    self.world.touch()
        credential = self._credential(environ)
        if credential is not None and credential["service"] in MOTO_SERVICES:
            service = credential["service"]
            try:
                return self.moto(service, environ, start_response)
            finally:
                if not (service == "s3" and environ.get("REQUEST_METHOD") in ("GET", "HEAD")):  # S3's reads
                    self.world.touch(*MOTO_WRITES[service])
        try:
            return self._send(start_response, self._serve(environ, credential))
        finally:
            self.world.touch()

    def _send(self, start_response: Callable[..., Any], response: Response | None) -> Iterable[bytes]:
        if response is None:
            # The socket is closed; werkzeug treats a ConnectionError from the app as a client gone away.
            raise ConnectionAbortedError("connection dropped by an injected fault")
        reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else "Unknown"
        headers = dict(response.headers)
        headers["Content-Length"] = str(len(response.body))
        start_response(f"{response.status} {reason}", list(headers.items()))
        return [response.body]

    @staticmethod
    def _credential(environ: dict[str, Any]) -> dict[str, str] | None:
        """The SigV4 credential scope, from the Authorization header or, when there is none, a presigned query."""
        header = environ.get("HTTP_AUTHORIZATION")
        if header is not None:
            match = AUTHORIZATION.match(header.strip())
            return match.groupdict() if match else None
        query = parse_qs(environ.get("QUERY_STRING", ""))
        scope = query.get("X-Amz-Credential", [""])[0].split("/")
        if len(scope) == 5 and query.get("X-Amz-Signature"):
            return {"key": scope[0], "date": scope[1], "region": scope[2], "service": scope[3]}
        return None

    # --- the simulated services ------------------------------------------------------------------------------------

    def _serve(self, environ: dict[str, Any], credential: dict[str, str] | None) -> Response | None:
        request_id = str(uuid.uuid4())
        if not environ.get("HTTP_AUTHORIZATION") and credential is None:
            return error_response(
                None, None, ApiError("MissingAuthenticationTokenException", "Missing Authentication Token"), request_id
            )
        if credential is None:
            message = (
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' for AWS4-HMAC-SHA256."
            )
            return error_response(None, None, ApiError("IncompleteSignatureException", message), request_id)
        if not environ.get("HTTP_X_AMZ_DATE"):
            message = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            return error_response(None, None, ApiError("IncompleteSignatureException", message), request_id)

        method = environ.get("REQUEST_METHOD", "GET")
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        raw_path = urlsplit(raw_uri).path
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        body = request_body(environ)
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]

        matched = self._match(credential["service"], method, raw_path, query, headers, body)
        if matched is None:
            unknown = ApiError("UnknownOperationException", f"No operation matches {method} {raw_path}.")
            return error_response(None, None, unknown, request_id)
        service, route, captured = matched
        operation = route.operation

        if not self.limits.allow(service.name, operation.name, f"{self.world.account}/{credential['region']}"):
            code = service.error_code(operation, THROTTLING_ERRORS)
            return error_response(service, operation, ApiError(code, "Rate exceeded"), request_id)
        latency_ms, fault = self.faults.draw(service.name, operation.name)
        if latency_ms:
            time.sleep(latency_ms / 1000)
        if fault == "drop":
            _drop(environ)
            return None
        if fault == "throttle":
            code = service.error_code(operation, THROTTLING_ERRORS)
            return error_response(service, operation, ApiError(code, "Rate exceeded"), request_id)
        if fault == "error":
            code = service.error_code(operation, FAULT_ERRORS)
            message = "The service encountered an unexpected error (injected by the sandbox)."
            return error_response(service, operation, ApiError(code, message), request_id)

        try:
            params = validate(operation.input_shape, parse_request(route, captured, query, headers, body))
            call = Call(self.world, service.name, operation.name, credential["region"], self.world.account, request_id)
            handler = HANDLERS[(service.name, operation.name)]
            with self.world.lock:
                self.world.tick()
                result = handler(call, params)
        except ValidationFailed as failure:
            code = service.error_code(operation, VALIDATION_ERRORS)
            return error_response(service, operation, ApiError(code, str(failure)), request_id)
        except ApiError as error:
            return error_response(service, operation, error, request_id)
        return serialize_output(service, operation, result, request_id)

    def _match(
        self,
        signing_name: str,
        method: str,
        raw_path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[Service, Any, dict[str, str]] | None:
        """The service and route that serve the request: among the services signed as `signing_name` whose route
        matches, the one that owns the resource the request's ARN names when more than one does."""
        found = [
            (service, *matched)
            for service in self.by_signing_name.get(signing_name, [])
            if (matched := service.match(method, raw_path, query)) is not None
        ]
        if len(found) > 1:
            found = [item for item in found if _owns_named_resource(item, query, headers, body)] or found
        served = [item for item in found if (item[0].name, item[1].operation.name) in HANDLERS]
        return served[0] if served else None


def _owns_named_resource(
    matched: tuple[Service, Any, dict[str, str]], query: dict[str, list[str]], headers: dict[str, str], body: bytes
) -> bool:
    """Whether an ARN among the request's parameters, read as this service's route reads them, is of a resource
    type this service owns."""
    service, route, captured = matched
    try:
        params = parse_request(route, captured, query, headers, body)
    except ValidationFailed:  # the body is unreadable whoever serves it; the one chosen says so
        return False
    for value in params.values():
        named = ARN.match(value) if isinstance(value, str) else None
        if named and ARN_RESOURCE_OWNERS.get((named["service"], named["type"])) == service.name:
            return True
    return False


def _drop(environ: dict[str, Any]) -> None:
    """Close the client's connection without an answer, as a failing load balancer would."""
    connection = environ.get("werkzeug.socket")
    if connection is None:
        return
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
