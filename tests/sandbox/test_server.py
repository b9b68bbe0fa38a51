"""The sandbox server itself: state persisted across restarts, the account, and the portal never importing it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from portal.sandbox.server import SandboxServer
from tests.conftest import sandbox_boto

ROOT = Path(__file__).resolve().parents[2]


def _kvs(server: SandboxServer):
    return sandbox_boto(server.url, "kinesisvideo")


def test_state_survives_a_restart_with_a_state_file(tmp_path):
    """In this process (tests/sandbox/test_state_file.py restarts a real one), on an account of its own: moto's
    backends are the process's, and restoring the file puts back the account's in place of what moto holds."""
    state = tmp_path / "sandbox.json"
    first = SandboxServer("127.0.0.1", 0, account="444455556666", state_file=state).start()
    arn = _kvs(first).create_signaling_channel(ChannelName="kept")["ChannelARN"]
    first.stop()
    assert state.exists()

    second = SandboxServer("127.0.0.1", 0, account="444455556666", state_file=state).start()
    try:
        assert _kvs(second).describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["ChannelName"] == "kept"
    finally:
        second.stop()


def test_the_account_is_configurable():
    server = SandboxServer("127.0.0.1", 0, account="111122223333").start()
    try:
        assert _kvs(server).create_signaling_channel(ChannelName="acct")["ChannelARN"].split(":")[4] == "111122223333"
    finally:
        server.stop()


def test_the_portal_runtime_never_imports_the_sandbox():
    code = (
        "import django, sys; django.setup(); import portal.urls, portal.core.tasks, portal.core.services; "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "print(sorted(m for m in sys.modules if m.startswith('portal.sandbox')))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "portal.settings", "SECRET_KEY": "x", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_management_command_serves_the_sandbox(tmp_path):
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"DJANGO_SETTINGS_MODULE": "portal.settings", "SECRET_KEY": "x", "PATH": "/usr/bin:/bin",
           "PORTAL_VAR_DIR": str(tmp_path)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GARBAGE", 400),
        (b"GET /_sandbox/health HTTP/1.1 extra", 400),
        (b"GET /_sandbox/health HTTP/x.y", 400),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1", 414),
    ],
    ids=["one-word", "four-words", "bad-version", "too-long"],
)
def test_a_malformed_request_line_is_answered(sandbox_server, request_line, status):
    host, port = sandbox_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request_line + b"\r\nHost: x\r\n\r\n")
        answer = connection.recv(200)
    version, code, _ = answer.split(b" ", 2)
    assert (version[:7], code) == (b"HTTP/1.", str(status).encode())
