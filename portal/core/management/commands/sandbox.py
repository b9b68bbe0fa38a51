"""python manage.py sandbox: the local AWS endpoint for development, tests and demos."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

SANDBOX_ACCOUNT = "123456789012"  # the simulated account unless --account says otherwise; serve names queues in it


class Command(BaseCommand):
    help = "Serve the local AWS sandbox (Chime SDK meetings, IVS Real-Time, KVS signaling, media pipelines, moto)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=4566)
        parser.add_argument("--state", type=Path, help="Keep the simulated state in this JSON file across restarts.")
        parser.add_argument("--account", default=SANDBOX_ACCOUNT, help="The simulated AWS account id.")
        parser.add_argument("--clock-scale", type=float, default=1.0, help="Virtual seconds per real second.")

    def handle(self, *args: object, **options: object) -> None:
        from portal.sandbox.server import SandboxServer  # the portal's runtime never imports the sandbox

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = SandboxServer(
            str(options["host"]),
            int(options["port"]),  # type: ignore[arg-type]
            account=str(options["account"]),
            clock_scale=float(options["clock_scale"]),  # type: ignore[arg-type]
            state_file=options["state"],  # type: ignore[arg-type]
        )
        self.stdout.write(f"AWS sandbox on {server.url} (account {options['account']}); Ctrl-C stops it.")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
