"""200 capture pipelines in transition: how soon the portal shows each status AWS reports, and at what API rate.

    .venv/bin/python bench/pipeline_status.py [--pipelines 200] [--no-events]

Sets up N meetings whose events go to one SQS queue, each with a capture pipeline made in the sandbox and known to
the portal (Initializing), then runs what `make run` runs for them: the refresher worker, beat, and the events
consumer (`manage.py events`), with the sandbox's quotas on (GetMediaCapturePipeline: 10 a second). The
pipelines go InProgress 5 s after creation; then all are deleted at once and go Stopping, then Stopped 3 s later. For
each transition the script records how long after AWS's change (the sandbox's UpdatedTimestamp) the portal's row
shows it, and prints the median, 95th percentile and worst lag, the portal's calls a second to the media pipelines
API and how many AWS throttled. `--no-events` runs without the consumer: the refresher alone (the backstop).

The pipelines are created and deleted in the sandbox directly (quotas off meanwhile), each row changed as the start
and stop operations change it. AWS allows 100 active pipelines in us-east-1: the sandbox in this process has that
limit lifted, so 200 can be in transition at once.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from datetime import datetime

from harness import REPOSITORY, bench_estate, percentile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=200)
    parser.add_argument("--no-events", action="store_true")
    args = parser.parse_args()
    with bench_estate("pipeline_status") as estate:
        from django.utils import timezone

        from portal.meetings.models import Meeting
        from portal.pipelines.models import CapturePipeline
        from rtc_sandbox import pipelines as sandbox_pipelines
        from tests.conftest import sandbox_boto

        sandbox_pipelines.active_limit = lambda region: 10_000  # type: ignore[assignment]
        sandbox = estate.sandbox
        sandbox.quotas(enabled=False)
        sqs = sandbox_boto(sandbox.endpoint, "sqs")
        queue = sqs.create_queue(QueueName="rtc-portal-meeting-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3, chime = sandbox_boto(sandbox.endpoint, "s3"), sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
        aws = sandbox_boto(sandbox.endpoint, "chime-sdk-media-pipelines")
        s3.create_bucket(Bucket="recordings")
        meetings = []
        for n in range(args.pipelines):
            made = chime.create_meeting(
                ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId=f"room-{n}",
                NotificationsConfiguration={"SqsQueueArn": arn},
            )["Meeting"]  # fmt: skip
            meetings.append(Meeting.objects.create(
                meeting_id=made["MeetingId"], meeting_arn=made["MeetingArn"], external_meeting_id=f"room-{n}",
                media_region="us-east-1", status=Meeting.Status.ACTIVE,
            ))  # fmt: skip
        sqs.purge_queue(QueueUrl=queue)  # MeetingStarted events of the setup: not what is measured
        estate.worker(concurrency=2, queues="refresh")
        estate.beat()
        if not args.no_events:
            consumer = subprocess.Popen(
                [sys.executable, "manage.py", "events", "--wait", "1"],
                cwd=REPOSITORY, env={**estate.environment, "MEETING_EVENTS_QUEUE_URL": queue},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            estate.stack.callback(consumer.kill)
        time.sleep(5)  # the worker tier is up
        ids: list[str] = []
        rows = CapturePipeline.objects.bulk_create(
            CapturePipeline(meeting=meeting, sink_bucket="recordings") for meeting in meetings
        )  # requested, as the portal records a start before it calls AWS
        for row in rows:  # all at once (quotas still off): each goes InProgress 5 s after its creation
            pipeline = aws.create_media_capture_pipeline(
                SourceType="ChimeSdkMeeting", SourceArn=row.meeting.meeting_arn, SinkType="S3Bucket",
                SinkArn="arn:aws:s3:::recordings",
            )["MediaCapturePipeline"]  # fmt: skip
            CapturePipeline.objects.filter(pk=row.pk, status=CapturePipeline.Status.REQUESTED).update(
                media_pipeline_id=pipeline["MediaPipelineId"], arn=pipeline["MediaPipelineArn"],
                status=CapturePipeline.Status.INITIALIZING, changed_at=timezone.now(),
            )  # fmt: skip
            ids.append(pipeline["MediaPipelineId"])
        sandbox.quotas(enabled=True)
        throttled_before = dict(sandbox.quotas()["throttled"])
        started = time.monotonic()
        cycles = CycleCounter()
        lags = {"InProgress": _follow(sandbox, ids, "InProgress", cycles), "Stopped": []}
        sandbox.quotas(enabled=False)  # the deletes are not what is measured
        for pipeline_id in ids:  # what the stop operation does: DeleteMediaCapturePipeline, then the row is Stopping
            aws.delete_media_capture_pipeline(MediaPipelineId=pipeline_id)
            CapturePipeline.objects.filter(media_pipeline_id=pipeline_id, status__in=CapturePipeline.RUNNING).update(
                status=CapturePipeline.Status.STOPPING, status_at=timezone.now(), changed_at=timezone.now()
            )
        sandbox.quotas(enabled=True)
        lags["Stopped"] = _follow(sandbox, ids, "Stopped", cycles)
        elapsed = time.monotonic() - started
        calls = cycles.calls
        after = sandbox.quotas()["throttled"]
        throttled = {k: v - throttled_before.get(k, 0) for k, v in after.items() if v - throttled_before.get(k, 0)}
        mode = "refresher only" if args.no_events else "events + refresher"
        print(f"{args.pipelines} pipelines, {mode}, quota 10/s on the media pipelines API")
        for status, values in lags.items():
            print(f"  → {status:<10} lag p50 {percentile(values, 0.5):5.2f} s  p95 {percentile(values, 0.95):5.2f} s  "
                  f"max {max(values):5.2f} s  ({len(values)} of {args.pipelines} seen)")  # fmt: skip
        print(f"  refresher calls {calls} in {elapsed:.1f} s = {calls / elapsed:.1f}/s (the media pipelines quota "
              f"is 10/s; S3 listings included); throttled by AWS: {throttled or 0}")  # fmt: skip


class CycleCounter:
    """The AWS calls of the pipelines refresher's cycles: each cycle stores its count when it ends; summed here."""

    def __init__(self) -> None:
        self.calls = 0
        self.last_cycle: datetime | None = None

    def poll(self) -> None:
        from portal.core.models import RefresherState

        state = RefresherState.objects.filter(name="pipelines").first()
        if state is not None and state.last_started_at != self.last_cycle:
            self.last_cycle = state.last_started_at
            self.calls += state.last_calls


def _follow(sandbox: object, ids: list[str], status: str, cycles: CycleCounter) -> list[float]:
    """Lag per pipeline from AWS's change to the portal's row showing it."""
    from portal.pipelines.models import CapturePipeline

    seen: dict[str, float] = {}
    deadline = time.monotonic() + 90
    while len(seen) < len(ids) and time.monotonic() < deadline:
        now = time.time()
        for pipeline_id in CapturePipeline.objects.filter(
            media_pipeline_id__in=[i for i in ids if i not in seen], status=status
        ).values_list("media_pipeline_id", flat=True):
            seen[pipeline_id] = now
        cycles.poll()
        time.sleep(0.1)
    world = sandbox.state()["state"]["chime.capture_pipelines"]  # type: ignore[attr-defined]
    changed = {pipeline_id: world[pipeline_id]["updatedAt"] for pipeline_id in ids}
    return [max(seen[i] - changed[i], 0.0) for i in ids if i in seen]


if __name__ == "__main__":
    main()
