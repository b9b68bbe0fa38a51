"""Serve the sandbox: a threaded WSGI server, a ticker that advances lifecycles, optionally a state file."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from portal.sandbox.app import Sandbox
from portal.sandbox.state import StateFile
from portal.sandbox.world import DEFAULT_ACCOUNT, World

logger = logging.getLogger("portal.sandbox")


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
