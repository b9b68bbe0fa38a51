"""A fleet of signaling channels created through the portal against the sandbox with its quotas on.

    .venv/bin/python bench/channel_fleet.py [--channels 1000] [--workers 2]

The target is 1.1 x channels / 50 s (CreateSignalingChannel's 50 TPS), with no throttling: the portal's shared rate
limiter runs at the quota instead of into it. Times from the request (the form's service call: rows, operations and
the batch in one transaction) until every creation has ended; prints the sandbox's throttled count and retries.
"""

from __future__ import annotations

import argparse
import time

from harness import bench_estate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="worker child processes (the Procfile runs 2)")
    args = parser.parse_args()
    with bench_estate("channel_fleet") as estate:
        from django.db.models import Max, Min

        from portal.channels.models import Channel
        from portal.channels.services import ChannelSpec, channels_create_fleet
        from portal.core.models import Operation
        from portal.core.roles import Role, user_create_with_role

        worker = estate.worker(concurrency=args.workers)
        children = worker.children()
        cpu_before = sum(sum(child.cpu_times()[:2]) for child in children)
        admin = user_create_with_role(username="bench", password="not-secret-bench-only", role=Role.ADMIN)
        estate.sandbox.quotas(enabled=True)
        specs = [ChannelSpec(f"cam-{n:05d}", "SINGLE_MASTER", 60, {"fleet": "bench"}) for n in range(args.channels)]
        started = time.monotonic()
        batch = channels_create_fleet(actor=admin, specs=specs, label="bench fleet")
        requested = time.monotonic() - started
        operations = batch.operations.all()
        while operations.exclude(status__in=Operation.TERMINAL).exists():
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        cpu = sum(sum(child.cpu_times()[:2]) for child in children) - cpu_before
        first_call = operations.aggregate(first=Min("started_at"))["first"]
        first_call_after = (first_call - batch.created_at).total_seconds()
        failed = operations.filter(status=Operation.Status.FAILED).count()
        retried = operations.filter(attempts__gt=1).count()
        most_attempts = operations.aggregate(most=Max("attempts"))["most"]
        throttled = estate.sandbox.quotas()["throttled"]
        in_sandbox = len(estate.sandbox.state()["state"].get("kvs.channels", {}))
        recorded = Channel.objects.exclude(arn=None).count()
    target = 1.1 * args.channels / 50
    print(f"channels: {args.channels}, {args.workers} worker processes, sandbox quotas on (create: 50/s)")
    print(f"request (rows, operations, batch): {requested:.2f} s")
    print(f"all created: {elapsed:.2f} s (target <= {target:.1f} s) -> {args.channels / elapsed:.1f} channels/s")
    print(f"first call {first_call_after:.2f} s after the request")
    print(f"worker CPU {cpu * 1000 / args.channels:.1f} ms per channel")
    print(f"failed: {failed}, retried: {retried} (most attempts {most_attempts})")
    print(f"throttled by the sandbox: {throttled or 'none'}")
    print(f"channels in the sandbox: {in_sandbox}, recorded with an ARN: {recorded}")


if __name__ == "__main__":
    main()
