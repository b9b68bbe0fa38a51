"""The meeting events consumer: long-polls MEETING_EVENTS_QUEUE_URL and applies what arrives, until stopped.

`--create-queue NAME` first creates the queue (idempotent; for the sandbox under `make run`) and prints its URL.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.aws import sqs
from portal.aws.clients import aws_run
from portal.meetings.events import meeting_events_consume


class Command(BaseCommand):
    help = "Apply meeting events from the portal's SQS queue (long poll, batches of 10), until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--create-queue", metavar="NAME", help="Create the queue first and use its URL.")
        parser.add_argument("--wait", type=int, default=10, help="Long-poll wait in seconds (0-20).")
        parser.add_argument("--once", action="store_true", help="One receive, then stop.")

    def handle(self, *args: Any, **options: Any) -> None:
        url = settings.MEETING_EVENTS_QUEUE_URL
        if options["create_queue"]:
            url = aws_run(sqs.queue_create(name=options["create_queue"]))
            self.stdout.write(f"Meeting events queue: {url}")
        if not url:
            raise CommandError("Set MEETING_EVENTS_QUEUE_URL (or give --create-queue NAME).")
        while True:
            counts = meeting_events_consume(url=url, wait_seconds=options["wait"])
            if any(counts.values()):
                self.stdout.write(" ".join(f"{name}={count}" for name, count in counts.items()), ending="\n")
            if options["once"]:
                return
