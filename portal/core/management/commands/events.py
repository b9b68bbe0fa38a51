"""The events consumer: long-polls MEETING_EVENTS_QUEUE_URL and hands what arrives to the handler of its detail-type
(portal.core.events: meeting events, capture pipelines' state changes), until stopped.

`--create-queue NAME` first creates the queue (idempotent; for the sandbox under `make run`) and prints its URL; a
configured MEETING_EVENTS_QUEUE_URL must name that queue, since meetings send their events there.

Nothing that goes wrong while consuming ends the process: an event its handler fails on is retried by the queue and
dead-lettered after MEETING_EVENTS_MAX_RECEIVES receives (portal.core.events); the AWS endpoint not answering
(the sandbox still starting, a network blip) is waited out; a lost database (PostgreSQL restarted, a connection cut)
is one line in the log, then the broken connection is closed and the database waited for with backoff, the batch
back on the queue; anything else is logged with its traceback and the next receive comes after a pause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.aws import sqs
from portal.aws.clients import aws_run
from portal.aws.errors import AwsUnavailable
from portal.core.events import DATABASE_LOST, database_wait, events_consume
from portal.core.health import heartbeat

logger = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_SECONDS = 2


class Command(BaseCommand):
    help = "Apply the events on the portal's SQS queue (long poll, batches of 10), until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--create-queue", metavar="NAME", help="Create the queue first and use its URL.")
        parser.add_argument("--wait", type=int, default=10, help="Long-poll wait in seconds (0-20).")
        parser.add_argument("--once", action="store_true", help="One receive, then stop.")

    def _until_done(self, call: Callable[[], T]) -> T:
        """The call's answer, however many tries it takes: see the module's doc for what each failure waits for."""
        while True:
            try:
                return call()
            except AwsUnavailable as error:
                self.stderr.write(f"AWS endpoint unavailable ({error}); trying again in {RETRY_SECONDS} s.")
                time.sleep(RETRY_SECONDS)
            except DATABASE_LOST as error:
                logger.warning("Database lost (%s); waiting for it, the received events stay on the queue.", error)
                database_wait()
            except Exception:
                logger.exception("The events consumer failed; trying again in %s s.", RETRY_SECONDS)
                time.sleep(RETRY_SECONDS)

    def handle(self, *args: Any, **options: Any) -> None:
        url = settings.MEETING_EVENTS_QUEUE_URL
        if options["create_queue"]:
            created = self._until_done(lambda: aws_run(sqs.queue_create(name=options["create_queue"])))
            if url and url != created:
                raise CommandError(f"MEETING_EVENTS_QUEUE_URL is {url}, but --create-queue made {created}.")
            url = created
            self.stdout.write(f"Events queue: {url}")
            self.stdout.flush()  # honcho shows it now, not when a pipe's buffer fills
        if not url:
            raise CommandError("Set MEETING_EVENTS_QUEUE_URL (or give --create-queue NAME).")
        while True:
            heartbeat("meeting-events")
            counts = self._until_done(lambda: events_consume(url=url, wait_seconds=options["wait"]))
            if any(counts.values()):
                self.stdout.write(" ".join(f"{name}={count}" for name, count in counts.items()))
                self.stdout.flush()
            if options["once"]:
                return
