"""Load on the stage-list partial, with the web server started from the Procfile as `make run` starts it.

    .venv/bin/python bench/web_load.py --database sqlite
    .venv/bin/python bench/web_load.py --database postgres      # a database `bench_web`, created and dropped here

Seeds the stages, starts the Procfile's `web` process under honcho on a free port, logs in as an admin over HTTP,
then drives GET /stages/?page=2 with `HX-Request: true` at each concurrency for a fixed time and prints requests per
second, p50/p95 latency, responses other than 2xx, socket errors, the server's CPU time per request (all its
processes, from /proc: it depends less than req/s on what else the machine runs) and, on PostgreSQL, the
connections the server holds after the run. The header shows the load average: other work on the machine takes
cores from the server. The load comes from Debian's `wrk` (apt-get install wrk): a C client that needs a few percent
of one core at these rates, so on a two-core machine nearly all the CPU goes to the server being measured.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-pass-1234"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/bench_web"
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body) if status < 200 or status > 299 then non2xx = non2xx + 1 end end
function done(summary, latency, requests)
  local non2xx = 0
  for _, thread in ipairs(threads) do non2xx = non2xx + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50_ms": %f, "p95_ms": %f, "p99_ms": %f, "max_ms": %f, "non2xx": %d, '
    .. '"socket_errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, non2xx, e.connect + e.read + e.write + e.timeout))
end
"""


def cpu_seconds(roots: set[int]) -> float:
    """User plus system CPU time of some processes and all their descendants, from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree = set(roots)
    while grown := {pid for pid, parent in parents.items() if parent in tree} - tree:
        tree |= grown
    return sum(times.get(pid, 0.0) for pid in tree)


def children_cpu_seconds() -> float:
    """CPU time of this script's finished children (each wrk run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def admin_url(database_url: str) -> str:
    return urllib.parse.urlparse(database_url)._replace(path="/postgres").geturl()


def postgres_recreate(database_url: str) -> None:
    name = urllib.parse.urlparse(database_url).path.lstrip("/")
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def postgres_drop(database_url: str) -> None:
    name = urllib.parse.urlparse(database_url).path.lstrip("/")
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_backends(database_url: str) -> dict[int, str]:
    """The server processes of every connection to the benchmark's database, with their state."""
    name = urllib.parse.urlparse(database_url).path.lstrip("/")
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        rows = admin.execute("SELECT pid, coalesce(state, '?') FROM pg_stat_activity WHERE datname = %s", [name])
        return dict(rows.fetchall())


def described(backends: dict[int, str]) -> str:
    states = sorted(backends.values())
    return ", ".join(f"{states.count(state)} {state}" for state in sorted(set(states))) or "0"


def seed(env: dict[str, str], stages: int) -> None:
    """Migrate, then add the stages and an admin, in a child process configured exactly like the server."""
    code = f"""
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from portal.core.roles import Role, user_create_with_role
from portal.stages.models import Stage
user_create_with_role(username="bench-admin", password={PASSWORD!r}, role=Role.ADMIN)
Stage.objects.bulk_create(
    Stage(
        name=f"stage-{{n}}",
        arn=f"arn:aws:ivs:us-east-1:123456789012:stage/s{{n:06d}}",
        region="us-east-1",
        status=Stage.Status.ACTIVE,
        tags={{"team": str(n % 7), "env": "bench"}},
        active_session_id=f"st-{{n:013d}}" if n % 2 else "",
        connected_count=n % 12,
    )
    for n in range({stages})
)
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def wait_for(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"The web server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"The web server did not answer within 60 s:\n{log.read_text()[-3000:]}")


def log_in(base: str) -> str:
    """Log in through the login form; returns the Cookie header the load tool sends."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{base}/login/").read()
    csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    form = urllib.parse.urlencode({"username": "bench-admin", "password": PASSWORD, "csrfmiddlewaretoken": csrf})
    opener.open(f"{base}/login/", data=form.encode()).read()
    cookies = {cookie.name: cookie.value for cookie in jar}
    if "sessionid" not in cookies:
        sys.exit("Logging in failed: no session cookie.")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def check_partial(url: str, cookie: str) -> None:
    request = urllib.request.Request(url, headers={"Cookie": cookie, "HX-Request": "true"})
    with urllib.request.urlopen(request) as response:
        body = response.read().decode()
    answered = response.status in (200, 286) and body.lstrip().startswith('<div id="stage-table"')  # 286: stop polling
    if not answered or "stage-" not in body:
        sys.exit(f"GET {url} did not answer the stage-table partial: {response.status} {body[:200]!r}")


