"""deploy/sma_forwarder: it signs what the portal's handler checks, returns its answer, and falls back politely."""

from __future__ import annotations

import json
import runpy
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from portal.pstn.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_valid

FORWARDER = runpy.run_path(str(Path(__file__).resolve().parents[2] / "deploy/sma_forwarder/lambda_function.py"))
EVENT = {"SchemaVersion": "1.0", "Sequence": 1, "InvocationEventType": "NEW_INBOUND_CALL", "CallDetails": {}}


@pytest.fixture
def portal(monkeypatch) -> Any:
    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen["valid"] = signature_valid(
                "s3cret", self.headers[TIMESTAMP_HEADER], self.headers[SIGNATURE_HEADER], body
            )
            seen["event"] = json.loads(body)
            answer = json.dumps({"SchemaVersion": "1.0", "Actions": [{"Type": "Hangup", "Parameters": {}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("PORTAL_HANDLER_URL", f"http://127.0.0.1:{server.server_address[1]}/pstn/sma/")
    monkeypatch.setenv("SMA_HANDLER_SECRET", "s3cret")
    yield seen
    server.shutdown()
    server.server_close()


def test_the_forwarder_signs_the_event_and_returns_the_portals_answer(portal):
    answer = FORWARDER["lambda_handler"](EVENT, None)
    assert (portal["valid"], portal["event"]) == (True, EVENT)
    assert answer["Actions"] == [{"Type": "Hangup", "Parameters": {}}]


def test_without_the_portal_a_new_caller_hears_an_apology_and_a_call_in_progress_goes_on(monkeypatch):
    monkeypatch.setenv("PORTAL_HANDLER_URL", "http://127.0.0.1:1/pstn/sma/")
    monkeypatch.setenv("SMA_HANDLER_SECRET", "s3cret")
    assert [a["Type"] for a in FORWARDER["lambda_handler"](EVENT, None)["Actions"]] == ["Speak", "Hangup"]
    hangup = {**EVENT, "InvocationEventType": "HANGUP"}
    assert FORWARDER["lambda_handler"](hangup, None) == {"SchemaVersion": "1.0", "Actions": []}
