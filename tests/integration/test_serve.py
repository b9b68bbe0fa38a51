"""`manage.py serve` for real: every Procfile process starts, refreshes reach the refresher, SIGTERM stops all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.backing_services import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_runs_every_process_and_stops_them_on_sigterm(tmp_path):
    web_port, sandbox_port = _free_port(), _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in {"DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY"}
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(tmp_path),
        "DEBUG": "true",
        "CELERY_BROKER_URL": "filesystem://",
        "WEB_CONCURRENCY": "2",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        serve = subprocess.Popen(
            [*manage, "serve", "--port", str(web_port), "--sandbox-port", str(sandbox_port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{web_port}/login/"), timeout=60)
        wait_until(lambda: _answers(f"http://127.0.0.1:{sandbox_port}/_sandbox/health"), timeout=30)
        refreshed = re.compile(r"refresher\.1 +\| .*refresh_run\[.*\] succeeded")
        wait_until(lambda: refreshed.search(log.read_text()) is not None, timeout=60)
        queue = re.compile(r"meeting-events\.1 +\| Meeting events queue: http://127\.0\.0\.1:\d+/\d+/rtc-portal-")
        wait_until(lambda: queue.search(log.read_text()) is not None, timeout=30)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    output = log.read_text()
    assert "AWS endpoint: the sandbox at" in output
    assert "Broker: filesystem:// (from the environment)" in output
    started = {name: int(pid) for name, pid in re.findall(r"\| ([\w-]+)\.1 started \(pid=(\d+)\)", output)}
    assert set(started) == {"web", "worker", "refresher", "beat", "meeting-events", "sandbox"}
    assert not re.search(r"worker\.1 +\| .*refresh_run\[", output)  # the default queue's worker never has it
    for pid in started.values():
        wait_until(lambda pid=pid: not _group_alive(pid), timeout=5)
