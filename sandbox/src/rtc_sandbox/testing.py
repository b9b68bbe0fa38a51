"""What tests against the sandbox share: pytest fixtures (a sandbox in the test process, its control client, boto3
clients for it), the sandbox as a process of its own (`SandboxProcess`, the `rtc-sandbox` command), a free port, and
what a test does when something it needs is missing (`missing`: a skip, a failure under CI=true).

A test suite takes the fixtures with `-p rtc_sandbox.testing` in its pytest options (this repository's addopts
have it). The server
and moto are imported only when a fixture first needs them: collecting a suite stays fast.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rtc_sandbox.client import SandboxControl
    from rtc_sandbox.server import SandboxServer

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
# The command this package installs, next to the interpreter it was installed for (the virtualenv's bin/), so a test
# runs it whether or not that virtualenv is activated.
COMMAND = str(Path(sys.executable).with_name("rtc-sandbox"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Outside CI a missing program or service skips the test with a visible reason; in CI it fails it."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: nothing may be skipped for a missing service)")
    pytest.skip(reason)


def free_port() -> int:
    """A port nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sandbox_boto(endpoint: str, service: str, *, validate: bool = True, attempts: int = 1) -> Any:
    """A boto3 client for the sandbox; every raw response body is kept on `.raw_bodies` as (operation, status, body)."""
    import boto3
    from botocore.config import Config

    config = Config(parameter_validation=validate, retries={"total_max_attempts": attempts, "mode": "standard"})
    made = boto3.client(service, endpoint_url=endpoint, config=config, **CREDENTIALS)
    made.raw_bodies = []

    def keep(http_response: Any, parsed: Any, model: Any, **kwargs: Any) -> None:
        made.raw_bodies.append((model.name, http_response.status_code, http_response.content))

    made.meta.events.register("after-call", keep)
    return made


class SandboxProcess:
    """`rtc-sandbox --port PORT [--state STATE]`, its output in FOLDER/sandbox.log; the same port each start, as a
    restarted sandbox keeps its endpoint (and so its queue URLs)."""

    def __init__(self, folder: Path, *, state: Path | None, port: int | None = None) -> None:
        self.folder = folder
        self.state = state
        self.port = port or free_port()
        self.log = folder / "sandbox.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> SandboxProcess:
        command = [COMMAND, "--port", str(self.port)]
        if self.state is not None:
            command += ["--state", str(self.state)]
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=self.folder, env=environment, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"the sandbox exited with {self.process.returncode}: {self.log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not answer in {timeout} s: {self.log.read_text()}")
            time.sleep(0.1)
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_sandbox/health", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self, how: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `how` and wait for the process to end; its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(how)
        code = self.process.wait(timeout=timeout)
        self.process = None
        return code

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.process is not None:
            self.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """The sandbox in this process on a free loopback port, its clock 1:1 with real time."""
    from rtc_sandbox.server import SandboxServer

    server = SandboxServer("127.0.0.1", 0, tick_seconds=0.1).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxControl]:
    """The sandbox's control client; every test starts from an empty world with no faults."""
    from rtc_sandbox.client import SandboxControl

    control = SandboxControl(sandbox_server.url)
    control.reset()
    yield control
    control.reset()


@pytest.fixture
def boto_client(sandbox: SandboxControl) -> Callable[..., Any]:
    """Make boto3 clients for the sandbox: boto_client("ivs-realtime", validate=False, attempts=3)."""

    def make(service: str, **options: Any) -> Any:
        return sandbox_boto(sandbox.endpoint, service, **options)

    return make
