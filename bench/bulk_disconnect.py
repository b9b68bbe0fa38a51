"""100 disconnects requested at once, with the sandbox's quotas on and the live refresh running beside them.

    .venv/bin/python bench/bulk_disconnect.py [--participants 100]

A stage with N participants (joined through the sandbox), recorded by the stages refresher. Then the worker tier
runs as `make run` does (a worker of 2 processes, the refresher worker, beat), Support requests N disconnects in one
transaction, and the script times until every one has ended. DisconnectParticipant's quota is 5 TPS, so the floor is
N / 5 s; the target is 1.1 x that with no ThrottlingException met.
"""

from __future__ import annotations

import argparse
import time

from harness import bench_estate, live_stages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=100)
    args = parser.parse_args()
    with bench_estate("bulk_disconnect") as estate:
        from django.db import transaction

        from portal.core.models import AuditEntry, Operation
        from portal.core.roles import Role, user_create_with_role
        from portal.stages.models import Participant
        from portal.stages.services import stage_disconnect_participant

        sandbox = estate.sandbox
        live_stages(estate, stages=1, participants=args.participants)
        support = user_create_with_role(username="support", password="not-secret-bench-only", role=Role.SUPPORT)

        sandbox.quotas(enabled=True)
        estate.worker(concurrency=2)
        estate.worker(concurrency=2, queues="refresh")
        estate.beat()
        time.sleep(3)  # the refresher is cycling before the disconnects arrive
        throttled_before = sum(sandbox.quotas()["throttled"].values())
        started = time.monotonic()
        with transaction.atomic():
            for participant in Participant.objects.filter(state="CONNECTED").select_related("session__stage"):
                stage_disconnect_participant(
                    actor=support, participant=participant, reason="bench: bulk disconnect", revoke_token=False
                )
        disconnects = Operation.objects.filter(kind="stages.disconnect_participant")
        while disconnects.exclude(status__in=Operation.TERMINAL).exists():
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        throttled = sandbox.quotas()["throttled"]
        retries = AuditEntry.objects.filter(event="retrying", detail__startswith="ThrottlingException").count()
        succeeded = disconnects.filter(status=Operation.Status.SUCCEEDED).count()
        state = sandbox.state()["state"]["ivs.participants"].values()
        gone = sum(1 for p in state if p["state"] == "DISCONNECTED")
    floor = args.participants / 5
    print(f"disconnects: {args.participants} requested, {succeeded} succeeded, {gone} disconnected in the sandbox")
    print(f"wall time: {elapsed:.1f} s (floor at 5 TPS: {floor:.0f} s; target <= {1.1 * floor:.0f} s)")
    print(f"ThrottlingException retries recorded: {retries}")
    print(f"requests the sandbox throttled meanwhile: {sum(throttled.values()) - throttled_before} {throttled}")


if __name__ == "__main__":
    main()
