"""The sandbox's state file (`--state FILE`): everything the sandbox holds, kept across its own restarts.

One JSON document: the account, the clock's reading, the injected faults and quotas, then (pickled, base64) the
simulated services' world and moto's backends for the account, one service each (S3, SQS, SNS, STS). `GET
/_sandbox/state` shows the world as JSON. The file is written whole to a temporary file beside it and moved over it
(os.replace), so a process killed at any moment leaves the previous file or the next, never half of one. Writes follow
changes: at most one per `interval` (the changes of that interval go together), and one at stop.

A file that cannot be read (not JSON, not this shape, another account, a moto snapshot this moto cannot load) is set
aside as FILE.corrupt with a warning, and the sandbox starts empty: it never fails to start because of its file.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import pickle
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtc_sandbox.moto_side import moto_restore, moto_snapshot
from rtc_sandbox.quotas import Fault

if TYPE_CHECKING:
    from rtc_sandbox.app import Sandbox

logger = logging.getLogger("rtc_sandbox")

WRITE_INTERVAL = 0.5  # seconds: how long changes gather before they are written, so at most what is lost to SIGKILL
CLOCK_READING = ("time", "at", "scale")


class StateFile:
    def __init__(self, path: Path, sandbox: Sandbox, *, interval: float = WRITE_INTERVAL) -> None:
        self.path = path
        self.sandbox = sandbox
        self.world = sandbox.world
        self.interval = interval
        # what was last written: the head, the world's pickled state, moto's revisions
        self._written: tuple[str, bytes, tuple[int, ...]] | None = None
        self._moto: dict[str, tuple[int, bytes]] = {}  # service -> (revision, base64 of its pickled backends)
        self._failed = False  # the last write failed: the file is behind the world
        self._saving = threading.Lock()
        self._stopping = threading.Event()
        self._writer = threading.Thread(target=self._write_forever, daemon=True, name="sandbox-state-file")

    # --- reading it at start ------------------------------------------------------------------------------------

    def load(self) -> bool:
        """Restore what the file holds; False (and the file set aside) when it cannot be read, or there is none."""
        self._remove_leftovers()
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return False
        except OSError as error:
            self._set_aside(f"cannot be read ({error})")
            return False
        try:
            self._restore(json.loads(text))
        except Exception as error:  # whatever the file holds, the sandbox starts: JSON, base64, pickle, shape errors
            self._set_aside(f"is not a state this sandbox can restore ({type(error).__name__}: {error})")
            return False
        logger.info("The sandbox restored its state from %s.", self.path)
        return True

    def _restore(self, document: Any) -> None:
        """All or nothing: everything is checked and moto's part read before the world changes."""
        if not isinstance(document, dict):
            raise ValueError("the document is not a JSON object")
        if document.get("account") != self.world.account:
            raise ValueError(f"it is account {document.get('account')!r}'s, not {self.world.account!r}'s")
        state = pickle.loads(base64.b64decode(document["state"], validate=True))
        if not isinstance(state, dict) or not all(isinstance(table, dict) for table in state.values()):
            raise ValueError("its state is not a dict of tables")
        clock = document.get("clock")
        if not isinstance(clock, dict) or sorted(clock) != sorted(CLOCK_READING):
            raise ValueError("its clock is not a reading of time, at and scale")
        if not all(isinstance(clock[name], int | float) for name in CLOCK_READING):
            raise ValueError("its clock's reading is not numbers")
        faults = {key: Fault(**fault) for key, fault in document.get("faults", {}).items()}
        quotas = document.get("quotas", {})
        moto = document["moto"]
        if not isinstance(moto, dict):
            raise ValueError("its moto part is not an object")
        moto_restore(self.world.account, {name: base64.b64decode(text, validate=True) for name, text in moto.items()})
        with self.world.lock:
            self.world.state = state
            self.world.clock.resume(clock)
        for key, fault in faults.items():
            self.sandbox.faults.set(key, fault)
        self.sandbox.limits.configure(enabled=quotas.get("enabled"), rates=quotas.get("rates"))

    def _set_aside(self, reason: str) -> None:
        aside = self.path.with_name(self.path.name + ".corrupt")
        try:
            os.replace(self.path, aside)
        except OSError as error:
            message = "The sandbox state file %s %s, and cannot be set aside (%s): the sandbox starts empty."
            logger.warning(message, self.path, reason, error)
        else:
            message = "The sandbox state file %s %s: it is kept as %s, and the sandbox starts empty."
            logger.warning(message, self.path, reason, aside)

    def _remove_leftovers(self) -> None:
        """Temporary files of a process killed while it wrote one."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    # --- writing it ---------------------------------------------------------------------------------------------

    def start(self) -> StateFile:
        self._writer.start()
        return self

    def stop(self) -> None:
        """Write what changed since the last write; no more writes after."""
        self._stopping.set()
        self.world.changes.set()  # wakes the writer
        if self._writer.is_alive():
            self._writer.join()
        self.save()

    @property
    def saved(self) -> bool:
        """Every change the sandbox has answered for is in the file."""
        return not (self.world.changes.is_set() or self._saving.locked() or self._failed)

    def _write_forever(self) -> None:
        while not self._stopping.is_set():
            self.world.changes.wait()
            if self._stopping.wait(self.interval):
                return
            try:
                self.save()
            except Exception:  # the writer never dies: the next change tries again
                logger.exception("The sandbox could not save its state to %s", self.path)

    def save(self) -> None:
        with self._saving:
            self.world.changes.clear()
            try:
                head, state = self._take()
            except RuntimeError:  # a moto request changed a backend while it was pickled: again in an interval
                logger.debug("The sandbox's moto backends changed while they were saved; saving again.")
                self.world.touch()
                return
            written = (head, state, tuple(self._moto[service][0] for service in sorted(self._moto)))
            if written == self._written:
                return
            try:
                self._write(head, state)
            except OSError as error:
                self._failed = True
                logger.warning("The sandbox could not write its state to %s: %s", self.path, error)
                return
            self._written, self._failed = written, False

    def _take(self) -> tuple[str, bytes]:
        """The document's head as JSON, the world's state pickled, and moto's part brought up to date: a service's
        backends are pickled again only when a moto request or the simulated services wrote to them since (S3's
        objects, the bulk of the file, are not pickled again for an SQS message). All of it under the world's lock,
        so the world and moto are taken at one moment; pickle, not JSON, as it holds the lock (and the GIL) about a
        fifth as long (5 ms against 28 for 2,000 channels and 500 tokens)."""
        with self.world.lock:
            head = {
                "account": self.world.account,
                "clock": self.world.clock.reading(),
                "faults": self.sandbox.faults.describe(),
                "quotas": {"enabled": self.sandbox.limits.enabled, "rates": self.sandbox.limits.rates},
            }
            text = json.dumps(head, separators=(",", ":"))
            state = pickle.dumps(self.world.state, protocol=pickle.HIGHEST_PROTOCOL)
            revisions = dict(self.world.moto_revisions)
            pickled = {
                service: moto_snapshot(self.world.account, service)
                for service, revision in revisions.items()
                if self._moto.get(service, (-1, b""))[0] != revision
            }
        for service, snapshot in pickled.items():
            self._moto[service] = (revisions[service], base64.b64encode(snapshot))
        return text, state

    def _write(self, head: str, state: bytes) -> None:
        """The head with the state and moto's part joined on: base64 needs no JSON escaping, so it is written as
        it is."""
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(head[:-1].encode())
                out.write(b',"state":"')
                out.write(base64.b64encode(state))
                out.write(b'","moto":{')
                for index, service in enumerate(sorted(self._moto)):
                    out.write(b'%s"%s":"' % (b"," if index else b"", service.encode()))
                    out.write(self._moto[service][1])
                    out.write(b'"')
                out.write(b"}}")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
