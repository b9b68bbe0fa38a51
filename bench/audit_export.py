"""Peak memory of the web process while it streams the audit log's CSV export of 1,000,000 entries.

    .venv/bin/python bench/audit_export.py                          # SQLite, in a temporary directory
    .venv/bin/python bench/audit_export.py --database postgres      # PostgreSQL database bench_audit, dropped after
    .venv/bin/python bench/audit_export.py --entries 100000 --postgres-url postgres://postgres@127.0.0.1:5432/x

Seeds the entries in a database of its own, starts the web server as `make run` does (uvicorn, ASGI: one process)
on a free port, logs in as a viewer, downloads /audit/export.csv and samples the server's resident memory
(/proc/<pid>/status) while it does. Prints the rows and bytes received, the time to the first byte and to the end,
and the server's memory before the export, at its peak, and the growth. Everything it made is removed at the end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BATCH = 10_000
KINDS = (
    ("stages.disconnect_participant", "Disconnect participant user-{n} (p-{n:08d}) from stage-{s}, token revoked"),
    ("stages.tag", "Tag stage-{s}: team=media, cost={n}"),
    ("stages.rename", "Rename stage-{s} to renamed-{n}"),
    ("stages.issue_token", "Issue a token to user-{n} on stage-{s}: PUBLISH, SUBSCRIBE, 720 minutes"),
)
EVENTS = ("requested", "succeeded", "failed", "retrying")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _postgres_database(url: str, *, create: bool) -> None:
    """Drop the benchmark's own database, and create it afresh when asked; never any other."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            connection.execute(f'CREATE DATABASE "{name}"')


def _seed(entries: int) -> str:
    """Migrate, add a viewer and `entries` audit entries; answer the viewer's session cookie."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from portal.core.models import AuditEntry
    from portal.core.roles import Role
    from tests.factories import PASSWORD, UserFactory

    call_command("migrate", verbosity=0)
    UserFactory(username="viewer", role=Role.VIEWER)
    client = Client()
    assert client.login(username="viewer", password=PASSWORD)
    # Only the columns this revision has: the same script measures older revisions of the export too.
    columns = {field.name for field in AuditEntry._meta.concrete_fields}
    started = time.monotonic()
    for first in range(0, entries, BATCH):
        rows = []
        for n in range(first, min(first + BATCH, entries)):
            kind, summary = KINDS[n % len(KINDS)]
            values = {
                "actor_name": ("ada", "sam", "scheduler")[n % 3],
                "kind": kind,
                "summary": summary.format(n=n, s=n % 1000),
                "resource_name": f"stage-{n % 1000}",
                "target": f"arn:aws:ivs:us-east-1:123456789012:stage/S{n % 1000:011d} participant p-{n:08d}",
                "reason": "abusive chat" if n % 4 == 0 else "",
                "event": EVENTS[n % len(EVENTS)],
                "detail": "ThrottlingException: Rate exceeded (request 0f6c1d2e)" if n % 4 == 3 else "",
            }
            rows.append(AuditEntry(**{key: value for key, value in values.items() if key in columns}))
        AuditEntry.objects.bulk_create(rows)
        print(f"\rseeded {min(first + BATCH, entries):,} entries", end="", file=sys.stderr, flush=True)
    print(f" in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    cookie = client.cookies["sessionid"].value
    connection.close()
    return cookie


def _memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


class MemorySampler(threading.Thread):
    """The highest resident memory of a process, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            self.peak_kib = max(self.peak_kib, _memory_kib(self.pid)["VmRSS"])


def _get(port: int, path: str, cookie: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")
    return response


def _serve(port: int, cookie: str, entries: int) -> None:
    command = [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
               "--no-access-log", "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("The web server did not start.") from None
                time.sleep(0.2)
        _get(port, "/audit/", cookie).read()  # warm: templates, URLs and the ORM loaded
        before = _memory_kib(server.pid)["VmRSS"]
        sampler = MemorySampler(server.pid)
        sampler.start()
        started = time.monotonic()
        response = _get(port, "/audit/export.csv", cookie)
        first_byte = None
        received = lines = 0
        while chunk := response.read(65536):
            first_byte = first_byte or time.monotonic() - started
            received += len(chunk)
            lines += chunk.count(b"\n")
        elapsed = time.monotonic() - started
        sampler.stop.set()
        sampler.join()
        memory = _memory_kib(server.pid)
        peak = max(sampler.peak_kib, memory["VmRSS"])
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows = lines - 1
    missing = "" if rows == entries else f"  (expected {entries:,})"
    print(f"{'entries exported':<34}{rows:>14,}{missing}")
    print(f"{'CSV received':<34}{received / 2**20:>11.1f} MiB")
    print(f"{'first byte after':<34}{first_byte or 0:>13.2f} s")
    print(f"{'whole export in':<34}{elapsed:>13.2f} s  ({rows / elapsed:,.0f} rows/s)")
    print(f"{'web process RSS before':<34}{before / 1024:>11.1f} MiB")
    print(f"{'web process RSS peak (sampled)':<34}{peak / 1024:>11.1f} MiB  (VmHWM {memory['VmHWM'] / 1024:.1f} MiB)")
    print(f"{'growth while exporting':<34}{(peak - before) / 1024:>11.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/bench_audit")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="rtc-bench-audit-")
    database_url = args.postgres_url if args.database == "postgres" else f"sqlite:///{workdir}/portal.sqlite3"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=database_url,
        PORTAL_VAR_DIR=workdir,
        DEBUG="false",
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS="127.0.0.1,testserver",
        CELERY_BROKER_URL="memory://",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    try:
        if args.database == "postgres":
            _postgres_database(database_url, create=True)
        cookie = _seed(args.entries)
        print(f"{args.entries:,} audit entries on {args.database}, revision {_revision()}")
        _serve(_free_port(), cookie, args.entries)
    finally:
        if args.database == "postgres":
            _postgres_database(database_url, create=False)
        shutil.rmtree(workdir, ignore_errors=True)


def _revision() -> str:
    described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return described.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
