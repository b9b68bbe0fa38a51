"""What every benchmark that runs the real pipeline needs: Django set up on a database of its own, the sandbox, a Redis
of its own, and real Celery workers (and beat) in subprocesses. Everything started here is removed at the end.

    with bench_estate("ops") as estate:
        worker = estate.worker(concurrency=1)
        ...
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")


@dataclass
class Estate:
    folder: Path
    sandbox: Any
    redis: Any
    environment: dict[str, str]
    stack: ExitStack
    world: Any = None  # the sandbox's World (in this process): a benchmark may seed it directly
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def worker(self, *, concurrency: int = 2, queues: str = "celery") -> Any:
        from tests.integration.fault_harness import CeleryWorker

        return self.stack.enter_context(CeleryWorker(self.environment, concurrency=concurrency, queues=queues))

    def beat(self) -> subprocess.Popen[bytes]:
        log = (self.folder / "beat.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "WARNING",
             "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
            cwd=REPOSITORY, env=self.environment, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        self.stack.callback(process_stop, process)
        return process


def process_stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def bench_estate(name: str, *, config: Any = None, **environment: str) -> Iterator[Estate]:
    """Django on a PostgreSQL database of its own (created and dropped), the sandbox in this process, a Redis of its
    own that this process's tasks go to; `estate.worker()` and `estate.beat()` start the worker tier."""
    folder = Path(tempfile.mkdtemp(prefix=f"rtc-bench-{name}-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_VAR_DIR=str(folder),
        SECRET_KEY=secrets.token_urlsafe(32),
        DATABASE_URL=f"{POSTGRES.rsplit('/', 1)[0]}/rtc_bench_{name}_{os.getpid()}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        LOG_LEVEL="ERROR",
    )
    import django

    django.setup()
    from django.db import connection
    from django.test import override_settings

    from rtc_sandbox.client import SandboxControl
    from rtc_sandbox.server import SandboxServer
    from tests.backing_services import celery_app_sending_to
    from tests.integration.fault_harness import DrillConfig, RedisServer, worker_environment

    config = config or DrillConfig()
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        original_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
        stack.callback(connection.creation.destroy_test_db, original_name, verbosity=0)
        server = SandboxServer("127.0.0.1", 0, tick_seconds=0.1).start()
        stack.callback(server.stop)
        os.environ["AWS_ENDPOINT_URL"] = server.url
        redis = stack.enter_context(RedisServer())
        stack.enter_context(celery_app_sending_to(redis.url))
        stack.enter_context(config.settings())
        redis_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url}
        stack.enter_context(override_settings(CACHES={"default": redis_cache}))  # the workers' cache, as in production
        env = worker_environment(broker_url=redis.url, aws_endpoint=server.url, var_dir=folder, config=config)
        env.update(environment)
        yield Estate(folder=folder, sandbox=SandboxControl(server.url), redis=redis, environment=env, stack=stack,
                     world=server.world)  # fmt: skip


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def live_stages(estate: Estate, *, stages: int, participants: int) -> tuple[Any, list[Any]]:
    """An admin and `stages` stages created through the portal, each with `participants` joined through the sandbox
    and recorded by the stages refresher. Quotas are off meanwhile; the setup worker is stopped at the end."""
    import time

    from portal.core.roles import Role, user_create_with_role
    from portal.stages.models import Participant, Stage
    from portal.stages.refresh import stages_refresh
    from portal.stages.services import stage_create

    estate.sandbox.quotas(enabled=False)
    worker = estate.worker(concurrency=2)
    admin = user_create_with_role(username="admin", password="not-secret-bench-only", role=Role.ADMIN)
    for number in range(stages):
        stage_create(actor=admin, name=f"room-{number:02d}", tags={}, tokens=[])
    while Stage.objects.filter(status=Stage.Status.ACTIVE).count() < stages:
        time.sleep(0.1)
    made = list(Stage.objects.order_by("pk"))
    for stage in made:
        for seat in range(participants):
            stage_join(estate, stage, f"{stage.name}-{seat}")
    while Participant.objects.filter(state="CONNECTED").count() < stages * participants:
        stages_refresh()
    worker.stop()
    return admin, made


def stage_join(estate: Estate, stage: Any, user_id: str) -> str:
    """Someone joins the stage with a token made outside the portal; returns their participant id."""
    from tests.conftest import sandbox_boto

    ivs = sandbox_boto(estate.sandbox.endpoint, "ivs-realtime")
    token = ivs.create_participant_token(stageArn=stage.arn, userId=user_id)["participantToken"]
    return estate.sandbox.stage_join(token["token"])["participantId"]
