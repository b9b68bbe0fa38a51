"""Refreshers: the worker jobs that keep the registry true to AWS. A feature declares one; core runs it.

A cycle of a refresher, run by `refresh_run(name)` on the `refresh` queue (its own worker slots, so operations are
never stuck behind a refresh):
1. takes the refresher's lease, so a cycle never overlaps itself (in any process): a tick that finds it held skips;
2. asks the feature for its items: hot ones (someone is watching the resource, or it is in transition) every cycle,
   and a few cold ones, least recently refreshed first, so everything is reconciled in turn;
3. observes them on the worker's event loop, at most `concurrency` at a time, every call paced by the shared rate
   limiter, plus the full listing when it is due;
4. hands the observations to the feature's `apply`, each stamped with the time its observation began, so a row
   changed after that (a disconnect that just succeeded) is never overwritten by what was seen before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import ngettext

from portal.aws.clients import aws_client, aws_run, aws_runtime
from portal.aws.errors import AwsError
from portal.core.cache import cache_or
from portal.core.models import RefresherState

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
WATCH_SECONDS = 10


@dataclass(frozen=True)
class Observed(Generic[Item]):
    item: Item
    observed_at: datetime
    result: Any = None
    error: AwsError | None = None


@dataclass(frozen=True)
class Cycle(Generic[Item]):
    observed: list[Observed[Item]]
    listing: list[dict[str, Any]] | None
    listing_observed_at: datetime | None


@dataclass(frozen=True)
class Items(Generic[Item]):
    hot: Sequence[Item]
    cold: Sequence[Item] = ()


@dataclass(frozen=True)
class Refresher(Generic[Item]):
    """What a feature declares. `items` and `apply` run synchronously (ORM); `observe` and `listing` in the loop."""

    name: str
    service: str
    items: Callable[[set[str]], Items[Item]]
    observe: Callable[[Any, Item], Awaitable[Any]]
    apply: Callable[[Cycle[Item]], dict[str, int]]
    listing: Callable[[Any], Awaitable[list[dict[str, Any]]]] | None = None
    listing_every_seconds: float = 30
    concurrency: int = 2


_REFRESHERS: dict[str, Refresher[Any]] = {}


def refresher_register(refresher: Refresher[Any]) -> Refresher[Any]:
    _REFRESHERS[refresher.name] = refresher
    return refresher


def refreshers() -> list[Refresher[Any]]:
    return list(_REFRESHERS.values())


def _watch_key(refresher: str) -> str:
    return f"rtc-portal:refresh-watches:{refresher}"


def refresh_watch(*, refresher: str, key: str | int, scope: str = "") -> None:
    """Someone has this resource on screen: refresh it every cycle for the next few seconds.

    `scope` narrows what this viewer needs (a filter the feature understands, e.g. one user's participants); ""
    means everything. The feature reads the live scopes of a key with `refresh_watch_scopes`.
    Watches live in the cache (shared by web and workers), not the database: a page view changes no table. Two
    viewers writing at the same instant may lose one watch; the next poll, two seconds later, restores it. They are
    best effort: while the cache is down nothing is watched, and the refresher serves everything in turn.
    """
    now = time.time()
    watches = _live_watches(refresher, now)
    watches.setdefault(str(key), {})[scope] = now + WATCH_SECONDS
    cache_or(lambda: cache.set(_watch_key(refresher), watches, timeout=WATCH_SECONDS * 2), unavailable=None)


def refresh_watch_scopes(*, refresher: str, key: str | int) -> set[str]:
    """The scopes people watching this resource asked for now; "" among them when someone watches all of it."""
    return set(_live_watches(refresher, time.time()).get(str(key), {}))


def _live_watches(refresher: str, now: float) -> dict[str, dict[str, float]]:
    watches: dict[str, dict[str, float]] = cache_or(lambda: cache.get(_watch_key(refresher), {}), unavailable={})
    live = {key: {scope: until for scope, until in scopes.items() if until > now} for key, scopes in watches.items()}
    return {key: scopes for key, scopes in live.items() if scopes}


def _watched(name: str) -> set[str]:
    return set(_live_watches(name, time.time()))


def _lease(name: str, now: datetime) -> RefresherState | None:
    state, _ = RefresherState.objects.get_or_create(name=name)
    held_until = now + timedelta(seconds=settings.REFRESH_LEASE_SECONDS)
    if not RefresherState.objects.filter(pk=state.pk, lease_until__lt=now).update(lease_until=held_until):
        return None
    state.refresh_from_db()
    return state


async def _observe_all(refresher: Refresher[Item], items: list[Item], with_listing: bool) -> Cycle[Item]:
    limit = asyncio.Semaphore(refresher.concurrency)
    async with aws_client(refresher.service) as client:

        async def one(item: Item) -> Observed[Item]:
            async with limit:
                observed_at = timezone.now()
                try:
                    return Observed(item, observed_at, result=await refresher.observe(client, item))
                except AwsError as error:
                    return Observed(item, observed_at, error=error)

        async def listing() -> tuple[list[dict[str, Any]] | None, datetime | None]:
            if not with_listing or refresher.listing is None:
                return None, None
            observed_at = timezone.now()
            return await refresher.listing(client), observed_at

        # Every call runs to its end before the cycle does, even when one fails: a failed listing must not leave
        # observations running on the loop after the cycle returned (they would die at shutdown, with tracebacks).
        outcomes = await asyncio.gather(listing(), *(one(item) for item in items), return_exceptions=True)
        failure = next((outcome for outcome in outcomes if isinstance(outcome, BaseException)), None)
        if failure is not None:
            raise failure
    (listed, listed_at), *observed = outcomes
    return Cycle(observed=list(observed), listing=listed, listing_observed_at=listed_at)


def refresh_run(name: str) -> dict[str, int] | None:
    """One cycle of the named refresher; None when another cycle holds the lease."""
    refresher = _REFRESHERS[name]
    now = timezone.now()
    state = _lease(name, now)
    if state is None:
        return None
    started = time.monotonic()
    runtime = aws_runtime()
    calls_before = runtime.calls
    with_listing = state.listed_at is None or (now - state.listed_at).total_seconds() >= refresher.listing_every_seconds
    error = ""
    summary: dict[str, int] = {}
    try:
        planned = refresher.items(_watched(name))
        items = [*planned.hot, *planned.cold]
        cycle = aws_run(_observe_all(refresher, items, with_listing))
        summary = refresher.apply(cycle)
        failures = [o.error for o in cycle.observed if o.error is not None]
        if failures:
            failed = ngettext("%d item failed", "%d items failed", len(failures)) % len(failures)
            error = f"{failed}; first: {failures[0].code}: {failures[0].message}"
    except AwsError as failure:
        error = f"{failure.code}: {failure.message}"
        logger.warning("Refresh %s: %s", name, error)
    finally:
        RefresherState.objects.filter(pk=state.pk).update(
            lease_until=timezone.now(),
            last_started_at=now,
            last_duration_seconds=time.monotonic() - started,
            last_calls=runtime.calls - calls_before,
            last_error=error,
            **({"listed_at": now} if with_listing and not error else {}),
        )
    return summary


def refreshers_schedule() -> dict[str, dict[str, Any]]:
    """Beat entries: a cycle of every registered refresher every REFRESH_TICK_SECONDS (a cycle in progress skips)."""
    tick = settings.REFRESH_TICK_SECONDS
    return {
        f"refresh-{refresher.name}": {
            "task": "portal.core.tasks.refresh_run",
            "schedule": tick,
            "args": (refresher.name,),
            "options": {"expires": tick, "queue": "refresh"},
        }
        for refresher in refreshers()
    }
