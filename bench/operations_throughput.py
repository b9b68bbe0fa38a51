"""Operations per second completed by ONE worker process, against the sandbox with latency and quotas off.

    .venv/bin/python bench/operations_throughput.py [--operations 300]

Requests N connection checks (sts:GetCallerIdentity through the whole pipeline) in one transaction, then times from
the commit until every one has ended, with a worker of one child process. Also prints the worker child's CPU time
per operation: the cost of the event loop, session and client each call needs (or reuses).
"""

from __future__ import annotations

import argparse
import time

import psutil
from harness import bench_estate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--operations", type=int, default=300)
    args = parser.parse_args()
    with bench_estate("throughput") as estate:
        from django.db import transaction

        from portal.core.models import Operation
        from portal.core.roles import Role, user_create_with_role
        from portal.core.services import operation_request

        estate.sandbox.quotas(enabled=False)
        worker = estate.worker(concurrency=1)
        actor = user_create_with_role(username="bench", password="not-secret-bench-only", role=Role.ADMIN)
        operation_request(kind="aws.check_connection", actor=actor)  # warm up: the child's first call
        while Operation.objects.exclude(status__in=Operation.TERMINAL).exists():
            time.sleep(0.05)
        (child,) = worker.children()
        cpu_before = sum(child.cpu_times()[:2])
        started = time.monotonic()
        with transaction.atomic():
            for _ in range(args.operations):
                operation_request(kind="aws.check_connection", actor=actor)
        while Operation.objects.exclude(status__in=Operation.TERMINAL).exists():
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        cpu = sum(psutil.Process(child.pid).cpu_times()[:2]) - cpu_before
        failed = Operation.objects.filter(status=Operation.Status.FAILED).count()
    print(f"operations: {args.operations} ({failed} failed), one worker process")
    print(f"wall time: {elapsed:.2f} s  ->  {args.operations / elapsed:.1f} operations/s")
    print(f"worker CPU: {cpu * 1000 / args.operations:.1f} ms per operation")


if __name__ == "__main__":
    main()
