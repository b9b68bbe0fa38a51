"""The sandbox as a real process (`manage.py sandbox`) on a free port: started, killed and started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from tests.backing_services import free_port

ROOT = Path(__file__).resolve().parents[2]


class SandboxProcess:
    """`manage.py sandbox --port PORT [--state STATE]`, its output in FOLDER/sandbox.log; the same port each start,
    as a restarted sandbox keeps its endpoint (and so its queue URLs)."""

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
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "SECRET_KEY": "sandbox-process",
            "PORTAL_VAR_DIR": str(self.folder),
        }
        command = [sys.executable, "manage.py", "sandbox", "--port", str(self.port)]
        if self.state is not None:
            command += ["--state", str(self.state)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=log)
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
