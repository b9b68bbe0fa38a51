"""The one place that makes AWS clients, and the event loop they live on.

aioboto3 sessions and clients belong to the event loop that opened them, and opening one costs 70-100 ms of CPU.
So each worker process (and each thread that calls AWS, in tests) keeps one `AwsRuntime`: an event loop, the
clients opened on it (one per service and purpose), and the rate limiter. Synchronous code runs a coroutine on it
with `aws_run(...)`; coroutines get their client with `async with aws_client(service) as client:`.

Retries: the operation pipeline owns retries for mutations, so clients for mutations (`mutating=True`) make exactly
one attempt per call; a lost or throttled mutation is retried by the pipeline, visibly, with its idempotency marker.
Reads keep botocore's retries. Every HTTP attempt, retried or not, first waits its turn in the shared rate limiter.

Endpoints, credentials and read retries come from the standard AWS chain (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_<SERVICE>, AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_MAX_ATTEMPTS, ...). A change in those variables
(tests point clients at different endpoints) opens fresh clients.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aioboto3
from aiobotocore.config import AioConfig
from django.conf import settings

from portal.aws.errors import aws_error_from
from portal.aws.limiter import RateLimiter

T = TypeVar("T")


def aws_endpoint_configured() -> bool:
    """True when AWS_ENDPOINT_URL (or a per-service override) or real credentials are present."""
    if any(key.startswith("AWS_ENDPOINT_URL") for key in os.environ):
        return True
    return bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"))


def _environment_fingerprint() -> tuple[Any, ...]:
    chain = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    return (*chain, settings.AWS_REGION, settings.AWS_CONNECT_TIMEOUT, settings.AWS_READ_TIMEOUT)


def _rate_limit_redis_url() -> str:
    if settings.AWS_RATE_LIMIT_REDIS_URL:
        return settings.AWS_RATE_LIMIT_REDIS_URL
    broker = str(settings.CELERY_BROKER_URL)
    return broker if broker.startswith(("redis://", "rediss://")) else ""


class AwsRuntime:
    """An event loop with its clients and rate limiter. One per process or thread; never shared across loops."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._clients: dict[tuple[str, bool, str], tuple[tuple[Any, ...], Any, Any]] = {}
        self._lock = asyncio.Lock()
        self.limiter = RateLimiter(_rate_limit_redis_url())
        self.calls = 0

    async def client(self, service: str, *, mutating: bool, endpoint_url: str = "") -> Any:
        fingerprint = _environment_fingerprint()
        async with self._lock:
            kept = self._clients.get((service, mutating, endpoint_url))
            if kept is not None and kept[0] == fingerprint:
                return kept[1]
            if kept is not None:
                await kept[2].__aexit__(None, None, None)
            retries = {"total_max_attempts": 1, "mode": "standard"} if mutating else None
            config = AioConfig(
                connect_timeout=settings.AWS_CONNECT_TIMEOUT,
                read_timeout=settings.AWS_READ_TIMEOUT,
                user_agent_appid="rtc-portal",
                retries=retries,
                signature_version="s3v4" if service == "s3" else None,  # presigned S3 URLs are SigV4, as AWS requires
            )
            opener = aioboto3.Session().client(
                service, region_name=settings.AWS_REGION, config=config, endpoint_url=endpoint_url or None
            )
            client = await opener.__aenter__()
            client.meta.events.register("before-send", self._paced(service))
            self._clients[(service, mutating, endpoint_url)] = (fingerprint, client, opener)
            return client

    def _paced(self, service: str) -> Any:
        async def wait_for_turn(event_name: str, **kwargs: Any) -> None:
            self.calls += 1
            await self.limiter.wait(service, event_name.rsplit(".", 1)[-1])

        return wait_for_turn

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        async def close_all() -> None:
            for _fingerprint, _client, opener in self._clients.values():
                await opener.__aexit__(None, None, None)
            self._clients.clear()
            await self.limiter.close()

        try:
            self.loop.run_until_complete(close_all())
        finally:
            self.loop.close()


_local = threading.local()
_opened: list[AwsRuntime] = []  # kept until exit: a thread that ended leaves its runtime to close here


@atexit.register
def _close_every_runtime() -> None:
    """Runtimes of threads that ended (test workers) are closed at exit, so no connection is left dangling."""
    for runtime in list(_opened):
        if not runtime.loop.is_closed() and not runtime.loop.is_running():
            runtime.close()


def aws_runtime() -> AwsRuntime:
    """This thread's runtime, opened on first use (a worker process opens it at start, see portal.celery)."""
    runtime: AwsRuntime | None = getattr(_local, "runtime", None)
    if runtime is None or runtime.loop.is_closed():
        runtime = _local.runtime = AwsRuntime()
        _opened.append(runtime)
    return runtime


def aws_runtime_close() -> None:
    runtime: AwsRuntime | None = getattr(_local, "runtime", None)
    if runtime is not None and not runtime.loop.is_closed():
        runtime.close()
    _local.runtime = None


def aws_run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that calls AWS on this thread's event loop, with its kept clients."""
    return aws_runtime().run(coroutine)


@asynccontextmanager
async def aws_client(service: str, *, mutating: bool = False, resource_endpoint: str = "") -> AsyncIterator[Any]:
    """The kept client for `service` on the running loop; botocore errors leave it as `portal.aws.errors.AwsError`.

    `mutating=True` for calls that change AWS: those are never retried underneath the operation pipeline.
    `resource_endpoint`: an endpoint AWS returned for one resource (a signaling channel's HTTPS endpoint), used unless
    the environment names an endpoint (the sandbox, LocalStack), which then answers for every service.
    """
    runtime = aws_runtime()
    if runtime.loop is not asyncio.get_running_loop():
        raise RuntimeError("AWS calls run on the thread's kept loop: call them through aws_run().")
    overridden = any(key.startswith("AWS_ENDPOINT_URL") for key in os.environ)
    endpoint_url = "" if overridden else resource_endpoint
    client = await runtime.client(service, mutating=mutating, endpoint_url=endpoint_url)
    try:
        yield client
    except Exception as exc:  # every botocore failure becomes one of ours
        raise aws_error_from(exc) from exc
