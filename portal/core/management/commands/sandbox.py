"""python manage.py sandbox: the local AWS endpoint for development, tests and demos."""

from __future__ import annotations

import contextlib
import logging
import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

SANDBOX_ACCOUNT = "123456789012"  # the simulated account unless --account says otherwise; serve names queues in it


class Command(BaseCommand):
    help = "Serve the local AWS sandbox (Chime SDK meetings, IVS Real-Time, KVS signaling, media pipelines, moto)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=4566)
        parser.add_argument(
            "--state", type=Path, help="Keep everything the sandbox holds (moto's S3, SQS, SNS too) in this file."
        )
        parser.add_argument("--account", default=SANDBOX_ACCOUNT, help="The simulated AWS account id.")
        parser.add_argument(
            "--clock-scale", type=float, help="Virtual seconds per real second (default: the state file's, else 1)."
        )

    def handle(self, *args: object, **options: object) -> None:
        from portal.sandbox.server import SandboxServer  # the portal's runtime never imports the sandbox

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = SandboxServer(
            str(options["host"]),
            int(options["port"]),  # type: ignore[arg-type]
            account=str(options["account"]),
            clock_scale=options["clock_scale"],  # type: ignore[arg-type]
            state_file=options["state"],  # type: ignore[arg-type]
        )
        self.stdout.write(f"AWS sandbox on {server.url} (account {options['account']}); Ctrl-C stops it.")
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops it as Ctrl-C does: state saved
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
