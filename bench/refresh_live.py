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

from harness import bench_estate, percentile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", type=int, default=30)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with bench_estate("refresh_live") as estate:
        from portal.core.models import Operation, RefresherState
        from portal.core.refresh import refresh_watch
        from portal.core.roles import Role, user_create_with_role
        from portal.stages.models import Participant, Stage
        from portal.stages.refresh import stages_refresh
        from portal.stages.services import stage_create, stage_rename
        from tests.conftest import sandbox_boto

        sandbox = estate.sandbox
        sandbox.quotas(enabled=False)
        setup_worker = estate.worker(concurrency=2)
        admin = user_create_with_role(username="admin", password="not-secret-bench-only", role=Role.ADMIN)
        for number in range(args.stages):
            stage_create(actor=admin, name=f"room-{number:02d}", tags={}, tokens=[])
        while Stage.objects.filter(status=Stage.Status.ACTIVE).count() < args.stages:
            time.sleep(0.1)
        ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")

        def join(stage: Stage, user_id: str) -> str:
            token = ivs.create_participant_token(stageArn=stage.arn, userId=user_id)["participantToken"]
            return sandbox.stage_join(token["token"])["participantId"]

        stages = list(Stage.objects.order_by("pk"))
        for stage in stages:
            for seat in range(3):
                join(stage, f"{stage.name}-{seat}")
        while Participant.objects.filter(state="CONNECTED").count() < 3 * args.stages:
            stages_refresh()
        setup_worker.stop()

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
            participant_id = join(watched, f"late-{sample}")
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
