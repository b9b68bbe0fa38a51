"""A request rate limit for endpoints the outside world calls (webhooks such as the PSTN handler): a fixed
one-second window per key, counted in the cache every web process shares. The AWS-side limiter
(portal.aws.limiter) paces the portal's own calls; this one refuses what arrives too fast. While the cache is down
nothing is counted, and every request is allowed."""

from __future__ import annotations

import time

from django.core.cache import cache

from portal.core.cache import cache_or


def request_allowed(*, scope: str, key: str, per_second: float) -> bool:
    """Count one request for (scope, key) in this second; False once more than `per_second` have come."""
    return cache_or(lambda: _counted(f"throttle:{scope}:{key}:{int(time.time())}", per_second), unavailable=True)


def _counted(window_key: str, per_second: float) -> bool:
    if cache.add(window_key, 1, timeout=2):
        return True
    try:
        return cache.incr(window_key) <= per_second
    except ValueError:  # the window expired between add and incr: this request opens the next one
        return True
