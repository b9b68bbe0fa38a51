"""Serve the sandbox: a threaded WSGI server, a ticker that advances lifecycles, optionally a state file; and
`rtc-sandbox`, the command that serves it in the foreground (`main`)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from rtc_sandbox.app import Sandbox
from rtc_sandbox.state import StateFile
from rtc_sandbox.world import DEFAULT_ACCOUNT, World

logger = logging.getLogger("rtc_sandbox")


class _QuietHandler(WSGIRequestHandler):
    """Requests and errors go to the debug log. The request line is what the client sent, parsed or not: a malformed
    one never sets `self.path`, and reading it here would drop the 400 answer with the connection. That answer has a
    status line: before it has read a version, http.server takes a client for HTTP/0.9, which has none."""

    default_request_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%.200s %s", self.requestline, code)

    def log_error(self, format: str, *args: object) -> None:
        logger.debug(format, *args)


class SandboxServer:
    """The sandbox on host:port (port 0 picks a free one). Start, use `.url`, stop.

    With `state_file`, it starts from what the file holds and keeps everything there as it changes (`state.py`);
    moto's backends are this process's, so two sandboxes of one account in one process share them. `clock_scale`
    sets the clock's speed; None keeps the file's (else 1)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        *,
        account: str = DEFAULT_ACCOUNT,
        clock_scale: float | None = None,
        state_file: Path | None = None,
        tick_seconds: float = 0.5,
    ) -> None:
        # moto reads the account its backends belong to from the environment.
        os.environ.setdefault("MOTO_ACCOUNT_ID", account)
        self.world = World(account=account)
        self.sandbox = Sandbox(self.world)
        self.state_file = StateFile(state_file, self.sandbox) if state_file is not None else None
        if self.state_file is not None:
            self.state_file.load()
            self.sandbox.state_file = self.state_file
        if clock_scale is not None:
            self.world.clock.change(scale=clock_scale)
        self._server: BaseWSGIServer = make_server(
            host, port, self.sandbox, threaded=True, request_handler=_QuietHandler
        )
        self._stopping = threading.Event()
        self._tick_seconds = tick_seconds
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _tick_forever(self) -> None:
        while not self._stopping.wait(self._tick_seconds):
            try:
                self.world.tick()
            except Exception:
                logger.exception("The sandbox ticker failed")

    def start(self) -> SandboxServer:
        if self.state_file is not None:
            self.state_file.start()
        for target in (self._server.serve_forever, self._tick_forever):
            thread = threading.Thread(target=target, daemon=True, name=f"sandbox-{target.__name__}")
            thread.start()
            self._threads.append(thread)
        return self

    def serve_forever(self) -> None:
        if self.state_file is not None:
            self.state_file.start()
        ticker = threading.Thread(target=self._tick_forever, daemon=True, name="sandbox-ticker")
        ticker.start()
        try:
            self._server.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown() if self._threads else None
        self._server.server_close()
        if self.state_file is not None:
            self.state_file.stop()


def arguments_parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="rtc-sandbox",
        description="Serve the local AWS sandbox (Chime SDK meetings and voice, IVS Real-Time, KVS signaling, "
        "media pipelines; S3, SQS, SNS and STS through moto).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port (the first line says which).")
    parser.add_argument(
        "--state", type=Path, help="Keep everything the sandbox holds (moto's S3, SQS, SNS too) in this file."
    )
    parser.add_argument("--account", default=DEFAULT_ACCOUNT, help="The simulated AWS account id.")
    parser.add_argument(
        "--clock-scale", type=float, help="Virtual seconds per real second (default: the state file's, else 1)."
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """`rtc-sandbox`: serve until Ctrl-C or SIGTERM, which both save the state file and stop."""
    options = arguments_parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = SandboxServer(
        options.host, options.port, account=options.account, clock_scale=options.clock_scale, state_file=options.state
    )
    print(f"AWS sandbox on {server.url} (account {options.account}); Ctrl-C stops it.", flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops it as Ctrl-C does: state saved
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
