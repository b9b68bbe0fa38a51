"""The stage fault drill (tests/integration/stage_drill.py) at scale: a real worker, injected faults, a child killed
mid-call and the broker restarted empty in every round; then what AWS (the sandbox) and the database show.

    .venv/bin/python bench/fault_run.py [--operations 1000] [--postgres postgres://postgres@127.0.0.1:5432/postgres]

Starts, and removes at the end: a redis-server on a free port in 18100-18199, the sandbox in this process, a PostgreSQL
database of its own (test_rtc_fault_run_<pid>) and `celery -A portal worker -c 2 --pool prefork`. IVS allows 100
stages per region, so the drill runs in rounds of about 250 requested operations with the sandbox reset in between.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--operations", type=int, default=1000, help="operations to request, at least")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres", help="server to use")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rtc-fault-run-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_VAR_DIR=str(folder),
        SECRET_KEY=secrets.token_urlsafe(32),
        DATABASE_URL=f"{args.postgres.rsplit('/', 1)[0]}/rtc_fault_run_{os.getpid()}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        LOG_LEVEL="ERROR",
    )
    import django

    django.setup()
    try:
        run(args.operations, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(operations: int, folder: Path) -> None:
    from django.db import connection

    from portal.core.roles import Role, user_create_with_role
    from portal.sandbox.client import SandboxControl
    from portal.sandbox.server import SandboxServer
    from tests.backing_services import celery_app_sending_to
    from tests.integration.fault_harness import CeleryWorker, DrillConfig, RedisServer, worker_environment
    from tests.integration.stage_drill import CHECKS, DrillSize, StageDrill

    started = time.monotonic()
    config = DrillConfig()
    size = DrillSize()
    rounds = math.ceil(operations / size.requests)
    totals: dict[str, Any] = {}
    failing: Counter[str] = Counter()
    with ExitStack() as stack:
        original_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
        stack.callback(connection.creation.destroy_test_db, original_name, verbosity=0)
        server = SandboxServer("127.0.0.1", 0, tick_seconds=0.1).start()
        stack.callback(server.stop)
        os.environ["AWS_ENDPOINT_URL"] = server.url
        redis = stack.enter_context(RedisServer())
        stack.enter_context(celery_app_sending_to(redis.url))
        stack.enter_context(config.settings())
        environment = worker_environment(broker_url=redis.url, aws_endpoint=server.url, var_dir=folder, config=config)
        worker = stack.enter_context(CeleryWorker(environment))
        actor = user_create_with_role(username="drill", password=secrets.token_urlsafe(16), role=Role.ADMIN)
        sandbox = SandboxControl(server.url)
        for number in range(rounds):
            sandbox.reset()
            drill = StageDrill(
                prefix=f"r{number}", actor=actor, sandbox=sandbox, worker=worker, redis=redis, config=config, size=size
            )
            verdict = drill.run()
            _add(totals, verdict.figures)
            failing.update({check: len(verdict.failures(check)) for check in CHECKS})
            print(
                f"round {number + 1}/{rounds}: {verdict.figures['operations requested']} requested, "
                f"{verdict.figures['succeeded']} succeeded, {verdict.figures['duplicates found in the sandbox']} "
                f"duplicate(s), {verdict.figures['lost effects']} lost effect(s), "
                f"{verdict.figures['seconds']['total']} s",
                flush=True,
            )
    wall = time.monotonic() - started
    drilled = totals["seconds"]["total"]
    print(f"\n{rounds} round(s) of the stage drill, {size.requests} requested operations each")
    for name, value in totals.items():
        if name != "seconds":
            print(f"{name}: {dict(value) if isinstance(value, Counter) else value}")
    print(f"wall time: {wall:.1f} s (drill rounds {drilled:.1f} s, setup phases included)")
    print(f"ops/s: {totals['operations in all'] / drilled:.2f} (operations settled per second of drill)")
    print("failing checks (failures across rounds):")
    for check in CHECKS:
        print(f"  {failing[check]:4d}  {check}")


def _add(totals: dict[str, Any], figures: dict[str, Any]) -> None:
    for name, value in figures.items():
        if isinstance(value, dict):
            totals.setdefault(name, Counter()).update(value)
        elif isinstance(value, str):
            totals[name] = f"{totals[name]}; {value}" if name in totals else value
        else:
            totals[name] = totals.get(name, 0) + value


if __name__ == "__main__":
    main()
