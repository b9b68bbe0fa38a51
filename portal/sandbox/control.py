"""The control API under /_sandbox/: simulate the world around the APIs (joins, time, faults, quotas, state)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from portal.sandbox import meetings, stages
from portal.sandbox.protocol import ApiError, Response
from portal.sandbox.quotas import Fault

if TYPE_CHECKING:
    from portal.sandbox.app import Sandbox

Action = Callable[["Sandbox", dict[str, Any]], Any]


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(status: int, document: Any) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json.dumps(document, default=str).encode())


def _clock(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    clock = sandbox.world.clock
    if "scale" in body:
        clock.set_scale(float(body["scale"]))
    if "advance" in body:
        seconds = float(body["advance"])
        if seconds < 0:
            raise ControlError(400, "InvalidClock", "The clock only moves forward.")
        clock.advance(seconds)
    sandbox.world.tick()
    return {"time": clock.time(), "now": clock.now().isoformat(), "scale": clock.scale}


def _faults(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    if body:
        key = str(body.get("operation", "*"))
        fields = {name: body[name] for name in ("latency_ms", "throttle", "error", "drop", "remaining") if name in body}
        sandbox.faults.set(key, Fault(**fields))
    return sandbox.faults.describe()


def _clear_faults(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    sandbox.faults.clear()
    return sandbox.faults.describe()


def _quotas(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    if body:
        sandbox.limits.configure(enabled=body.get("enabled"), rates=body.get("rates"))
    return sandbox.limits.describe()


def _reset(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    sandbox.world.reset()
    sandbox.faults.clear()
    sandbox.limits.restore_defaults()
    return {"reset": True}


def _state(sandbox: Sandbox, body: dict[str, Any]) -> Any:
    sandbox.world.tick()
    return json.loads(sandbox.world.dump())


def _world(action: Callable[..., Any]) -> Action:
    def run(sandbox: Sandbox, body: dict[str, Any]) -> Any:
        with sandbox.world.lock:
            sandbox.world.tick()
            return action(sandbox.world, **body)

    return run


ROUTES: dict[tuple[str, str], Action] = {
    ("GET", "/_sandbox/health"): lambda sandbox, body: {"ok": True, "account": sandbox.world.account},
    ("GET", "/_sandbox/state"): _state,
    ("POST", "/_sandbox/reset"): _reset,
    ("GET", "/_sandbox/clock"): _clock,
    ("POST", "/_sandbox/clock"): _clock,
    ("GET", "/_sandbox/faults"): _faults,
    ("POST", "/_sandbox/faults"): _faults,
    ("DELETE", "/_sandbox/faults"): _clear_faults,
    ("GET", "/_sandbox/quotas"): _quotas,
    ("POST", "/_sandbox/quotas"): _quotas,
    ("POST", "/_sandbox/stages/join"): _world(stages.participant_join),
    ("POST", "/_sandbox/stages/leave"): _world(stages.participant_leave),
    ("POST", "/_sandbox/stages/publish"): _world(stages.participant_publish),
    ("POST", "/_sandbox/meetings/join"): _world(meetings.attendee_join),
    ("POST", "/_sandbox/meetings/leave"): _world(meetings.attendee_leave),
}


def control_response(sandbox: Sandbox, environ: dict[str, Any]) -> Response:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "").rstrip("/")
    action = ROUTES.get((method, path))
    if action is None:
        allowed = sorted(m for m, p in ROUTES if p == path)
        if allowed:
            return _json(405, {"error": "MethodNotAllowed", "message": f"Use {', '.join(allowed)} for {path}."})
        return _json(404, {"error": "NotFound", "message": f"No control endpoint {path}."})
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ControlError(400, "InvalidRequest", "The body must be a JSON object.")
        return _json(200, action(sandbox, body))
    except json.JSONDecodeError as error:
        return _json(400, {"error": "InvalidRequest", "message": f"The body is not JSON: {error}"})
    except TypeError as error:
        return _json(400, {"error": "InvalidRequest", "message": str(error)})
    except ValueError as error:
        return _json(400, {"error": "InvalidRequest", "message": str(error)})
    except ControlError as error:
        return _json(error.status, {"error": error.code, "message": error.message})
    except ApiError as error:
        return _json(error.status or 400, {"error": error.code, "message": error.message})
