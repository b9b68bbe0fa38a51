"""What keeping the sandbox's state in a file costs its hot path: a loop of CreateParticipantToken and ListStages
through boto3 against `rtc-sandbox` (a real process, quotas off), without and with --state, on a small world
and on one seeded with channels and S3 objects; the two sandboxes of a world run side by side and the calls alternate
between them, so both meet the same load of a shared machine. Prints the per-call latency and the state file's size.

    .venv/bin/python bench/sandbox_state.py [--calls 500] [--channels 2000] [--objects 500]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import boto3
from botocore.config import Config
from harness import percentile

from rtc_sandbox.client import SandboxControl
from rtc_sandbox.testing import SandboxProcess

CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}
CONFIG = Config(retries={"total_max_attempts": 1})


def client(url: str, service: str):
    return boto3.client(service, endpoint_url=url, config=CONFIG, **CREDENTIALS)


def seed(url: str, channels: int, objects: int) -> None:
    kvs = client(url, "kinesisvideo")
    for n in range(channels):
        kvs.create_signaling_channel(ChannelName=f"bench-{n:05d}")
    s3 = client(url, "s3")
    if objects:
        s3.create_bucket(Bucket="bench-artifacts")
    body = bytes(16_000)  # one capture audio chunk's size
    for n in range(objects):
        s3.put_object(Bucket="bench-artifacts", Key=f"audio/{n:05d}.mp4", Body=body, ContentType="audio/mp4")


def loop(urls: dict[str, str], calls: int) -> dict[tuple[str, str], list[float]]:
    """The calls, alternating between the sandboxes so both meet the same machine load."""
    clients = {label: client(url, "ivs-realtime") for label, url in urls.items()}
    stages = {label: ivs.create_stage(name="bench")["stage"]["arn"] for label, ivs in clients.items()}
    timings: dict[tuple[str, str], list[float]] = {}
    for _ in range(calls):
        for label, ivs in clients.items():
            started = time.perf_counter()
            ivs.create_participant_token(stageArn=stages[label], userId="bench")
            middle = time.perf_counter()
            ivs.list_stages(maxResults=10)
            timings.setdefault((label, "CreateParticipantToken"), []).append(middle - started)
            timings.setdefault((label, "ListStages"), []).append(time.perf_counter() - middle)
    return timings


def run(world: str, *, calls: int, channels: int, objects: int) -> None:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        state = Path(folder) / "with" / "sandbox-state.json"
        sandboxes = {
            f"{world}, no state file": SandboxProcess(Path(folder) / "without", state=None),
            f"{world}, --state": SandboxProcess(state.parent, state=state),
        }
        for sandbox in sandboxes.values():
            sandbox.folder.mkdir()
            stack.enter_context(sandbox.start())
            SandboxControl(sandbox.url).quotas(enabled=False)
            seed(sandbox.url, channels, objects)
        time.sleep(1)  # the seeding's last write is behind us
        timings = loop({label: sandbox.url for label, sandbox in sandboxes.items()}, calls)
        size = state.stat().st_size
    for (label, operation), values in timings.items():
        ms = [value * 1000 for value in values]
        print(
            f"{label:<26} {operation:<23} mean {statistics.mean(ms):6.2f} ms  p50 {percentile(ms, 0.5):6.2f}  "
            f"p99 {percentile(ms, 0.99):6.2f}" + (f"  state file {size / 1e6:.2f} MB" if "--state" in label else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--channels", type=int, default=2000, help="channels in the seeded world")
    parser.add_argument("--objects", type=int, default=500, help="16 kB S3 objects in the seeded world")
    options = parser.parse_args()
    run("small world", calls=options.calls, channels=0, objects=0)
    run("seeded", calls=options.calls, channels=options.channels, objects=options.objects)


if __name__ == "__main__":
    main()
