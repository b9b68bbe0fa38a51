"""Processes for fault drills: a Redis of the drill's own, a real Celery worker in a subprocess, and the sweeper.

A drill (stage_drill.py is the first) requests operations through the services, breaks things while the worker runs
them (faults injected by the sandbox, a worker child killed mid-call, the broker restarted with its data lost), runs
the sweeper until nothing is queued or running, then judges the outcome from the sandbox's state and the database.
Nothing here needs pytest: bench/fault_run.py drives the same pieces. Every wait is on a condition, with a deadline.

The test process must send its tasks to the drill's Redis (tests.backing_services.celery_app_sending_to), so that
the operations it requests, the sweeper's re-queues and the worker's control commands all go there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import redis
from django.test import override_settings

from tests.backing_services import wait_until

REPOSITORY = Path(__file__).resolve().parents[2]
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
DRILL_PORTS = range(18100, 18200)
OPERATION_TASK = "portal.core.tasks.operation_run"


@dataclass(frozen=True)
class DrillConfig:
    """The pipeline's timing during a drill: short enough that the sweeper acts within seconds."""

    stuck_after_seconds: int = 8
    backoff_base_seconds: float = 0.2
    backoff_max_seconds: float = 2.0
    max_attempts: int = 25
    throttle: float = 0.2
    error: float = 0.05
    kill_latency_ms: int = 1500
    settle_seconds: float = 120

    def environment(self) -> dict[str, str]:
        return {
            "OPERATION_STUCK_AFTER_SECONDS": str(self.stuck_after_seconds),
            "OPERATION_BACKOFF_BASE_SECONDS": str(self.backoff_base_seconds),
            "OPERATION_BACKOFF_MAX_SECONDS": str(self.backoff_max_seconds),
            "OPERATION_MAX_ATTEMPTS": str(self.max_attempts),
        }

    def settings(self) -> override_settings:
        """The same timing for this process, where the requests and the sweeper run."""
        return override_settings(
            OPERATION_STUCK_AFTER_SECONDS=self.stuck_after_seconds,
            OPERATION_BACKOFF_BASE_SECONDS=self.backoff_base_seconds,
            OPERATION_BACKOFF_MAX_SECONDS=self.backoff_max_seconds,
            OPERATION_MAX_ATTEMPTS=self.max_attempts,
        )


def free_port(ports: Iterable[int] = DRILL_PORTS) -> int:
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"No free port in {ports}.")


