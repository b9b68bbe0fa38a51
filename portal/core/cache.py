"""The cache every process shares is best effort: while it is down, a page renders without it.

It holds nothing the portal cannot do without (refresh watches, the last bucket listing, the webhook's request
counts), and it is Redis whenever the broker is, so it goes away with the broker. Every use goes through
`cache_or`, which answers `unavailable` instead of raising when the cache does not answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What Django's cache backends raise when their store does not answer: Redis's errors, and the file cache's.
CACHE_ERRORS = (RedisError, OSError)


def cache_or(use: Callable[[], T], *, unavailable: T) -> T:
    """`use()` (a read or write of `django.core.cache.cache`), or `unavailable` when the cache does not answer."""
    try:
        return use()
    except CACHE_ERRORS as error:
        logger.warning("The cache does not answer (%s: %s); going on without it", type(error).__name__, error)
        return unavailable
