"""A client-side rate limit: run at an API's published quota instead of into it."""

from __future__ import annotations

import asyncio
import time


class Pace:
    """At most `rate` calls per second from the coroutine that awaits it."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate
        self.next_at = 0.0

    async def __call__(self) -> None:
        now = time.monotonic()
        if self.next_at > now:
            await asyncio.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval
