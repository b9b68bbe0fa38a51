"""Keep one Procfile process running: `python -m portal.core.restarts NAME COMMAND`, as `manage.py serve` starts it.

honcho runs this in a process group of its own; COMMAND runs (through `sh -c`, so the Procfile's `${VAR:-default}`
expand) in that same group, so honcho's SIGTERM, and its SIGKILL 5 s later, reach it and all its children at once.
When COMMAND exits by itself it is started again after a delay: 1 s, doubling at each exit up to 30 s, and back to
1 s once it has run for RESTART_RESET_SECONDS. Before it starts again, whatever it left behind in the group (a
gunicorn or Celery pool child whose parent was killed) is killed. SIGTERM or SIGINT ends the loop: this process
waits for COMMAND to stop and exits with its status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

RESTART_FIRST_DELAY_SECONDS = 1.0
RESTART_MAX_DELAY_SECONDS = 30.0
RESTART_RESET_SECONDS = 60.0


def restart_delay(previous: float | None, ran_seconds: float) -> float:
    """How long to wait before starting again a process that ran this long, given the delay before its last start."""
    if previous is None or ran_seconds >= RESTART_RESET_SECONDS:
        return RESTART_FIRST_DELAY_SECONDS
    return min(previous * 2, RESTART_MAX_DELAY_SECONDS)


def exit_described(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


def group_leftovers_kill() -> list[int]:
    """SIGKILL every other process of this process group (read from /proc: Linux); the pids killed."""
    group, me = os.getpgrp(), os.getpid()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == group and fields[0] != "Z":
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(int(entry.name))
    return killed


def say(line: str) -> None:
    print(line, flush=True)


def keep_running(name: str, command: str) -> int:
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)  # a group of its own (honcho's already is one): the leftovers killed are only its own
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)  # honcho signals the whole group; this covers a signal to us alone

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay: float | None = None
    while not stopping.is_set():
        started = time.monotonic()
        child = subprocess.Popen(["sh", "-c", f"exec {command}"])
        returncode = child.wait()
        ran = time.monotonic() - started
        leftovers = group_leftovers_kill()
        if stopping.is_set():
            return returncode if returncode >= 0 else 128 - returncode
        delay = restart_delay(delay, ran)
        left = f"; killed what it left running (pids {', '.join(map(str, leftovers))})" if leftovers else ""
        say(f"{name} {exit_described(returncode)} after {ran:.1f} s{left}; restarting it in {delay:g} s")
        if stopping.wait(delay):
            return 0
        say(f"{name} restarting now")
    return 0


if __name__ == "__main__":
    sys.exit(keep_running(sys.argv[1], sys.argv[2]))
