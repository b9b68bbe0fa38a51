"""The sandbox's simulated AWS account: one clock, one lock, all state as JSON-able dicts, and lifecycles."""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import json
import random
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rtc_sandbox.moto_side import MOTO_SERVICES, MotoSide
from rtc_sandbox.protocol import ApiError

DEFAULT_ACCOUNT = "123456789012"


# Virtual time stays where datetimes (and so every timestamp the services answer) can follow it.
LATEST_TIME = dt.datetime(9000, 1, 1, tzinfo=dt.UTC).timestamp()
MAX_CLOCK_SCALE = 10_000.0


class Clock:
    """Virtual time: real time, scaled, plus any advances. Lifecycles are measured on it."""

    def __init__(self, scale: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._real_base = time.time()
        self._virtual_base = self._real_base
        self._scale = scale

    def time(self) -> float:
        with self._lock:
            return self._virtual_base + (time.time() - self._real_base) * self._scale

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), tz=dt.UTC)

    def _rebase(self) -> None:
        real = time.time()
        self._virtual_base += (real - self._real_base) * self._scale
        self._real_base = real

    def reset(self) -> None:
        """Back to real time, unscaled."""
        with self._lock:
            self._real_base = self._virtual_base = time.time()
            self._scale = 1.0

    def change(self, *, advance: float = 0.0, scale: float | None = None) -> None:
        """Move the clock forward and set its speed: both, or (when either is out of bounds) neither."""
        with self._lock:
            self._rebase()
            if scale is not None and not 0 <= scale <= MAX_CLOCK_SCALE:
                raise ValueError(f"The clock's scale must be between 0 and {MAX_CLOCK_SCALE:g}, not {scale}.")
            if not advance >= 0:
                raise ValueError(f"The clock only moves forward; it cannot advance by {advance} seconds.")
            if self._virtual_base + advance > LATEST_TIME:
                latest = dt.datetime.fromtimestamp(LATEST_TIME, tz=dt.UTC).isoformat()
                raise ValueError(f"Advancing by {advance:g} seconds would take the clock past {latest}.")
            self._virtual_base += advance
            if scale is not None:
                self._scale = scale

    @property
    def scale(self) -> float:
        return self._scale

    def reading(self) -> dict[str, float]:
        """Where the clock stands: virtual `time` at real `at` (both epoch seconds), going on at `scale`. It changes
        only when the clock is advanced, rescaled or reset."""
        with self._lock:
            return {"time": self._virtual_base, "at": self._real_base, "scale": self._scale}

    def resume(self, reading: dict[str, float]) -> None:
        """Go on from a reading an earlier process took: the clock kept running meanwhile, at its scale, as AWS's
        does while the sandbox is down; it never goes back (not even when the machine's clock did)."""
        with self._lock:
            self._virtual_base, self._real_base, self._scale = reading["time"], reading["at"], reading["scale"]
            real = time.time()
            if real < self._real_base:
                self._real_base = real


@dataclass
class Timing:
    """Lifecycle delays in virtual seconds (AWS-FACTS.md and the API references)."""

    channel_transition: float = 2.0
    pipeline_start: float = 5.0
    pipeline_stop: float = 3.0
    pipeline_artifact_interval: float = 10.0
    concatenation_run: float = 3.0
    meeting_idle_end: float = 300.0
    meeting_max_duration: float = 24 * 3600.0
    stage_session_end: float = 180.0
    phone_number_order: float = 3.0
    calling_name_update: float = 5.0
    phone_number_deletion_queue: float = 7 * 24 * 3600.0


@dataclass
class Call:
    """What a handler knows of the request it serves."""

    world: World
    service: str
    operation: str
    region: str
    account: str
    request_id: str

    @property
    def now(self) -> float:
        return self.world.clock.time()


Handler = Callable[[Call, dict[str, Any]], dict[str, Any]]
HANDLERS: dict[tuple[str, str], Handler] = {}
Ticker = Callable[["World", float], bool]  # True when it changed the world
TICKERS: list[Ticker] = []


def operation(service: str, name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[(service, name)] = handler
        return handler

    return register


def ticker(function: Ticker) -> Ticker:
    TICKERS.append(function)
    return function


@dataclass
class World:
    account: str = DEFAULT_ACCOUNT
    clock: Clock = field(default_factory=Clock)
    timing: Timing = field(default_factory=Timing)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    moto: MotoSide = field(init=False)
    changes: threading.Event = field(default_factory=threading.Event)  # set by touch(); the state file clears it
    # moto service -> a number touch() moves on when that service's backends may have changed
    moto_revisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MOTO_SERVICES, 0))
    _revision_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.moto = MotoSide(self.account, self.touch)

    def table(self, name: str) -> dict[str, Any]:
        return self.state.setdefault(name, {})

    def touch(self, *moto_services: str) -> None:
        """Something may have changed (a request was served, a ticker or a call's thread changed the world; moto's
        backends of the services named): the state file, if any, writes it soon."""
        if moto_services:
            with self._revision_lock:
                for service in moto_services:
                    self.moto_revisions[service] += 1
        self.changes.set()

    def tick(self) -> None:
        with self.lock:
            now = self.clock.time()
            changed = [function(self, now) for function in TICKERS]
        if any(changed):
            self.touch()

    def reset(self) -> None:
        with self.lock:
            self.state.clear()
            self.clock.reset()

    def dump(self) -> str:
        with self.lock:
            return json.dumps(
                {"account": self.account, "clock": self.clock.time(), "state": self.state}, indent=2, sort_keys=True
            )


# --- small shared helpers -----------------------------------------------------------------------------------------


def new_uuid() -> str:
    return str(uuid.uuid4())


def random_id(length: int = 12, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(random.choices(alphabet, k=length))


def iso(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


def paginate(
    items: list[Any],
    next_token: str | None,
    max_results: int | None,
    default: int,
    code: str,
    *,
    key: Callable[[Any], str] | None = None,
) -> tuple[list[Any], str | None]:
    """Pages with opaque tokens; a token the sandbox did not issue is refused with `code`.

    With `key` (items sorted by it, each key unique) a token names the last item returned, so an item deleted or
    added between two pages moves no other item across the boundary, as AWS's tokens behave; without it, offsets."""
    start = 0
    if next_token:
        try:
            decoded = base64.urlsafe_b64decode(next_token.encode()).decode()
            if key is not None and decoded.startswith("after:"):
                start = bisect.bisect_right([key(item) for item in items], decoded.removeprefix("after:"))
            else:
                start = int(decoded.removeprefix("offset:"))
        except ValueError as error:  # not base64, not UTF-8, not a number
            raise ApiError(code, "The pagination token is invalid.") from error
        if start < 0:
            raise ApiError(code, "The pagination token is invalid.")
    size = max_results or default
    page = items[start : start + size]
    following = start + size
    if following >= len(items) or not page:
        return page, None
    marker = f"after:{key(page[-1])}" if key is not None else f"offset:{following}"
    return page, base64.urlsafe_b64encode(marker.encode()).decode()


def tag_list_to_map(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in tags or []}


def tag_map_to_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def check_tag_keys(keys: list[str], code: str) -> None:
    for key in keys:
        if key.lower().startswith("aws:"):
            raise ApiError(code, f"Tag keys must not start with 'aws:' (reserved): {key}")
