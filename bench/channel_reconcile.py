"""Reconciling 10,000 signaling channels: API calls per refresher cycle, and how long a change made in AWS takes to
show in the portal.

    .venv/bin/python bench/channel_reconcile.py [--channels 10000] [--changes 5]

The sandbox (quotas on) holds the channels, seeded directly; the registry holds the same channels, created here.
This process runs the channels refresher the way beat and the refresh worker do: one cycle every
REFRESH_TICK_SECONDS (1 s), the full ListSignalingChannels listing every 30 s. Prints the calls and duration of a
cycle with the listing and of one without, then, for a few channels deleted outside the portal at random moments,
the time until the portal shows them gone (the listing finds them; nothing is watching them).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from harness import bench_estate, percentile


def _seed(world, channels: int) -> list[dict]:
    """Channels as the sandbox's CreateSignalingChannel makes them, ACTIVE, in one go."""
    from rtc_sandbox.world import random_id

    now = world.clock.time()
    made = []
    with world.lock:
        table = world.table("kvs.channels")
        for number in range(channels):
            name = f"cam-{number:05d}"
            arn = f"arn:aws:kinesisvideo:us-east-1:{world.account}:channel/{name}/{int(now * 1000) + number}"
            table[arn] = {"arn": arn, "name": name, "region": "us-east-1", "type": "SINGLE_MASTER", "ttl": 60,
                          "version": random_id(20), "createdAt": now, "tags": {}, "status": "ACTIVE",
                          "transitionAt": None}  # fmt: skip
            made.append(table[arn])
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=5)
    args = parser.parse_args()
    with bench_estate("channel_reconcile") as estate:
        from django.conf import settings
        from django.utils import timezone

        from portal.channels.models import Channel
        from portal.channels.refresh import LISTING_EVERY_SECONDS, channels_refresh
        from portal.core.models import RefresherState
        from tests.conftest import sandbox_boto

        made = _seed(estate.world, args.channels)
        Channel.objects.bulk_create(
            Channel(arn=c["arn"], name=c["name"], region="us-east-1", status="active", version=c["version"],
                    endpoints={"MASTER": {"HTTPS": "https://r-x"}}, refreshed_at=timezone.now(),
                    tags_read_at=timezone.now())
            for c in made
        )  # fmt: skip
        tick = settings.REFRESH_TICK_SECONDS

        def cycle() -> RefresherState:
            channels_refresh()
            return RefresherState.objects.get(name="channels")

        first = cycle()  # the registry's rows have never been compared with AWS: every row is written once
        RefresherState.objects.filter(name="channels").update(listed_at=None)
        with_listing = cycle()
        without = cycle()
        print(f"channels: {args.channels}, sandbox quotas on, a cycle every {tick:g} s, "
              f"the listing every {LISTING_EVERY_SECONDS} s")  # fmt: skip
        print(f"first reconciliation:      {first.last_calls} API calls, {first.last_duration_seconds:.2f} s")
        print(f"cycle with the listing:    {with_listing.last_calls} API calls, "
              f"{with_listing.last_duration_seconds:.2f} s")  # fmt: skip
        print(f"cycle without the listing: {without.last_calls} API calls, {without.last_duration_seconds:.2f} s")
        kvs = sandbox_boto(estate.sandbox.endpoint, "kinesisvideo")
        delays = []
        for change in random.sample(made, args.changes):
            time.sleep(random.uniform(0, LISTING_EVERY_SECONDS))
            kvs.delete_signaling_channel(ChannelARN=change["arn"])
            changed_at = time.monotonic()
            row = Channel.objects.get(arn=change["arn"])
            while Channel.objects.get(pk=row.pk).status != Channel.Status.GONE:
                started = time.monotonic()
                cycle()
                time.sleep(max(0.0, tick - (time.monotonic() - started)))
            delays.append(time.monotonic() - changed_at)
        calls = [state.last_calls for state in (with_listing, without)]
    print(f"deleted outside the portal -> shown gone: median {statistics.median(delays):.1f} s, "
          f"p95 {percentile(delays, 0.95):.1f} s, max {max(delays):.1f} s over {len(delays)} changes")  # fmt: skip
    print(f"(calls per cycle: {calls[0]} with the listing, {calls[1]} without)")


if __name__ == "__main__":
    main()
