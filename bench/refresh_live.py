"""The stages refresher at 30 live stages: how soon a join shows on a watched stage, throttling, and whether admin
operations wait behind refreshes.

    .venv/bin/python bench/refresh_live.py [--stages 30] [--samples 20]

Sets up N stages with 3 participants each (all live), then runs the worker tier as `make run` does (a worker of 2
processes, the refresher worker, beat) with the sandbox's quotas on. One stage is watched, as an open stage page
watches it; every 2 s someone joins it, and the script times until the participant's row exists. Every 4 s an admin
renames another stage, and the script records how long the operation waited to start.
"""

from __future__ import annotations

import argparse
import time

from harness import bench_estate, live_stages, percentile, stage_join


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", type=int, default=30)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with bench_estate("refresh_live") as estate:
        from portal.core.models import Operation, RefresherState
        from portal.core.refresh import refresh_watch
        from portal.stages.models import Participant
        from portal.stages.services import stage_rename

        sandbox = estate.sandbox
        admin, stages = live_stages(estate, stages=args.stages, participants=3)
        sandbox.quotas(enabled=True)
        throttled_before = dict(sandbox.quotas()["throttled"])
        estate.worker(concurrency=2)
        estate.worker(concurrency=2, queues="refresh")
        estate.beat()
        watched, renamed = stages[0], stages[1:]
        latencies: list[float] = []
        waits: list[float] = []
        started = time.monotonic()
        for sample in range(args.samples):
            refresh_watch(refresher="stages", key=watched.pk)
            if sample % 2 == 0:
                rename = stage_rename(actor=admin, stage=renamed[sample % len(renamed)], name=f"renamed-{sample}")
            joined_at = time.monotonic()
            participant_id = stage_join(estate, watched, f"late-{sample}")
            while not Participant.objects.filter(participant_id=participant_id, state="CONNECTED").exists():
                if time.monotonic() - joined_at > 30:
                    raise AssertionError(f"participant {participant_id} not seen within 30 s")
                time.sleep(0.05)
            latencies.append(time.monotonic() - joined_at)
            if sample % 2 == 0:
                while Operation.objects.get(pk=rename.pk).started_at is None:
                    time.sleep(0.05)
                operation = Operation.objects.get(pk=rename.pk)
                waits.append((operation.started_at - operation.created_at).total_seconds())
            time.sleep(max(0.0, 2 - (time.monotonic() - joined_at)))
        elapsed = time.monotonic() - started
        throttled = {
            name: count - throttled_before.get(name, 0)
            for name, count in sandbox.quotas()["throttled"].items()
            if count > throttled_before.get(name, 0)
        }
        state = RefresherState.objects.get(name="stages")
    print(f"{args.stages} live stages, 3 participants each; one watched; {args.samples} joins over {elapsed:.0f} s")
    print(f"join -> row on the watched stage: p50 {percentile(latencies, 0.5):.2f} s, "
          f"p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s")  # fmt: skip
    print(f"admin rename waited to start: p50 {percentile(waits, 0.5):.2f} s, max {max(waits):.2f} s")
    print(f"requests the sandbox throttled: {sum(throttled.values())} {throttled}")
    print(f"last refresh cycle: {state.last_calls} calls in {state.last_duration_seconds:.2f} s")


if __name__ == "__main__":
    main()
