"""Run the whole panel in the foreground: the sandbox, web (ASGI), Celery worker and beat. Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def _relay(name: str, stream: IO[bytes]) -> None:
    for raw in iter(stream.readline, b""):
        sys.stdout.write(f"[{name:<6}] {raw.decode(errors='replace')}")
        sys.stdout.flush()


class Command(BaseCommand):
    help = "Run web, worker and beat together in the foreground (what `make run` starts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=4566)

    def _broker_environment(self, env: dict[str, str]) -> None:
        configured = env.get("CELERY_BROKER_URL") or env.get("REDIS_URL")
        if configured:
            self.stdout.write(f"Broker: {configured} (from the environment)")
        elif _reachable("127.0.0.1", 6379):
            env["CELERY_BROKER_URL"] = DEFAULT_REDIS
            self.stdout.write(f"Broker: {DEFAULT_REDIS} (a Redis server is running there)")
        else:
            self.stdout.write("Broker: embedded filesystem broker under var/broker (no Redis reachable)")

    def _aws_environment(self, env: dict[str, str], sandbox_port: int) -> bool:
        """Point the portal at AWS as configured, or at a sandbox of its own. True when the sandbox must start."""
        endpoint = env.get("AWS_ENDPOINT_URL")
        if endpoint:
            self.stdout.write(f"AWS endpoint: {endpoint} (from the environment)")
            return False
        if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE"):
            self.stdout.write("AWS endpoint: the real AWS endpoints, with credentials from the environment")
            return False
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{sandbox_port}"
        env["AWS_ACCESS_KEY_ID"] = env["AWS_SECRET_ACCESS_KEY"] = "sandbox"
        self.stdout.write(f"AWS endpoint: the sandbox at {env['AWS_ENDPOINT_URL']} (no AWS credentials configured)")
        return True

    def handle(self, *args: object, **options: object) -> None:
        env = dict(os.environ)
        self._broker_environment(env)
        sandbox_port = int(options["sandbox_port"])  # type: ignore[arg-type]
        with_sandbox = self._aws_environment(env, sandbox_port)
        python = sys.executable
        commands: dict[str, list[str]] = {}
        if with_sandbox:
            state = str(Path(settings.VAR_DIR) / "sandbox-state.json")
            commands["sandbox"] = [python, "manage.py", "sandbox", "--port", str(sandbox_port), "--state", state]
        commands |= {
            "web": [
                python,
                "-m",
                "uvicorn",
                "portal.asgi:application",
                "--host",
                str(options["host"]),
                "--port",
                str(options["port"]),
                "--no-access-log",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--without-mingle",
                "--without-gossip",
            ],
            "beat": [python, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO"],
        }
        children: dict[str, subprocess.Popen[bytes]] = {}
        for name, command in commands.items():
            child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            children[name] = child
            assert child.stdout is not None
            threading.Thread(target=_relay, args=(name, child.stdout), daemon=True).start()
        self.stdout.write(f"RTC Portal: http://{options['host']}:{options['port']}/  (Ctrl-C stops everything)")

        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        failed = self._supervise(children, stopping)
        self.stdout.write("Stopping…")
        self._stop(children)
        if failed:
            sys.exit(1)

    def _supervise(self, children: dict[str, subprocess.Popen[bytes]], stopping: threading.Event) -> bool:
        """Wait for Ctrl-C or SIGTERM; True when a child died on its own first."""
        while not stopping.wait(0.5):
            for name, child in children.items():
                if child.poll() is not None and not stopping.wait(0.5):
                    self.stderr.write(f"{name} exited with code {child.returncode}; stopping the rest.")
                    return True
        return False

    def _stop(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