def load(url: str, cookie: str, clients: int, seconds: int, script: Path) -> dict[str, float]:
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(clients),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(script),
        "--header",
        f"Cookie: {cookie}",
        "--header",
        "HX-Request: true",
        url,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="created and dropped by this script")
    parser.add_argument("--stages", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--web-concurrency", help="WEB_CONCURRENCY for the server (default: as make run, one per CPU)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")

    var_dir = Path(tempfile.mkdtemp(prefix="rtc-bench-web-"))
    port = free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(var_dir), DEBUG="true")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["WEB_HOST"] = "127.0.0.1"
    if args.web_concurrency:
        env["WEB_CONCURRENCY"] = args.web_concurrency
    if args.database == "postgres":
        env["DATABASE_URL"] = args.postgres_url
        postgres_recreate(args.postgres_url)
    else:
        env.pop("DATABASE_URL", None)
    script = var_dir / "report.lua"
    script.write_text(WRK_SCRIPT)
    log = var_dir / "web.log"
    server = None
    try:
        seed(env, args.stages)
        honcho = [sys.executable, "-m", "honcho", "start", "--procfile", "Procfile", "--env", os.devnull]
        honcho += ["--port", str(port), "web"]
        with log.open("wb") as output:
            server = subprocess.Popen(honcho, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        wait_for(port, server, log)
        base = f"http://127.0.0.1:{port}"
        cookie = log_in(base)
        url = f"{base}/stages/?page=2"
        check_partial(url, cookie)
        load_average = " ".join(f"{value:.1f}" for value in os.getloadavg())
        concurrency = env.get("WEB_CONCURRENCY", "(unset: one per CPU)")
        print(
            f"database={args.database} stages={args.stages} WEB_CONCURRENCY={concurrency} load average {load_average}"
        )
        header = ("req/s", "p50 ms", "p95 ms", "non-2xx", "sock err", "web CPU", "pg CPU", "wrk CPU", "2-CPU est")
        print(f"{'clients':>7} " + " ".join(f"{name:>9}" for name in header) + "  pg connections after")
        for clients in args.clients:
            backends = postgres_backends(args.postgres_url) if args.database == "postgres" else {}
            before = (cpu_seconds({server.pid}), cpu_seconds(set(backends)), children_cpu_seconds())
            result = load(url, cookie, clients, args.seconds, script)
            after = (cpu_seconds({server.pid}), cpu_seconds(set(backends)), children_cpu_seconds())
            web, pg, wrk = (
                (end - start) * 1000 / max(result["requests"], 1) for start, end in zip(before, after, strict=True)
            )
            rate = result["requests"] / result["seconds"]
            figures = (
                rate,
                result["p50_ms"],
                result["p95_ms"],
                result["non2xx"],
                result["socket_errors"],
                web,
                pg,
                wrk,
            )
            estimate = 2000 / (web + pg + wrk)
            connections = described(postgres_backends(args.postgres_url)) if args.database == "postgres" else "-"
            print(
                f"{clients:>7} "
                + " ".join(f"{figure:>9.1f}" if isinstance(figure, float) else f"{figure:>9}" for figure in figures)
                + f" {estimate:>9.0f}  {connections}"
            )
        print(
            "CPU columns: milliseconds of CPU per request spent by the web server's processes, by the PostgreSQL "
            "backends serving them and by wrk. 2-CPU est: 2,000 ms / their sum, the rate two otherwise idle CPUs "
            "would sustain."
        )
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        if args.database == "postgres":
            postgres_drop(args.postgres_url)
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
