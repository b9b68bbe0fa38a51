"""The sandbox server itself: state persisted across restarts, the account, the `rtc-sandbox` command, no Django."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from rtc_sandbox.client import SandboxControl
from rtc_sandbox.server import SandboxServer
from rtc_sandbox.testing import SandboxProcess, sandbox_boto


def _kvs(server: SandboxServer):
    return sandbox_boto(server.url, "kinesisvideo")


def test_state_survives_a_restart_with_a_state_file(tmp_path):
    """In this process (test_state_file.py restarts a real one), on an account of its own: moto's
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


def test_the_command_serves_until_sigterm(tmp_path):
    """`rtc-sandbox` (the installed command) answers, and SIGTERM stops it as Ctrl-C does: exit 0, state saved."""
    state = tmp_path / "state.json"
    with SandboxProcess(tmp_path, state=state) as process:
        process.start()
        assert SandboxControl(process.url).health()["stateFile"]["path"] == str(state)
        assert process.stop() == 0
    assert state.exists()


# Run with django unimportable: every module of the package imports, and a server on a free port answers.
WITHOUT_DJANGO = """
import importlib, pkgutil, sys, urllib.request
sys.modules["django"] = None
import rtc_sandbox
for module in pkgutil.walk_packages(rtc_sandbox.__path__, "rtc_sandbox."):
    importlib.import_module(module.name)
from rtc_sandbox.server import SandboxServer
server = SandboxServer("127.0.0.1", 0).start()
with urllib.request.urlopen(server.url + "/_sandbox/health", timeout=10) as response:
    print(response.status, sorted(name for name in sys.modules if name.split(".")[0] in ("django", "portal")))
server.stop()
"""


def test_every_module_imports_and_serves_without_django(tmp_path):
    environment = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_DJANGO], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "200 ['django']"  # django: the None put there, never a real import


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
