"""The web process as gunicorn.conf.py starts it: idle connections never hold back a request, and a worker has its
AWS clients open before its first request."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.backing_services import free_port, page_answers, wait_until

pytestmark = pytest.mark.serial

ROOT = Path(__file__).resolve().parents[2]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def gunicorn_serving(tmp_path: Path, *, workers: int, env_extra: dict[str, str] | None = None) -> Iterator[str]:
    """gunicorn with gunicorn.conf.py serving the portal through tests.integration.web_probe, with `workers` worker
    processes and the environment's `env_extra`; AWS is an endpoint nothing listens on (opening a client calls
    nothing). Yields the base URL once the server accepts connections: its first request is the caller's own."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "DATABASE_", "WEB_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(tmp_path),
        "DEBUG": "true",
        "CELERY_BROKER_URL": "filesystem://",
        "WEB_CONCURRENCY": str(workers),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    } | (env_extra or {})
    command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    log = tmp_path / "web.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*command, "tests.integration.web_probe:application"], cwd=ROOT, env=env, stdout=output, stderr=output
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: server.poll() is not None or _accepts(port), timeout=60)
        assert server.poll() is None, log.read_text()
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def web_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The web process as gunicorn.conf.py starts it, with `workers` worker processes (the test's parameter; 2 by
    default, this machine's CPUs, as `make run` has them)."""
    with gunicorn_serving(tmp_path, workers=getattr(request, "param", 2)) as base:
        yield base


def test_idle_and_slow_connections_never_hold_back_a_request(web_server):
    """Chromium opens spare connections it may never use. A sync worker waited on each until its timeout (30 s),
    so two of them starved a two-worker server. Here many are open, and more that sent a form's headers but not
    yet its body, and pages still answer at once."""
    port = int(web_server.rsplit(":", 1)[1])
    wait_until(lambda: page_answers(f"{web_server}/login/"), timeout=60)  # both workers booted
    with ExitStack() as held:
        for _ in range(20):
            held.enter_context(socket.create_connection(("127.0.0.1", port)))
        for _ in range(10):
            slow = held.enter_context(socket.create_connection(("127.0.0.1", port)))
            slow.sendall(b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nuser")
        for _ in range(3):
            with urllib.request.urlopen(f"{web_server}/login/", timeout=5) as response:
                assert response.status == 200
                assert b'name="username"' in response.read()


@pytest.mark.parametrize("web_server", [1], indirect=True)
def test_a_web_worker_has_its_aws_clients_open_before_its_first_request(web_server):
    """The first CreateAttendee of a fresh worker must not open its client inside the caller's 0.5 s: the worker
    opened it at start. The probe's request is the first its one worker serves."""
    with urllib.request.urlopen(f"{web_server}/_probe/aws-clients", timeout=60) as response:
        held = {tuple(pair) for pair in json.loads(response.read())}
    assert ("chime-sdk-meetings", True) in held
    assert ("s3", False) in held


def _sma_status(base: str, forwarded_for: str) -> int:
    """An unsigned invocation of the SMA handler, as the proxy in front would pass it on: the rate limit by address
    answers first (429), else the signature check (403)."""
    request = urllib.request.Request(
        f"{base}/pstn/sma/", data=b"{}", method="POST", headers={"X-Forwarded-For": forwarded_for}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("trusted", [True, False], ids=["proxy-trusted", "proxy-not-trusted"])
def test_behind_a_trusted_proxy_the_sma_rate_limit_counts_each_forwarded_address(tmp_path, trusted):
    """Issue 21, item 4: gunicorn gives every request the proxy's address. With the proxy (here 127.0.0.1) in
    TRUSTED_PROXIES, an attacker's invocations past the limit no longer refuse AWS's from another address; with it
    not trusted, X-Forwarded-For is ignored and every request counts against the peer's one limit."""
    env = {"TRUSTED_PROXIES": "127.0.0.1" if trusted else "", "SMA_HANDLER_RATE_PER_SECOND": "1"}
    with gunicorn_serving(tmp_path, workers=1, env_extra=env) as base:
        wait_until(lambda: page_answers(f"{base}/login/"), timeout=60)
        others: list[int] = []
        for attempt in range(3):  # a second may end between the two: each try counts a new address then
            attacker = [_sma_status(base, "203.0.113.5") for _ in range(5)]
            assert 429 in attacker, attacker  # past the limit of one a second
            others.append(_sma_status(base, f"203.0.113.{10 + attempt}"))
            if others[-1] == 429:
                break
    if trusted:
        assert others == [403, 403, 403]  # its own address, under its own limit
    else:
        assert others[-1] == 429  # the forged header changes nothing: one peer, one limit
