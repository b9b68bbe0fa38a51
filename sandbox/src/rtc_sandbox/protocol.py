"""The rest-json wire protocol, driven by botocore's service models.

Routes come from each operation's `http.requestUri`; input is parsed by member location (uri, querystring, header,
body) and validated against the input shape; output is serialized from the output shape only; errors are the
operation's own error shapes, with the HTTP status the model gives them.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

_SESSION = botocore.session.get_session()

# Each service's answer to invalid input, to throttling and to its own faults, in order of preference; the first
# one that is among the operation's error shapes wins, else the first (AWS's common error of that kind: IVS Real-Time
# models neither throttling nor faults for most operations, yet answers them as ThrottlingException 429 and
# InternalServerException 500).
VALIDATION_ERRORS = ("ValidationException", "BadRequestException", "InvalidArgumentException")
THROTTLING_ERRORS = ("ThrottlingException", "ThrottledClientException", "ClientLimitExceededException")
FAULT_ERRORS = ("InternalServerException", "ServiceFailureException", "ServiceUnavailableException")
COMMON_STATUS = {
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "ValidationException": 400,
    "MissingAuthenticationTokenException": 403,
    "IncompleteSignatureException": 403,
    "UnknownOperationException": 404,
}


class ApiError(Exception):
    """An error to send as `code`. The protocol checks it against the operation's error shapes."""

    def __init__(self, code: str, message: str, status: int | None = None, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields


class ValidationFailed(Exception):
    def __init__(self, messages: list[str]) -> None:
        count = len(messages)
        plural = "s" if count > 1 else ""
        super().__init__(f"{count} validation error{plural} detected: " + "; ".join(messages))


@dataclass(frozen=True)
class Route:
    operation: OperationModel
    method: str
    segments: tuple[str, ...]  # literal text, "{name}" or "{name+}"
    static_query: tuple[tuple[str, str], ...]

    def match(self, method: str, raw_path: str, query: dict[str, list[str]]) -> dict[str, str] | None:
        if method != self.method:
            return None
        for key, value in self.static_query:
            if value not in query.get(key, []) and not (value == "" and key in query):
                return None
        parts = raw_path.strip("/").split("/") if raw_path.strip("/") else []
        captured: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.startswith("{") and segment.endswith("+}"):
                rest = parts[index:]
                if not rest:
                    return None
                captured[segment[1:-2]] = unquote("/".join(rest))
                return captured
            if index >= len(parts):
                return None
            if segment.startswith("{"):
                if not parts[index]:
                    return None
                captured[segment[1:-1]] = unquote(parts[index])
            elif segment != parts[index]:
                return None
        return captured if len(parts) == len(self.segments) else None

    @property
    def specificity(self) -> tuple[int, int]:
        literal = sum(1 for segment in self.segments if not segment.startswith("{"))
        return (len(self.static_query), literal)


def _route(operation: OperationModel) -> Route:
    uri = operation.http["requestUri"]
    path, _, static = uri.partition("?")
    static_query = tuple((key, value) for key, value in parse_qsl(static, keep_blank_values=True))
    segments = tuple(segment for segment in path.strip("/").split("/") if segment)
    return Route(operation, operation.http["method"], segments, static_query)


@dataclass
class Service:
    """One AWS service's model: its routes, and the shapes to parse, validate and serialize with."""

    name: str
    model: ServiceModel
    routes: list[Route] = field(default_factory=list)

    @classmethod
    def load(cls, name: str) -> Service:
        model = _SESSION.get_service_model(name)
        service = cls(name, model)
        service.routes = [_route(model.operation_model(op)) for op in model.operation_names]
        return service

    @property
    def signing_name(self) -> str:
        return self.model.signing_name

    def match(self, method: str, raw_path: str, query: dict[str, list[str]]) -> tuple[Route, dict[str, str]] | None:
        found = [
            (route, captured) for route in self.routes if (captured := route.match(method, raw_path, query)) is not None
        ]
        if not found:
            return None
        return max(found, key=lambda item: item[0].specificity)

    def error_code(self, operation: OperationModel, preferences: tuple[str, ...]) -> str:
        names = {shape.name for shape in operation.error_shapes}
        for code in preferences:
            if code in names:
                return code
        return preferences[0]

    def error_status(self, operation: OperationModel | None, code: str) -> int:
        if operation is not None:
            for shape in operation.error_shapes:
                if shape.name == code:
                    return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
        if code in self.model.shape_names:
            shape = self.model.shape_for(code)
            return int(shape.metadata.get("error", {}).get("httpStatusCode", COMMON_STATUS.get(code, 400)))
        return COMMON_STATUS.get(code, 400)

    def error_body(self, code: str, message: str, request_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"message": message}
        if code in self.model.shape_names:
            shape = self.model.shape_for(code)
            members: dict[str, Any] = dict(getattr(shape, "members", {}))
            for name, shape_name in ERROR_MEMBER_DEFECTS.get(self.name, {}).items():
                members.setdefault(name, self.model.shape_for(shape_name))
            for name, member in members.items():
                if name.lower().endswith("message"):
                    body[name] = message
                elif name == "RequestId":
                    body[name] = request_id
                elif name == "Code":
                    body[name] = _error_enum(code, getattr(member, "enum", None) or [])
                elif name in fields:
                    body[name] = fields[name]
        return body


# Error members botocore's model lacks. chime-sdk-voice's error shapes are empty there, while AWS's own model, from
# which the AWS SDK for JavaScript v3 and the SDK for Kotlin are generated, gives every one a Code (ErrorCode) and a
# Message (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/chimesdkvoice/aws.sdk.kotlin.services.chimesdkvoice.model/-not-found-exception):
# a JavaScript client reads them as error.Code and error.Message.
ERROR_MEMBER_DEFECTS = {"chime-sdk-voice": {"Code": "ErrorCode", "Message": "String"}}  # member: its shape

_ENUM_FOR_CODE = {
    "BadRequestException": "BadRequest",
    "ConflictException": "Conflict",
    "ForbiddenException": "Forbidden",
    "NotFoundException": "NotFound",
    "ResourceLimitExceededException": "ResourceLimitExceeded",
    "ServiceFailureException": "ServiceFailure",
    "ServiceUnavailableException": "ServiceUnavailable",
    "ThrottlingException": "Throttling",
    "ThrottledClientException": "Throttled",
    "UnauthorizedException": "Unauthorized",
    "UnauthorizedClientException": "Unauthorized",
    "UnprocessableEntityException": "Unprocessable",
    "LimitExceededException": "ResourceLimitExceeded",
}


def _error_enum(code: str, allowed: list[str]) -> str:
    value = _ENUM_FOR_CODE.get(code, code.removesuffix("Exception"))
    return value if not allowed or value in allowed else allowed[0]


# --- parsing -----------------------------------------------------------------------------------------------------


def request_body(environ: dict[str, Any]) -> bytes:
    """The WSGI request's body (none when CONTENT_LENGTH is missing or nonsense), put back for whoever reads next."""
    try:
        length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def parse_request(
    route: Route,
    captured: dict[str, str],
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Turn the HTTP request into the operation's input parameters (still unvalidated)."""
    shape = route.operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    payload_name = shape.serialization.get("payload")
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in captured:
                params[name] = _from_text(member, captured[wire])
        elif location == "querystring":
            if member.type_name == "map":
                static = {key for key, _ in route.static_query}
                params[name] = {k: v[0] for k, v in query.items() if k not in static}
            elif wire in query:
                values = query[wire]
                params[name] = (
                    [_from_text(member.member, v) for v in values]
                    if member.type_name == "list"
                    else _from_text(member, values[0])
                )
        elif location == "header":
            if wire.lower() in headers:
                params[name] = _from_text(member, headers[wire.lower()])
        elif location == "headers":
            prefix = wire.lower()
            params[name] = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
        elif name != payload_name:
            body_members[name] = member
    if payload_name:
        member = shape.members[payload_name]
        if member.type_name in ("blob", "string"):
            params[payload_name] = body
        elif body.strip():
            params[payload_name] = decode_json(body)
    elif body_members and body.strip():
        document = decode_json(body)
        if not isinstance(document, dict):
            raise ValidationFailed(["The request body must be a JSON object"])
        for name, member in body_members.items():
            wire = member.serialization.get("name", name)
            if wire in document:
                params[name] = document[wire]
    return params


def decode_json(body: bytes) -> Any:
    """The JSON document in a request body; anything json.loads refuses (bad syntax or encoding, an integer of more
    than 4,300 digits, nesting deeper than the interpreter's recursion limit) is a validation failure."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValidationFailed([f"Could not parse the request body as JSON: {error}"]) from error


def _from_text(shape: Shape, text: str) -> Any:
    """Values from the URI, query string and headers arrive as text; leave bad ones for validation to report."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


# --- validation --------------------------------------------------------------------------------------------------


def validate(shape: Shape | None, params: dict[str, Any]) -> dict[str, Any]:
    """Check params against the input shape; return them with timestamps and blobs decoded."""
    if shape is None:
        return {}
    errors: list[str] = []
    value = _check(shape, params, "", errors)
    if errors:
        raise ValidationFailed(errors)
    return value


def _fail(errors: list[str], path: str, value: Any, constraint: str) -> None:
    shown = value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else type(value).__name__
    if isinstance(shown, str) and len(shown) > 80:
        shown = shown[:77] + "..."
    errors.append(f"Value '{shown}' at '{path or 'body'}' failed to satisfy constraint: Member must {constraint}")


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> Any:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            _fail(errors, path, value, "be a structure")
            return value
        result: dict[str, Any] = {}
        for name in shape.required_members:
            if value.get(name) is None:
                errors.append(
                    f"Value null at '{_join(path, name)}' failed to satisfy constraint: Member must not be null"
                )
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                result[name] = _check(member, value[name], _join(path, name), errors)
        return result
    if kind == "list":
        if not isinstance(value, list):
            _fail(errors, path, value, "be a list")
            return value
        _length(errors, path, value, meta, "have length")
        return [
            _check(shape.member, item, f"{path}.{index + 1}" if path else str(index + 1), errors)
            for index, item in enumerate(value)
        ]
    if kind == "map":
        if not isinstance(value, dict):
            _fail(errors, path, value, "be a map")
            return value
        _length(errors, path, value, meta, "have length")
        return {
            _check(shape.key, key, f"{path}.key", errors): _check(shape.value, item, f"{path}.{key}", errors)
            for key, item in value.items()
        }
    if kind == "string":
        if not isinstance(value, str):
            _fail(errors, path, value, "be a string")
            return value
        if not _is_unicode(value):
            # JSON can escape half a surrogate pair ("\ud800"); no UTF-8 text holds one, and AWS refuses it.
            _fail(errors, path, value.encode("utf-8", "backslashreplace").decode(), "be valid Unicode text")
            return value
        _length(errors, path, value, meta, "have length")
        if shape.enum and value not in shape.enum:
            _fail(errors, path, value, f"satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = meta.get("pattern")
        if pattern and not _matches(pattern, value):
            _fail(errors, path, value, f"satisfy regular expression pattern: {pattern}")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(errors, path, value, "be an integer")
            return value
        _range(errors, path, value, meta)
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            _fail(errors, path, value, "be a number")
            return value
        _range(errors, path, value, meta)
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            _fail(errors, path, value, "be a boolean")
        return value
    if kind == "timestamp":
        parsed = _timestamp(value)
        if parsed is None:
            _fail(errors, path, value, "be a timestamp")
            return value
        return parsed
    if kind == "blob":
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        try:
            decoded = base64.b64decode(value, validate=True)
        except (TypeError, ValueError):
            _fail(errors, path, value, "be base64-encoded binary data")
            return value
        _length(errors, path, decoded, meta, "have length")
        return decoded
    return value


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _length(errors: list[str], path: str, value: Any, meta: dict[str, Any], what: str) -> None:
    size = len(value)
    if "min" in meta and size < meta["min"]:
        _fail(errors, path, value, f"{what} greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        _fail(errors, path, value, f"{what} less than or equal to {meta['max']}")


def _range(errors: list[str], path: str, value: float, meta: dict[str, Any]) -> None:
    if "min" in meta and value < meta["min"]:
        _fail(errors, path, value, f"have value greater than or equal to {meta['min']}")
    if "max" in meta and value > meta["max"]:
        _fail(errors, path, value, f"have value less than or equal to {meta['max']}")


_PATTERNS: dict[str, re.Pattern[str] | None] = {}
# Patterns in the models that no real value satisfies; AWS accepts the values, so the sandbox checks these instead.
PATTERN_DEFECTS = {
    # ivs-realtime ResourceArn: "[a-z-]" matches one character, so "stage/..." could never be tagged.
    "arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]/[a-zA-Z0-9-]+": "arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]+/[a-zA-Z0-9-]+",
}


def compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """A model's (Java) pattern as a Python regular expression; None when Python cannot express it."""
    if pattern not in _PATTERNS:
        try:
            python = PATTERN_DEFECTS.get(pattern, pattern)
            for java, equivalent in (("\\p{L}", "\\w"), ("\\p{N}", "\\d"), ("\\p{Z}", "\\s")):
                python = python.replace(java, equivalent)
            _PATTERNS[pattern] = re.compile(python, re.DOTALL)
        except re.error:
            _PATTERNS[pattern] = None
    return _PATTERNS[pattern]


def _matches(pattern: str, value: str) -> bool:
    compiled = compiled_pattern(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


def _timestamp(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


# --- serialization -----------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def serialize_output(service: Service, operation: OperationModel, result: dict[str, Any], request_id: str) -> Response:
    status = int(operation.http.get("responseCode", 200))
    headers = {"x-amzn-RequestId": request_id, "Content-Type": "application/json"}
    shape = operation.output_shape
    if shape is None:
        return Response(status, headers, b"{}" if status != 204 else b"")
    document: dict[str, Any] = {}
    payload_name = shape.serialization.get("payload")
    for name, member in shape.members.items():
        if name not in result or result[name] is None:
            continue
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "header":
            headers[wire] = str(_serialize(member, result[name]))
        elif location == "statusCode":
            status = int(result[name])
        elif name == payload_name:
            if member.type_name in ("blob", "string"):
                return Response(
                    status, headers, result[name] if isinstance(result[name], bytes) else str(result[name]).encode()
                )
            document = _serialize(member, result[name])
        else:
            document[wire] = _serialize(member, result[name])
    body = b"" if status == 204 and not document else json.dumps(document).encode()
    return Response(status, headers, body)


def _serialize(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {
            member.serialization.get("name", name): _serialize(member, value[name])
            for name, member in shape.members.items()
            if name in value and value[name] is not None
        }
    if kind == "list":
        return [_serialize(shape.member, item) for item in value]
    if kind == "map":
        return {str(key): _serialize(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        moment = value if isinstance(value, dt.datetime) else _timestamp(value)
        assert moment is not None
        if shape.serialization.get("timestampFormat", shape.metadata.get("timestampFormat")) == "iso8601":
            return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return round(moment.timestamp(), 3)
    if kind == "blob":
        return base64.b64encode(value).decode()
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return bool(value)
    return str(value)


def error_response(
    service: Service | None,
    operation: OperationModel | None,
    error: ApiError,
    request_id: str,
) -> Response:
    status = error.status or (
        service.error_status(operation, error.code) if service else COMMON_STATUS.get(error.code, 400)
    )
    body = (
        service.error_body(error.code, error.message, request_id, error.fields)
        if service
        else {"message": error.message}
    )
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code, "Content-Type": "application/json"}
    return Response(status, headers, json.dumps(body).encode())
