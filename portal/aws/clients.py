"""The one place that makes AWS clients, and the event loop they live on.

aioboto3 sessions and clients belong to the event loop that opened them, and opening one costs 70-100 ms of CPU.
So each process keeps one `AwsRuntime`: an event loop running in a thread of its own, the clients opened on it (one
per service and purpose), and the rate limiter. Synchronous code, on any thread of the process (a web worker's
request threads, a Celery child, a test's live server), runs a coroutine on it with `aws_run(...)`, which waits for
its result; coroutines get their client with `async with aws_client(service) as client:`. A client never leaves
that loop, and the runtime never crosses a fork: a child process opens its own at its first use.

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
from collections.abc import AsyncIterator, Coroutine, Iterable
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
    """An event loop running in its own thread, with its clients and rate limiter. One per process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="aws-loop", daemon=True)
        self._clients: dict[tuple[str, bool, str], tuple[tuple[Any, ...], Any, Any]] = {}
        self._lock = asyncio.Lock()
        self.limiter = RateLimiter(_rate_limit_redis_url())
        self.calls = 0
        self._thread.start()

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
        """The coroutine's result, run on the loop; the calling thread waits. If the wait is cut short (a Celery
        soft time limit, Ctrl-C), the coroutine is cancelled rather than left running."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("aws_run() waits for the AWS loop: a coroutine on it awaits instead.")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def clients_open(self, services: Iterable[tuple[str, bool]]) -> None:
        """Open the clients for these (service, mutating) pairs now, so no caller waits for them later."""

        async def open_all() -> None:
            for service, mutating in services:
                await self.client(service, mutating=mutating)

        self.run(open_all())

    def clients_held(self) -> set[tuple[str, bool]]:
        """The (service, mutating) pairs this runtime holds an open client for."""
        return {(service, mutating) for service, mutating, _endpoint in list(self._clients)}

    def close(self) -> None:
        async def close_all() -> None:
            for _fingerprint, _client, opener in self._clients.values():
                await opener.__aexit__(None, None, None)
            self._clients.clear()
            await self.limiter.close()

        try:
            self.run(close_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
            self.loop.close()


_runtime: AwsRuntime | None = None
_opening = threading.Lock()
_inherited: list[AwsRuntime] = []  # a parent's runtime in a forked child: kept, never used nor closed there


@atexit.register
def aws_runtime_close() -> None:
    """Close the process's runtime and its clients (a Celery child at shutdown, every process at exit)."""
    global _runtime
    with _opening:
        runtime, _runtime = _runtime, None
    if runtime is not None and runtime.pid == os.getpid() and not runtime.loop.is_closed():
        runtime.close()


def _forget_inherited_runtime() -> None:
    """A forked child has its parent's runtime object but not its loop's thread: it opens a runtime of its own. The
    parent's stays referenced, so collecting it never closes connections the parent still uses."""
    global _runtime, _opening
    if _runtime is not None:
        _inherited.append(_runtime)
    _runtime = None
    _opening = threading.Lock()


os.register_at_fork(after_in_child=_forget_inherited_runtime)


def aws_runtime() -> AwsRuntime:
    """The process's runtime, opened on first use (a Celery child at start, see portal.core.tasks; a web worker
    at start, see gunicorn.conf.py)."""
    global _runtime
    with _opening:
        if _runtime is None or _runtime.loop.is_closed():
            _runtime = AwsRuntime()
        return _runtime


def aws_run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that calls AWS on the process's AWS loop, with its kept clients; waits for its result."""
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
        raise RuntimeError("AWS calls run on the process's AWS loop: call them through aws_run().")
    overridden = any(key.startswith("AWS_ENDPOINT_URL") for key in os.environ)
    endpoint_url = "" if overridden else resource_endpoint
    client = await runtime.client(service, mutating=mutating, endpoint_url=endpoint_url)
    try:
        yield client
    except Exception as exc:  # every botocore failure becomes one of ours
        raise aws_error_from(exc) from exc
