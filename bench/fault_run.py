"""The stage fault drill (tests/integration/stage_drill.py) at scale: a real worker, injected faults, a child killed
mid-call and the broker restarted empty in every round; then what AWS (the sandbox) and the database show.

    .venv/bin/python bench/fault_run.py [--operations 1000]      # BENCH_POSTGRES=postgres://… picks the server

Starts, and removes at the end (bench/harness.py): a redis-server on a free port in 18100-18199, the sandbox in this
process, a PostgreSQL database of its own and `celery -A portal worker -c 2 --pool prefork`. IVS allows 100
stages per region, so the drill runs in rounds of about 250 requested operations with the sandbox reset in between.
"""

from __future__ import annotations

import argparse
import math
import secrets
import time
from collections import Counter
from typing import Any

from harness import bench_estate

from tests.integration.fault_harness import DrillConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--operations", type=int, default=1000, help="operations to request, at least")
    args = parser.parse_args()
    started = time.monotonic()
    totals: dict[str, Any] = {}
    failing: Counter[str] = Counter()
    with bench_estate("fault_run") as estate:
        from portal.core.roles import Role, user_create_with_role
        from tests.integration.stage_drill import CHECKS, DrillSize, StageDrill

        size = DrillSize()
        rounds = math.ceil(args.operations / size.requests)
        worker = estate.worker(concurrency=2, queues="celery,refresh")
        actor = user_create_with_role(username="drill", password=secrets.token_urlsafe(16), role=Role.ADMIN)
        for number in range(rounds):
            estate.sandbox.reset()
            drill = StageDrill(prefix=f"r{number}", actor=actor, sandbox=estate.sandbox, worker=worker,
                               redis=estate.redis, config=DrillConfig(), size=size)  # fmt: skip
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
