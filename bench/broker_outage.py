"""The web tier while the portal's Redis (broker and cache) is down: how long an action that starts an operation
takes, and what the pages that read the cache answer.

    .venv/bin/python bench/broker_outage.py [requests]

Runs portal.settings as production does with a Redis broker, pointed at a loopback port where nothing listens, on a
throwaway SQLite database. Prints, for each request kind, its answers and the median and slowest time, and the
statuses of the operations the posts recorded (they must all be queued: the sweeper delivers them later).
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    CLOSED_PORT = probe.getsockname()[1]
os.environ.update(
    DJANGO_SETTINGS_MODULE="portal.settings",
    PORTAL_VAR_DIR=tempfile.mkdtemp(prefix="rtc-bench-"),
    DEBUG="true",
    ALLOWED_HOSTS="testserver",
    CELERY_BROKER_URL=f"redis://127.0.0.1:{CLOSED_PORT}/0",
    AWS_RATE_LIMIT_REDIS_URL="",
    LOG_LEVEL="ERROR",
)
os.environ.pop("DATABASE_URL", None)

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from portal.core.models import Operation  # noqa: E402
from portal.core.roles import Role  # noqa: E402
from tests.factories import PASSWORD, ParticipantFactory, UserFactory  # noqa: E402


def timed(client: Client, method: str, path: str, **kwargs: object) -> tuple[int, float]:
    started = time.monotonic()
    response = getattr(client, method)(path, **kwargs)
    return response.status_code, time.monotonic() - started


def main(requests: int) -> None:
    call_command("migrate", verbosity=0)
    UserFactory(username="admin", role=Role.ADMIN)
    client = Client(raise_request_exception=False)
    client.login(username="admin", password=PASSWORD)
    stage = ParticipantFactory().session.stage
    kinds = (
        ("POST rename (starts an operation)", "post", f"/stages/{stage.pk}/rename/", {"data": {"name": "renamed"}}),
        ("GET stage page", "get", f"/stages/{stage.pk}/", {}),
        ("GET participants panel (htmx)", "get", f"/stages/{stage.pk}/?panel=participants",
         {"headers": {"HX-Request": "true"}}),
    )  # fmt: skip
    client.get("/")  # the first request of a process imports the URL configuration: not what is measured
    print(f"broker and cache: redis://127.0.0.1:{CLOSED_PORT}/0 (nothing listens)")
    print(f"{'request':<36}{'answers':<16}{'median ms':>10}{'max ms':>9}")
    for label, method, path, kwargs in kinds:
        results = [timed(client, method, path, **kwargs) for _ in range(requests)]
        answers = ", ".join(f"{count}x{code}" for code, count in sorted(Counter(code for code, _ in results).items()))
        seconds = [elapsed for _, elapsed in results]
        print(f"{label:<36}{answers:<16}{statistics.median(seconds) * 1000:>10.0f}{max(seconds) * 1000:>9.0f}")
    statuses = Counter(Operation.objects.values_list("status", flat=True))
    print("operations recorded:", dict(statuses))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