def terminate(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM, and SIGKILL if the process has not exited within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


class RedisServer:
    """redis-server on a free loopback port, keeping nothing on disk; it can crash and come back on the same port."""

    def __init__(self, *, ports: Iterable[int] = DRILL_PORTS, binary: str = REDIS_SERVER) -> None:
        self.binary = binary
        self.port = free_port(ports)
        self.folder = Path(tempfile.mkdtemp(prefix="drill-redis-"))
        self.log_path = self.folder / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([*command, "--dir", str(self.folder)], stdout=log, stderr=log)
        wait_until(self._answers, timeout=15, interval=0.05)
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n{log_tail(self.log_path)}")
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.ConnectionError:
            return False

    def crash(self) -> None:
        """SHUTDOWN NOSAVE: the server exits and every message it held, waiting or reserved, is lost."""
        assert self.process is not None
        redis.Redis.from_url(self.url).shutdown(nosave=True)
        self.process.wait(timeout=15)

    def restart(self) -> None:
        """Crash, then start an empty server on the same port."""
        self.crash()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, timeout=15)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def postgres_url(settings_dict: dict[str, Any]) -> str:
    """The URL of the database Django is connected to (django.db.connection.settings_dict), for another process."""
    if "postgresql" not in settings_dict["ENGINE"]:
        raise RuntimeError("A drill's worker needs PostgreSQL: it shares the database with this process.")
    credentials = quote(settings_dict.get("USER") or "postgres", safe="")
    if settings_dict.get("PASSWORD"):
        credentials += ":" + quote(settings_dict["PASSWORD"], safe="")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}@{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


def worker_environment(*, broker_url: str, aws_endpoint: str, var_dir: Path, config: DrillConfig) -> dict[str, str]:
    """portal.settings pointed at this process's database, the drill's broker and the sandbox. AWS_MAX_ATTEMPTS=1: no
    SDK retries, so every throttle and 5xx reaches the operation pipeline."""
    from django.conf import settings
    from django.db import connection

    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CELERY_", "DJANGO_"))}
    return {
        **inherited,
        **config.environment(),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "PORTAL_VAR_DIR": str(var_dir),
        "DATABASE_URL": postgres_url(connection.settings_dict),
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": broker_url,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
        "LOG_LEVEL": "WARNING",
    }


@dataclass(frozen=True)
class KilledCall:
    pid: int
    operation_id: int


class CeleryWorker:
    """`celery -A portal worker --pool prefork` in a process group of its own; its children run the tasks."""

    def __init__(self, environment: dict[str, str], *, concurrency: int = 2, queues: str = "celery,refresh") -> None:
        self.environment = environment
        self.node = f"drill-{secrets.token_hex(4)}@{socket.gethostname()}"
        self.command = [
            sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "prefork", "-c", str(concurrency),
            "-Q", queues, "-n", self.node, "--loglevel", "INFO", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        self.log_path = Path(environment["PORTAL_VAR_DIR"]) / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryWorker:
        from portal import celery_app

        if celery_app.conf.broker_url != self.environment["CELERY_BROKER_URL"]:
            raise RuntimeError("Send this process's tasks to the worker's broker first (celery_app_sending_to).")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=REPOSITORY, env=self.environment, stdout=log, stderr=log, start_new_session=True
            )
        wait_until(self._ready, timeout=60, interval=0.2)
        return self

    def _ready(self) -> bool:
        from portal import celery_app

        self._check_alive()
        with celery_app.connection_for_write() as connection:  # a fresh one: pooled ones die with the broker
            return bool(celery_app.control.ping(destination=[self.node], timeout=0.5, limit=1, connection=connection))

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"The worker exited with {self.process.returncode}:\n{log_tail(self.log_path)}")

    def children(self) -> list[psutil.Process]:
        assert self.process is not None
        return psutil.Process(self.process.pid).children()

    def running(self) -> list[tuple[int, int]]:
        """(child pid, operation id) of every operation the worker's children are running now."""
        from portal import celery_app

        with celery_app.connection_for_write() as connection:  # a fresh one: pooled ones die with the broker
            inspect = celery_app.control.inspect(destination=[self.node], timeout=0.5, limit=1, connection=connection)
            replies = inspect.active() or {}
        return [
            (task["worker_pid"], task["args"][0])
            for task in replies.get(self.node, [])
            if task["name"] == OPERATION_TASK
        ]

    def kill_child_mid_call(self, *, port: int, wanted: Callable[[int], bool], timeout: float = 30) -> KilledCall:
        """SIGKILL the child running a wanted operation while it holds a connection to `port` (the call in flight)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            for pid, operation_id in self.running():
                if wanted(operation_id) and _connected(pid, port):
                    os.kill(pid, signal.SIGKILL)
                    return KilledCall(pid, operation_id)
            time.sleep(0.05)
        raise AssertionError(f"No wanted operation was caught mid-call within {timeout} s.")

    def stop(self) -> None:
        """Warm shutdown (running tasks finish), then SIGKILL whatever is left in the worker's process group."""
        if self.process is None:
            return
        terminate(self.process, timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class CeleryBeat:
    """`celery -A portal beat` with the database scheduler, as the Procfile runs it, in a process group of its own."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.command = [
            sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO",
            "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
        ]  # fmt: skip
        self.log_path = Path(environment["PORTAL_VAR_DIR"]) / "beat.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryBeat:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=REPOSITORY, env=self.environment, stdout=log, stderr=log, start_new_session=True
            )
        wait_until(self.sending, timeout=60, interval=0.2)
        return self

    def sending(self) -> bool:
        """True once beat has sent a task (it is running); raises if it exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"Beat exited with {self.process.returncode}:\n{log_tail(self.log_path)}")
        return "Sending due task" in self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is None:
            return
        terminate(self.process, timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def __enter__(self) -> CeleryBeat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _connected(pid: int, port: int) -> bool:
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return False
    return any(c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port == port for c in connections)


@dataclass(frozen=True)
class Settled:
    unfinished: list[Any]
    resent: int  # operations the sweeper sent to the broker again, counted once per sweep


def operations_settle(*, timeout: float, sweep_every: float | None = 1.0) -> Settled:
    """Wait until no operation is queued or running, or the deadline passes, running the sweeper every `sweep_every`
    seconds (None: never)."""
    from portal.core.models import Operation
    from portal.core.services import operations_requeue_stuck

    unfinished_states = (Operation.Status.QUEUED, Operation.Status.RUNNING)
    deadline = time.monotonic() + timeout
    next_sweep = 0.0
    resent = 0
    while True:
        unfinished = list(Operation.objects.filter(status__in=unfinished_states).order_by("id"))
        if not unfinished or time.monotonic() >= deadline:
            return Settled(unfinished, resent)
        if sweep_every is not None and time.monotonic() >= next_sweep:
            resent += operations_requeue_stuck()
            next_sweep = time.monotonic() + sweep_every
        time.sleep(0.2)
