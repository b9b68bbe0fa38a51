"""`manage.py serve` for real: every Procfile process starts, refreshes reach the refresher, each process is
health-checked, a killed process is started again while the others (web) keep answering, and SIGTERM stops all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.backing_services import free_port, page_answers, wait_until

pytestmark = pytest.mark.serial

ROOT = Path(__file__).resolve().parents[2]


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Prober(threading.Thread):
    """Asks web's /healthz every 0.2 s until stopped, counting the answers that were not 200."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.asked, self.failed = url, 0, []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.asked += 1
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status != 200:
                        self.failed.append(response.status)
            except OSError as error:
                self.failed.append(repr(error))


def _program(loop: int) -> psutil.Process:
    """The program a restart loop runs now (its one child)."""
    children = psutil.Process(loop).children()
    assert len(children) == 1, children
    return children[0]


def _restarted(loop: int, killed: int) -> bool:
    children = psutil.Process(loop).children()
    return len(children) == 1 and children[0].pid != killed


def _healthcheck(name: str, env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "portal.core.health", name, "--max-age", "20"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True).returncode


def test_serve_runs_every_process_restarts_a_killed_one_and_stops_them_all_on_sigterm(tmp_path):
    web_port, sandbox_port = free_port(), free_port()
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
    descendants: set[psutil.Process] = set()
    try:
        wait_until(lambda: page_answers(f"http://127.0.0.1:{web_port}/login/"), timeout=60)
        wait_until(lambda: page_answers(f"http://127.0.0.1:{sandbox_port}/_sandbox/health"), timeout=30)
        refreshed = re.compile(r"refresher\.1 +\| .*refresh_run\[.*\] succeeded")
        wait_until(lambda: refreshed.search(log.read_text()) is not None, timeout=60)
        queue = re.compile(r"meeting-events\.1 +\| Events queue: http://127\.0\.0\.1:\d+/\d+/rtc-portal-")
        wait_until(lambda: queue.search(log.read_text()) is not None, timeout=30)
        assert page_answers(f"http://127.0.0.1:{web_port}/healthz")
        assert page_answers(f"http://127.0.0.1:{web_port}/readyz")
        beating = ("worker", "refresher", "beat", "meeting-events")
        assert {name: _healthcheck(name, env) for name in beating} == dict.fromkeys(beating, 0)

        loops = {name: int(pid) for name, pid in re.findall(r"\| ([\w-]+)\.1 started \(pid=(\d+)\)", log.read_text())}
        prober = Prober(f"http://127.0.0.1:{web_port}/healthz")
        prober.start()
        worker = _program(loops["worker"])
        pool = worker.children()
        assert len(pool) == 2
        killed = {name: _program(loops[name]).pid for name in ("worker", "beat", "meeting-events")}
        killed_at = time.time()
        for pid in killed.values():
            os.kill(pid, signal.SIGKILL)
        for name, pid in killed.items():
            wait_until(lambda name=name, pid=pid: _restarted(loops[name], pid), timeout=10)
            assert re.search(rf"{name}\.1 +\| {name} was killed by SIGKILL after [\d.]+ s", log.read_text())
        wait_until(lambda: not any(child.is_running() for child in pool), timeout=5)  # the worker's pool, orphaned
        heartbeats = Path(env["PORTAL_VAR_DIR"]) / "heartbeats"
        for name in ("worker", "beat", "meeting-events"):  # each is running its loop again
            wait_until(lambda name=name: (heartbeats / name).stat().st_mtime > killed_at + 1, timeout=60)
        assert len(_program(loops["worker"]).children()) == 2
        prober.stopped.set()
        prober.join()
        assert prober.asked > 10
        assert prober.failed == []
        for loop in loops.values():
            descendants |= {psutil.Process(loop), *psutil.Process(loop).children(recursive=True)}
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
    assert len(descendants) > 12
    assert [process for process in descendants if process.is_running()] == []
