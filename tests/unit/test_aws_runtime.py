"""The AWS runtime: one event loop per process with kept clients, and one rate limit per API for everyone."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from portal.aws.clients import aws_client, aws_run, aws_runtime
from portal.aws.limiter import RateLimiter
from tests.backing_services import TEST_REDIS_URL, missing, reachable


async def _client(service: str, *, mutating: bool = False) -> object:
    async with aws_client(service, mutating=mutating) as client:
        return client


def test_clients_are_kept_across_calls_on_the_threads_loop(aws_endpoint):
    first = aws_run(_client("ivs-realtime"))
    assert aws_run(_client("ivs-realtime")) is first
    assert aws_run(_client("ivs-realtime", mutating=True)) is not first


def test_every_thread_of_a_process_calls_through_one_loop_and_its_clients(aws_endpoint):
    """A web worker answers requests on many threads: they share the process's loop and its clients (a thread of its
    own would open every client again, inside the first caller's wait)."""
    first = aws_run(_client("chime-sdk-meetings", mutating=True))
    with ThreadPoolExecutor(max_workers=8) as threads:
        clients = list(threads.map(lambda _: aws_run(_client("chime-sdk-meetings", mutating=True)), range(16)))
    assert all(client is first for client in clients)
    assert ("chime-sdk-meetings", True) in aws_runtime().clients_held()


def test_clients_opened_ahead_are_the_ones_calls_get(aws_endpoint):
    aws_runtime().clients_open([("s3", False)])
    assert ("s3", False) in aws_runtime().clients_held()
    held = aws_runtime()._clients[("s3", False, "")][1]
    assert aws_run(_client("s3")) is held


def _call_in_child(out: multiprocessing.Queue) -> None:
    aws_run(_client("ivs-realtime"))
    out.put((aws_runtime().pid, os.getpid()))


def test_a_forked_child_opens_a_runtime_of_its_own(aws_endpoint):
    """Clients must not cross a fork (their connections would be the parent's): a child's first call opens its own
    runtime, on a loop thread it runs itself."""
    aws_run(_client("ivs-realtime"))
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_call_in_child, args=(out,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    runtime_pid, child_pid = out.get(timeout=1)
    assert runtime_pid == child_pid != os.getpid()
    assert aws_runtime().pid == os.getpid()


def test_a_changed_endpoint_opens_a_fresh_client(aws_endpoint, monkeypatch):
    first = aws_run(_client("ivs-realtime"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    second = aws_run(_client("ivs-realtime"))
    assert second is not first
    assert second.meta.endpoint_url == "http://127.0.0.1:9"


def test_mutations_make_one_attempt_and_reads_keep_the_sdks_retries(aws_endpoint, monkeypatch):
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    mutating = aws_run(_client("ivs-realtime", mutating=True))
    reading = aws_run(_client("ivs-realtime"))
    assert mutating.meta.config.retries["total_max_attempts"] == 1
    assert reading.meta.config.retries is None or reading.meta.config.retries.get("total_max_attempts", 2) > 1


def test_a_coroutine_on_another_loop_is_refused(aws_endpoint):
    with pytest.raises(RuntimeError, match="aws_run"):
        asyncio.run(_client("ivs-realtime"))


def test_every_call_waits_its_turn_in_the_limiter(aws_endpoint, sandbox):
    runtime = aws_runtime()
    before = runtime.calls
    aws_run(_list_stages())
    assert runtime.calls == before + 1


async def _list_stages() -> None:
    async with aws_client("ivs-realtime") as ivs:
        await ivs.list_stages()


def _reservations(limiter_url: str, count: int, out: list[float]) -> None:
    limiter = RateLimiter(limiter_url)

    async def reserve() -> None:
        for _ in range(count):
            out.append(await limiter._reserve("rtc-portal:rate:test:ivs-realtime:ListStages", 0.2))
        await limiter.close()

    asyncio.run(reserve())


def test_two_limiters_that_share_only_redis_share_one_schedule():
    if not reachable(TEST_REDIS_URL):
        missing(f"Redis at {TEST_REDIS_URL} does not answer")
    import redis

    redis.Redis.from_url(TEST_REDIS_URL).delete("rtc-portal:rate:test:ivs-realtime:ListStages")
    waits: list[float] = []
    threads = [threading.Thread(target=_reservations, args=(TEST_REDIS_URL, 5, waits)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Ten reservations on one 5-per-second budget, from two limiters that share nothing but Redis: one slot each,
    # 0.2 s apart, so the furthest waits about 1.8 s.
    assert len(waits) == 10
    assert max(waits) == pytest.approx(1.8, abs=0.15)


def test_without_redis_the_process_keeps_its_own_schedule():
    waits: list[float] = []
    _reservations("", 5, waits)
    assert max(waits) == pytest.approx(0.8, abs=0.1)
