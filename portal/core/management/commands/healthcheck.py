"""`manage.py healthcheck NAME`: exit 0 when the process NAME (worker, refresher, beat, meeting-events) touched its
heartbeat file recently, else 1 and why; compose.yaml's health checks run it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.core.health import HEARTBEAT_STALE_SECONDS, heartbeat_age, heartbeat_path

HEARTBEATS = ("worker", "refresher", "beat", "meeting-events")


class Command(BaseCommand):
    help = "Exit 0 when the named process's heartbeat is fresh, 1 when it is stale or missing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", choices=HEARTBEATS)
        parser.add_argument("--max-age", type=float, default=HEARTBEAT_STALE_SECONDS, help="Seconds (default 30).")

    def handle(self, *args: object, name: str, max_age: float, **options: object) -> None:
        age = heartbeat_age(name)
        if age is None:
            raise CommandError(f"{name}: no heartbeat yet ({heartbeat_path(name)} does not exist).")
        if age > max_age:
            raise CommandError(f"{name}: last heartbeat {age:.0f} s ago (more than {max_age:g} s).")
        self.stdout.write(f"{name}: last heartbeat {age:.1f} s ago.")
