"""The control API under /_sandbox/: simulate the world around the APIs (joins, time, faults, quotas, state).

Every body is checked before anything changes: against a shape (written the way botocore's models are, and checked
by the same validator as the simulated services' input), then against the sandbox's state. What does not fit is a
400 that says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.model import Shape, ShapeResolver

from rtc_sandbox import meetings, stages, voice
from rtc_sandbox.protocol import ApiError, Response, ValidationFailed, decode_json, request_body, validate
from rtc_sandbox.quotas import DEFAULT_RATES, Fault
from rtc_sandbox.world import HANDLERS

if TYPE_CHECKING:
    from rtc_sandbox.app import Sandbox

MAX_LATENCY_MS = 120_000
SERVICES = sorted(DEFAULT_RATES)


def _served(service: str) -> list[str]:
    """The operations the sandbox serves for a simulated service (none for any other name)."""
    return sorted(name for owner, name in HANDLERS if owner == service)


SHAPES = ShapeResolver(
    {
        "Clock": {"type": "structure", "members": {"advance": {"shape": "Seconds"}, "scale": {"shape": "Scale"}}},
        "Seconds": {"type": "double"},
        "Scale": {"type": "double"},
        "Fault": {
            "type": "structure",
            "members": {
                "operation": {"shape": "Text"},
                "latency_ms": {"shape": "Latency"},
                "throttle": {"shape": "Probability"},
                "error": {"shape": "Probability"},
                "drop": {"shape": "Probability"},
                "remaining": {"shape": "Count"},
            },
        },
        "Latency": {"type": "integer", "min": 0, "max": MAX_LATENCY_MS},
        "Probability": {"type": "double", "min": 0, "max": 1},
        "Count": {"type": "integer", "min": 0},
        "Quotas": {"type": "structure", "members": {"enabled": {"shape": "Flag"}, "rates": {"shape": "Rates"}}},
        "Rates": {"type": "map", "key": {"shape": "ServiceName"}, "value": {"shape": "OperationRates"}},
        "ServiceName": {"type": "string", "enum": SERVICES},
        "OperationRates": {"type": "map", "key": {"shape": "Text"}, "value": {"shape": "Rate"}},
        "Rate": {"type": "double", "min": 0},
        "StageJoin": {
            "type": "structure",
            "required": ["token"],
            "members": {"token": {"shape": "Text"}, "publish": {"shape": "Flag"}, "client": {"shape": "StageClient"}},
        },
        "StageClient": {  # what GetParticipant will say about the participant's client
            "type": "structure",
            "members": {
                **{name: {"shape": "Text"} for name in stages.CLIENT_DEFAULTS if name != "protocol"},
                "protocol": {"shape": "Protocol"},
            },
        },
        "Protocol": {"type": "string", "enum": list(stages.PROTOCOLS)},
        "StageLeave": {
            "type": "structure",
            "required": ["stageArn", "participantId"],
            "members": {"stageArn": {"shape": "Text"}, "participantId": {"shape": "Text"}},
        },
        "StagePublish": {
            "type": "structure",
            "required": ["stageArn", "participantId"],
            "members": {
                "stageArn": {"shape": "Text"},
                "participantId": {"shape": "Text"},
                "published": {"shape": "Flag"},
            },
        },
        "MeetingJoin": {"type": "structure", "required": ["joinToken"], "members": {"joinToken": {"shape": "Text"}}},
        "MeetingLeave": {
            "type": "structure",
            "required": ["meetingId", "attendeeId"],
            "members": {"meetingId": {"shape": "Text"}, "attendeeId": {"shape": "Text"}},
        },
        "VoiceEndpoint": {
            "type": "structure",
            "required": ["lambdaArn", "url"],
            "members": {"lambdaArn": {"shape": "Text"}, "url": {"shape": "Url"}, "secret": {"shape": "Text"}},
        },
        "Url": {"type": "string", "pattern": "https?://.+"},
        "CallDial": {
            "type": "structure",
            "required": ["fromNumber", "toNumber"],
            "members": {"fromNumber": {"shape": "E164"}, "toNumber": {"shape": "E164"}},
        },
        "E164": {"type": "string", "pattern": "^\\+?[1-9]\\d{1,14}$"},
        "CallPress": {
            "type": "structure",
            "required": ["transactionId", "digits"],
            "members": {"transactionId": {"shape": "Text"}, "digits": {"shape": "Digits"}},
        },
        "Digits": {"type": "string", "pattern": "[0-9*#]*", "max": 128},
        "CallRef": {
            "type": "structure",
            "required": ["transactionId"],
            "members": {"transactionId": {"shape": "Text"}},
        },
        "Text": {"type": "string"},
        "Flag": {"type": "boolean"},
    }
)


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(status: int, document: Any) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json.dumps(document, default=str).encode())


def _invalid(message: str) -> ControlError:
    return ControlError(400, "InvalidRequest", message)


def _describe_clock(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    clock = sandbox.world.clock
    sandbox.world.tick()
    return {"time": clock.time(), "now": clock.now().isoformat(), "scale": clock.scale}


def _clock(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """Move the clock; the calls' media that the move ran to the end has ended (and the calls gone on) when it
    answers."""
    try:
        sandbox.world.clock.change(advance=body.get("advance", 0.0), scale=body.get("scale"))
    except ValueError as error:
        raise ControlError(400, "InvalidClock", str(error)) from error
    voice.settle_calls(sandbox.world)
    return _describe_clock(sandbox, body)


def _fault_key(key: str) -> str:
    """ "*", "service:*" or "service:Operation", naming a simulated service and an operation the sandbox serves."""
    service, _, operation = key.partition(":")
    if key == "*" or (service in SERVICES and operation == "*") or operation in _served(service):
        return key
    raise _invalid(
        f"operation must be '*', 'service:*' or 'service:Operation' for a service in {', '.join(SERVICES)} and an "
        f"operation the sandbox serves, not {key!r}."
    )


def _describe_faults(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    return sandbox.faults.describe()


def _faults(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    if body:
        key = _fault_key(body.pop("operation", "*"))
        if body.get("throttle", 0) + body.get("error", 0) + body.get("drop", 0) > 1 + 1e-9:
            raise _invalid("throttle + error + drop is the chance that a request fails: it cannot be more than 1.")
        sandbox.faults.set(key, Fault(**body))
    return sandbox.faults.describe()


def _clear_faults(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    sandbox.faults.clear()
    return sandbox.faults.describe()


def _describe_quotas(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    return sandbox.limits.describe()


def _quotas(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    for service, rates in body.get("rates", {}).items():
        unknown = sorted(set(rates) - {"*", *_served(service)})
        if unknown:
            raise _invalid(f"{service} has no operation {', '.join(unknown)} that the sandbox serves (or use '*').")
    if body:
        sandbox.limits.configure(enabled=body.get("enabled"), rates=body.get("rates"))
    return sandbox.limits.describe()


def _health(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """`stateFile`: null without one, else its path and whether it holds every change answered so far."""
    state_file = sandbox.state_file
    described = None if state_file is None else {"path": str(state_file.path), "saved": state_file.saved}
    return {"ok": True, "account": sandbox.world.account, "stateFile": described}


def _reset(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    sandbox.world.reset()
    sandbox.faults.clear()
    sandbox.limits.restore_defaults()
    return {"reset": True}


def _state(sandbox: Sandbox, body: dict[str, Any]) -> Any:
    sandbox.world.tick()
    return json.loads(sandbox.world.dump())


def _world(action: Callable[..., Any]) -> Callable[[Sandbox, dict[str, Any]], Any]:
    def run(sandbox: Sandbox, body: dict[str, Any]) -> Any:
        with sandbox.world.lock:
            sandbox.world.tick()
            return action(sandbox.world, **body)

    return run


def _calling(action: Callable[..., Any]) -> Callable[[Sandbox, dict[str, Any]], Any]:
    """A simulated call's step: it takes the world's lock itself, and never while the SMA's handler is invoked. What
    the clock has run to the end happens first (media played out, a digits prompt timed out)."""

    def run(sandbox: Sandbox, body: dict[str, Any]) -> Any:
        sandbox.world.tick()
        voice.settle_calls(sandbox.world)
        return action(sandbox.world, **body)

    return run


@dataclass(frozen=True)
class Endpoint:
    action: Callable[[Sandbox, dict[str, Any]], Any]
    shape: str | None = None  # the body's shape; None: the endpoint takes no body, and any sent is not read


ROUTES: dict[tuple[str, str], Endpoint] = {
    ("GET", "/_sandbox/health"): Endpoint(_health),
    ("GET", "/_sandbox/state"): Endpoint(_state),
    ("POST", "/_sandbox/reset"): Endpoint(_reset),
    ("GET", "/_sandbox/clock"): Endpoint(_describe_clock),
    ("POST", "/_sandbox/clock"): Endpoint(_clock, "Clock"),
    ("GET", "/_sandbox/faults"): Endpoint(_describe_faults),
    ("POST", "/_sandbox/faults"): Endpoint(_faults, "Fault"),
    ("DELETE", "/_sandbox/faults"): Endpoint(_clear_faults),
    ("GET", "/_sandbox/quotas"): Endpoint(_describe_quotas),
    ("POST", "/_sandbox/quotas"): Endpoint(_quotas, "Quotas"),
    ("POST", "/_sandbox/stages/join"): Endpoint(_world(stages.participant_join), "StageJoin"),
    ("POST", "/_sandbox/stages/leave"): Endpoint(_world(stages.participant_leave), "StageLeave"),
    ("POST", "/_sandbox/stages/publish"): Endpoint(_world(stages.participant_publish), "StagePublish"),
    ("POST", "/_sandbox/meetings/join"): Endpoint(_world(meetings.attendee_join), "MeetingJoin"),
    ("POST", "/_sandbox/meetings/leave"): Endpoint(_world(meetings.attendee_leave), "MeetingLeave"),
    ("POST", "/_sandbox/voice/endpoints"): Endpoint(_world(voice.endpoint_map), "VoiceEndpoint"),
    ("POST", "/_sandbox/voice/calls/dial"): Endpoint(_calling(voice.call_dial), "CallDial"),
    ("POST", "/_sandbox/voice/calls/press"): Endpoint(_calling(voice.call_press), "CallPress"),
    ("POST", "/_sandbox/voice/calls/answer"): Endpoint(_calling(voice.call_answer), "CallRef"),
    ("POST", "/_sandbox/voice/calls/hangup"): Endpoint(_calling(voice.call_hangup), "CallRef"),
    ("POST", "/_sandbox/voice/calls/get"): Endpoint(_calling(voice.call_get), "CallRef"),
}


def _body(environ: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """The request's JSON object, checked against the shape: known members only, each of the right type and range."""
    raw = request_body(environ)
    document = decode_json(raw) if raw.strip() else {}
    if not isinstance(document, dict):
        raise _invalid("The body must be a JSON object.")
    unknown = sorted(set(document) - set(shape.members))
    if unknown:
        known = ", ".join(shape.members)
        raise _invalid(f"Unknown member{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; use {known}.")
    return validate(shape, document)


def control_response(sandbox: Sandbox, environ: dict[str, Any]) -> Response:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "").rstrip("/")
    endpoint = ROUTES.get((method, path))
    if endpoint is None:
        allowed = sorted(m for m, p in ROUTES if p == path)
        if allowed:
            return _json(405, {"error": "MethodNotAllowed", "message": f"Use {', '.join(allowed)} for {path}."})
        return _json(404, {"error": "NotFound", "message": f"No control endpoint {path}."})
    try:
        body = _body(environ, SHAPES.get_shape_by_name(endpoint.shape)) if endpoint.shape else {}
        return _json(200, endpoint.action(sandbox, body))
    except ValidationFailed as failure:
        return _json(400, {"error": "InvalidRequest", "message": str(failure)})
    except ControlError as error:
        return _json(error.status, {"error": error.code, "message": error.message})
    except ApiError as error:
        return _json(error.status or 400, {"error": error.code, "message": error.message})
