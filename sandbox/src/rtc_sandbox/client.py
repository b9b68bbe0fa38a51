"""A small Python client for the sandbox's control API (/_sandbox/...)."""

from __future__ import annotations

import json
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen


class SandboxControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class SandboxControl:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = Request(f"{self.endpoint}/_sandbox/{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except HTTPError as error:
            document = json.loads(error.read() or b"{}")
            raise SandboxControlError(error.code, document.get("error", ""), document.get("message", "")) from None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "state")

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def advance(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "clock", {"advance": seconds})

    def set_clock_scale(self, scale: float) -> dict[str, Any]:
        return self._call("POST", "clock", {"scale": scale})

    def clock(self) -> dict[str, Any]:
        return self._call("GET", "clock")

    def inject_fault(self, operation: str = "*", **fault: float | int) -> dict[str, Any]:
        """operation: "service:Operation", "service:*" or "*"; fault: latency_ms, throttle, error, drop, remaining."""
        return self._call("POST", "faults", {"operation": operation, **fault})

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def quotas(
        self, *, enabled: bool | None = None, rates: dict[str, dict[str, float]] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if enabled is not None:
            body["enabled"] = enabled
        if rates:
            body["rates"] = rates
        return self._call("POST", "quotas", body) if body else self._call("GET", "quotas")

    def stage_join(self, token: str, *, publish: bool = False, client: dict[str, str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"token": token, "publish": publish}
        if client:
            body["client"] = client
        return self._call("POST", "stages/join", body)

    def stage_leave(self, stage_arn: str, participant_id: str) -> dict[str, Any]:
        return self._call("POST", "stages/leave", {"stageArn": stage_arn, "participantId": participant_id})

    def stage_publish(self, stage_arn: str, participant_id: str, published: bool = True) -> dict[str, Any]:
        body = {"stageArn": stage_arn, "participantId": participant_id, "published": published}
        return self._call("POST", "stages/publish", body)

    def meeting_join(self, join_token: str) -> dict[str, Any]:
        return self._call("POST", "meetings/join", {"joinToken": join_token})

    def meeting_leave(self, meeting_id: str, attendee_id: str) -> dict[str, Any]:
        return self._call("POST", "meetings/leave", {"meetingId": meeting_id, "attendeeId": attendee_id})

    def sma_endpoint(self, lambda_arn: str, url: str, secret: str = "") -> dict[str, Any]:
        """Invocations of SMAs whose endpoint is `lambda_arn` go to `url`, signed with `secret`."""
        body = {"lambdaArn": lambda_arn, "url": url, **({"secret": secret} if secret else {})}
        return self._call("POST", "voice/endpoints", body)

    def call_dial(self, from_number: str, to_number: str) -> dict[str, Any]:
        return self._call("POST", "voice/calls/dial", {"fromNumber": from_number, "toNumber": to_number})

    def call_press(self, transaction_id: str, digits: str) -> dict[str, Any]:
        return self._call("POST", "voice/calls/press", {"transactionId": transaction_id, "digits": digits})

    def call_answer(self, transaction_id: str) -> dict[str, Any]:
        return self._call("POST", "voice/calls/answer", {"transactionId": transaction_id})

    def call_hangup(self, transaction_id: str) -> dict[str, Any]:
        return self._call("POST", "voice/calls/hangup", {"transactionId": transaction_id})

    def call_get(self, transaction_id: str) -> dict[str, Any]:
        return self._call("POST", "voice/calls/get", {"transactionId": transaction_id})
