"""A request rate limit for endpoints the outside world calls (webhooks such as the PSTN handler): a fixed
one-second window per key, counted in the cache every web process shares. The AWS-side limiter
(portal.aws.limiter) paces the portal's own calls; this one refuses what arrives too fast."""

from __future__ import annotations

import time

from django.core.cache import cache


def request_allowed(*, scope: str, key: str, per_second: float) -> bool:
    """Count one request for (scope, key) in this second; False once more than `per_second` have come."""
    window_key = f"throttle:{scope}:{key}:{int(time.time())}"
    if cache.add(window_key, 1, timeout=2):
        return True
    try:
        return cache.incr(window_key) <= per_second
    except ValueError:  # the window expired between add and incr: this request opens the next one
        return True
