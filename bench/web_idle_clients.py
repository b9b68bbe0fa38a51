"""Idle and slow clients must not delay anyone else: the stage list's p99 while they are held open, against its p99
without them.

    .venv/bin/python bench/web_idle_clients.py                                   # gunicorn as gunicorn.conf.py says
    .venv/bin/python bench/web_idle_clients.py --gunicorn-arg=--worker-class=sync --gunicorn-arg=--threads=1
                                                                                 # the old model: sync workers

Seeds the stages on PostgreSQL (a database `bench_web_idle`, created and dropped here), starts gunicorn with
gunicorn.conf.py on a free port as the Procfile does, logs in over HTTP, then loads GET /stages/?page=2 (the partial,
`HX-Request: true`) with Debian's `wrk` in rounds (`--rounds`, 3): unloaded, then while this script holds open
`--idle` TCP connections that never send a byte (Chromium's speculative pre-connect; one closed by the server is
opened again at once) and `--slow` clients that send a POST /login/'s headers with a Content-Length and then dribble
its body a byte per second (one answered or closed is opened again). Prints both p99s of each round, the median of
their ratios (target at most 2x: on a machine others share, one round's ratio moves with their load), the errors
(responses other than 2xx, socket errors and timeouts of wrk: target 0), what the held clients met, and the CPU the
server spends on them alone (5 s with them open, before the first loaded run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.web_load import (
    WRK_SCRIPT,
    check_partial,
    cpu_seconds,
    free_port,
    log_in,
    postgres_drop,
    postgres_recreate,
    seed,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/bench_web_idle"
SLOW_BODY_BYTES = 600


@dataclass
class HeldClients:
    """What the idle and slow clients met while they were held open."""

    opened: int = 0
    refused: int = 0
    closed_by_server: int = 0
    answered: dict[str, int] = field(default_factory=dict)


async def _idle(port: int, held: HeldClients, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            held.refused += 1
            await asyncio.sleep(0.1)
            continue
        held.opened += 1
        waiting = asyncio.ensure_future(reader.read(65536))
        await asyncio.wait([waiting, asyncio.ensure_future(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        if waiting.done():
            data = waiting.result()
            if data:
                status = data.split(b" ", 2)[1].decode(errors="replace") if data.startswith(b"HTTP/") else "?"
                held.answered[status] = held.answered.get(status, 0) + 1
            else:
                held.closed_by_server += 1
        else:
            waiting.cancel()
        writer.close()


async def _slow(port: int, held: HeldClients, stop: asyncio.Event) -> None:
    headers = (
        "POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {SLOW_BODY_BYTES}\r\n\r\n"
    ).encode()
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            held.refused += 1
            await asyncio.sleep(0.1)
            continue
        held.opened += 1
        answer = asyncio.ensure_future(reader.read(65536))
        try:
            writer.write(headers)
            await writer.drain()
            for _ in range(SLOW_BODY_BYTES):
                done, _pending = await asyncio.wait([answer], timeout=1)
                if done or stop.is_set():
                    break
                writer.write(b"x")
                await writer.drain()
        except OSError:
            pass
        if answer.done() and not answer.cancelled() and answer.exception() is None:
            data = answer.result()
            if data.startswith(b"HTTP/"):
                status = data.split(b" ", 2)[1].decode(errors="replace")
                held.answered[status] = held.answered.get(status, 0) + 1
            else:
                held.closed_by_server += 1
        else:
            answer.cancel()
        writer.close()


class Holder:
    """`idle` and `slow` clients on an event loop of their own thread, until `stop()`."""

    def __init__(self, port: int, idle: int, slow: int) -> None:
        self.held = HeldClients()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, args=(port, idle, slow), daemon=True)

    def _run(self, port: int, idle: int, slow: int) -> None:
        async def every() -> None:
            clients = [_idle(port, self.held, self._stop) for _ in range(idle)]
            clients += [_slow(port, self.held, self._stop) for _ in range(slow)]
            await asyncio.gather(*clients)

        self._loop.run_until_complete(every())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


def wrk(url: str, cookie: str, connections: int, seconds: int, script: Path) -> dict[str, float]:
    command = [
        "wrk", "--threads", "1", "--connections", str(connections), "--duration", f"{seconds}s", "--timeout", "10s",
        "--script", str(script), "--header", f"Cookie: {cookie}", "--header", "HX-Request: true", url,
    ]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="created and dropped by this script")
    parser.add_argument("--stages", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=4, help="wrk's connections")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of runs, unloaded then loaded (median ratio)")
    parser.add_argument("--idle", type=int, default=50)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--gunicorn-arg", action="append", default=[], help="an extra gunicorn option (repeatable)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")

    var_dir = Path(tempfile.mkdtemp(prefix="rtc-bench-web-idle-"))
    port = free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(var_dir), DEBUG="true")
    env["DATABASE_URL"] = args.postgres_url
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    script = var_dir / "report.lua"
    script.write_text(WRK_SCRIPT)
    log = var_dir / "web.log"
    postgres_recreate(args.postgres_url)
    server = None
    try:
        seed(env, args.stages)
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
        command += [*args.gunicorn_arg, "portal.wsgi:application"]
        with log.open("wb") as output:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        wait_for(port, server, log)
        base = f"http://127.0.0.1:{port}"
        cookie = log_in(base)
        url = f"{base}/stages/?page=2"
        check_partial(url, cookie)
        wrk(url, cookie, args.connections, 3, script)  # warm-up: every worker has served the page
        load_average = " ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"gunicorn {' '.join(args.gunicorn_arg) or '(gunicorn.conf.py)'}; load average {load_average}")
        print(f"{'':>30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>8} {'sock err':>8}")
        ratios: list[float] = []
        errors = 0
        for round_number in range(1, args.rounds + 1):
            unloaded = wrk(url, cookie, args.connections, args.seconds, script)
            holder = Holder(port, args.idle, args.slow)
            holder.start()
            time.sleep(2)  # every held client connected, the slow ones into their bodies
            if round_number == 1:
                before = cpu_seconds({server.pid})
                time.sleep(5)
                held_cpu = (cpu_seconds({server.pid}) - before) / 5
            loaded = wrk(url, cookie, args.connections, args.seconds, script)
            holder.stop()
            runs = {
                f"{round_number}: unloaded ({args.connections} wrk)": unloaded,
                f"{round_number}: +{args.idle} idle +{args.slow} slow": loaded,
            }
            for name, run in runs.items():
                rate = run["requests"] / run["seconds"]
                print(
                    f"{name:>30} {rate:>8.1f} {run['p50_ms']:>8.1f} {run['p99_ms']:>8.1f} {run['max_ms']:>8.1f} "
                    f"{run['non2xx']:>8} {run['socket_errors']:>8}"
                )
            errors += loaded["non2xx"] + loaded["socket_errors"]
            answered = loaded["requests"] > 0
            ratios.append(loaded["p99_ms"] / max(unloaded["p99_ms"], 0.001) if answered else float("inf"))
            held = holder.held
            print(
                f"{'':>30} held clients: {held.opened} connections opened, {held.refused} refused, "
                f"{held.closed_by_server} closed by the server unanswered, answered {held.answered or 'none'}"
            )
        ratio = statistics.median(ratios)
        said = f"{ratio:.2f}x" if ratio != float("inf") else f"infinite (no request answered in {args.seconds} s)"
        each = ", ".join(f"{value:.2f}x" for value in ratios)
        print(f"p99 loaded / unloaded, median of {args.rounds} rounds: {said} [{each}] (target <= 2x)")
        print(f"errors while loaded: {errors} (target 0)")
        print(f"the server's CPU with only the held clients open: {held_cpu * 100:.1f} % of one CPU")
        timeouts = log.read_text().count("WORKER TIMEOUT")
        print(f"gunicorn logged WORKER TIMEOUT {timeouts} times")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
        postgres_drop(args.postgres_url)
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
