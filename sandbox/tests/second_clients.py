"""The clients the project did not write, installed where the suite looks for them: the AWS SDK for JavaScript v3
(tests/js/node_modules, from tests/js/package-lock.json) and AWS CLI v1 (.venv-cli, from requirements-cli.txt; its
own virtualenv because awscli pins a botocore other than the portal's). Each is installed again only when it is
missing or its pins changed: a stamp beside it holds the digest of the file it was installed from."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rtc_sandbox.testing import missing

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "tests" / "js"
JS_LOCK = JS / "package-lock.json"
CLI_VENV = ROOT / ".venv-cli"
CLI_REQUIREMENTS = ROOT / "requirements-cli.txt"
NODE_MAJOR = 20  # the oldest Node.js the pinned SDK supports (its packages' "engines")
INSTALL_TIMEOUT = 600


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One installer at a time: two pytest processes on one worktree would otherwise install over each other."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _install(command: list[str], cwd: Path, what: str) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {' '.join(command)}\n{result.stdout}{result.stderr}")


def node() -> str:
    """The path of node, with the SDK installed beside the suite; a missing or too old Node.js is `missing`."""
    found, npm = shutil.which("node"), shutil.which("npm")
    if found is None or npm is None:
        missing(f"the AWS SDK for JavaScript suite needs node and npm (Node.js {NODE_MAJOR} or newer) on PATH")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < NODE_MAJOR:
        missing(f"the AWS SDK for JavaScript suite needs Node.js {NODE_MAJOR} or newer; {found} is {version}")
    stamp = JS / "node_modules" / ".installed-from"
    with _exclusive(JS / ".install.lock"):
        if not stamp.exists() or stamp.read_text() != _digest(JS_LOCK):
            # npm ci installs exactly the lock file, and fails rather than change it.
            _install([npm, "ci", "--no-audit", "--no-fund"], JS, "npm ci")
            stamp.write_text(_digest(JS_LOCK))
    return found


def aws_cli() -> Path:
    """The Python of .venv-cli, where the pinned awscli is installed when it is missing or its pin changed."""
    stamp = CLI_VENV / ".installed-from"
    python = CLI_VENV / "bin" / "python"
    with _exclusive(ROOT / ".venv-cli.lock"):
        if not python.exists() or not stamp.exists() or stamp.read_text() != _digest(CLI_REQUIREMENTS):
            # The interpreter this venv came from: a venv made from a venv's python gets the same base Python.
            base = getattr(sys, "_base_executable", sys.executable)
            usable = subprocess.run([base, "-c", "import ensurepip, venv"], capture_output=True, check=False)
            if usable.returncode != 0:
                missing(f"the AWS CLI pass needs Python's venv and ensurepip to make {CLI_VENV}; {base} has none")
            _install([base, "-m", "venv", "--clear", str(CLI_VENV)], ROOT, "python -m venv")
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            _install([*pip, "-r", str(CLI_REQUIREMENTS)], ROOT, "pip install awscli")
            stamp.write_text(_digest(CLI_REQUIREMENTS))
    return python
