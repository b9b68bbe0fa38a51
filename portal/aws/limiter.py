"""One client-side rate limit per AWS API, shared by every process that calls it: run at the quota, not into it.

Each API's budget is a schedule (GCRA, "virtual scheduling"): a caller reserves the next free slot, `1 / rate` after
the previous one, and waits until then. The schedule lives in Redis when the portal's broker is Redis, so web,
workers and refreshers on any machine draw on one budget; a small Lua script makes the reservation atomic and
answers how long to wait, in one round trip. With the embedded broker there is one machine, and the schedule lives
in this process. We chose a script over the `limits` library because `limits` answers "allowed now or not" and a
caller would have to poll; a reservation lets every caller sleep exactly as long as its turn is away.

If Redis stops answering, callers fall back to this process's own schedule until it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from django.conf import settings

from portal.aws.quotas import rate_for

logger = logging.getLogger(__name__)

RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_free < now then next_free = now end
redis.call('SET', KEYS[1], next_free + interval, 'PX', math.floor((next_free + interval - now) / 1000) + 1000)
return next_free - now
"""


class LocalSchedule:
    """The same reservations, in this process only (every thread and event loop of it)."""

    def __init__(self) -> None:
        self._next_free: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, interval: float) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_free.get(key, 0.0))
            self._next_free[key] = slot + interval
            return slot - now


_LOCAL = LocalSchedule()


class RateLimiter:
    """Belongs to one event loop (its Redis connection does). `await limiter.wait(service, operation)`."""

    def __init__(self, redis_url: str = "") -> None:
        self._redis: Any = None
        self._script: Any = None
        self._redis_failed_at = 0.0
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
            self._script = self._redis.register_script(RESERVE)

    async def wait(self, service: str, operation: str) -> float:
        """Sleep until this call's turn within the API's quota; returns how long it waited."""
        rate = rate_for(service, operation)
        if not rate:
            return 0.0
        interval = 1 / (rate * settings.AWS_RATE_LIMIT_FRACTION)
        key = f"rtc-portal:rate:{settings.AWS_REGION}:{service}:{operation}"
        delay = await self._reserve(key, interval)
        if delay > 0:
            await asyncio.sleep(delay)
        return delay

    async def _reserve(self, key: str, interval: float) -> float:
        if self._script is not None and time.monotonic() - self._redis_failed_at > 5:
            try:
                return int(await self._script(keys=[key], args=[int(interval * 1_000_000)])) / 1_000_000
            except Exception as error:  # Redis restarting or unreachable: keep pacing locally meanwhile
                self._redis_failed_at = time.monotonic()
                logger.warning("Rate limiter: Redis did not answer (%s); pacing in this process for now", error)
        return _LOCAL.reserve(key, interval)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
