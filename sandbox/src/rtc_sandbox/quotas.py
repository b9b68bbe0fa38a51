"""Per-operation rate limits (token buckets, from AWS-FACTS.md) and injected faults."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

# Requests per second, per account and region. "*" is the service's default for operations not named.
DEFAULT_RATES: dict[str, dict[str, float]] = {
    "ivs-realtime": {"*": 5, "CreateParticipantToken": 50, "TagResource": 10, "UntagResource": 10,
                     "ListTagsForResource": 10},
    # Every other signaling-channel API (Create, List, Update, Delete, the tag APIs) is 50 TPS, the default here.
    "kinesisvideo": {"*": 50, "DescribeSignalingChannel": 300, "GetSignalingChannelEndpoint": 300},
    # GetIceServerConfig: 5 per second per channel; the portal asks for one channel at a time, so 5 in all.
    "kinesis-video-signaling": {"*": 5},
    "chime-sdk-meetings": {"*": 10},
    "chime-sdk-media-pipelines": {"*": 10},
    "chime-sdk-voice": {"*": 10},
}  # fmt: skip


class RateLimits:
    """Token buckets holding one second's worth of requests (at least one request), refilled continuously in real
    time. A rate of 0 means no limit."""

    def __init__(self, rates: dict[str, dict[str, float]] | None = None, enabled: bool = True) -> None:
        self._defaults = {service: dict(values) for service, values in (rates or DEFAULT_RATES).items()}
        self._default_enabled = enabled
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}
        self.throttled: dict[str, int] = {}  # "service:Operation" -> requests refused since the last reset
        self._lock = threading.Lock()
        self.restore_defaults()

    def restore_defaults(self) -> None:
        with self._lock:
            self.rates = {service: dict(values) for service, values in self._defaults.items()}
            self.enabled = self._default_enabled
            self._buckets.clear()
            self.throttled.clear()

    def rate(self, service: str, operation: str) -> float | None:
        rates = self.rates.get(service, {})
        return rates.get(operation, rates.get("*"))

    def allow(self, service: str, operation: str, scope: str) -> bool:
        rate = self.rate(service, operation)
        if not self.enabled or not rate:
            return True
        key = (service, operation, scope)
        now = time.monotonic()
        capacity = max(rate, 1.0)  # else a rate below 1 per second would never let a request through
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                name = f"{service}:{operation}"
                self.throttled[name] = self.throttled.get(name, 0) + 1
                return False
            self._buckets[key] = (tokens - 1, now)
            return True

    def configure(self, *, enabled: bool | None = None, rates: dict[str, dict[str, float]] | None = None) -> None:
        with self._lock:
            if enabled is not None:
                self.enabled = enabled
            for service, values in (rates or {}).items():
                self.rates.setdefault(service, {}).update(values)
            self._buckets.clear()

    def describe(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "rates": self.rates, "throttled": dict(self.throttled)}


@dataclass
class Fault:
    """What to do to matching requests: probabilities from 0 to 1; `remaining` limits how many are affected."""

    latency_ms: int = 0
    throttle: float = 0.0
    error: float = 0.0
    drop: float = 0.0
    remaining: int | None = None


class Faults:
    """Faults keyed by "service:Operation", "service:*" or "*"; the most specific one applies."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()

    def set(self, key: str, fault: Fault) -> None:
        """The control API checks the key and the fault's numbers before it calls this."""
        with self._lock:
            self._faults[key] = fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {key: asdict(fault) for key, fault in self._faults.items()}

    def draw(self, service: str, operation: str) -> tuple[int, str | None]:
        """The latency to add and the fault to apply (None, "throttle", "error" or "drop") to one request."""
        with self._lock:
            for key in (f"{service}:{operation}", f"{service}:*", "*"):
                fault = self._faults.get(key)
                if fault is not None:
                    break
            else:
                return 0, None
            if fault.remaining is not None and fault.remaining <= 0:
                return 0, None
            outcome = None
            roll = random.random()
            for name in ("drop", "throttle", "error"):
                probability = getattr(fault, name)
                if roll < probability:
                    outcome = name
                    break
                roll -= probability
            if outcome is not None and fault.remaining is not None:
                fault.remaining -= 1
            return fault.latency_ms, outcome
