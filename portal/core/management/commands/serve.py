"""Run the whole panel in the foreground: the Procfile's processes, each started again when it exits; Ctrl-C or
SIGTERM stops them all.

First this command chooses the broker and the AWS endpoint, and says which. Then honcho runs the processes, their
output prefixed with their names, each under `portal.core.restarts`, which starts it again when it exits (with a
growing delay, and a line saying which process ended, how, and when it starts again) while the others keep running.

Why honcho with restarts around it rather than a supervisor that restarts (supervisord, circus): honcho already reads
the Procfile (the one list of processes, which compose.yaml and the README follow), prefixes every line with its
process's name (supervisord cannot: its children's output is either mixed unlabelled on one stream or in a file per
process), and stops the whole group on Ctrl-C, each process's group (gunicorn's and Celery's children too) with
SIGTERM and with SIGKILL 5 s later. supervisord's own restarts would also not do what is wanted here: a process that
dies after it started is restarted at once, one that fails to start waits 1 s longer at each try, and after
`startretries` it is given up for good. What honcho lacks, a restart, is the one small loop in restarts.py.
"""

from __future__ import annotations

import os
import secrets
import shlex
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer

LOCAL_REDIS = "redis://127.0.0.1:6379/0"
SANDBOX_ACCOUNT = "123456789012"  # the account rtc-sandbox simulates unless --account says otherwise
PROCESSES = ["web", "worker", "refresher", "beat"]
MEETING_EVENTS_QUEUE = "rtc-portal-meeting-events"  # the Procfile's meeting-events process creates it on the sandbox
SANDBOX_SINK_BUCKET = "recordings"  # the capture sink bucket with the sandbox (README: create it, then record)


def _answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=0.3):
            return True
    except OSError:
        return False


def broker_choose(env: dict[str, str], *, local_redis: str = LOCAL_REDIS) -> str:
    """The configured broker, else a Redis answering locally, else kombu's filesystem transport; says which."""
    configured = env.get("CELERY_BROKER_URL") or env.get("REDIS_URL")
    if configured:
        return f"{configured} (from the environment)"
    if _answers(local_redis):
        env["CELERY_BROKER_URL"] = local_redis
        return f"{local_redis} (a Redis server answers there)"
    return "the filesystem transport under var/broker (no Redis configured or answering)"


def aws_endpoint_choose(env: dict[str, str], *, sandbox_port: int) -> tuple[bool, str]:
    """AWS as the environment configures it, else a sandbox of our own. True (and what was chosen) for the sandbox.
    With the sandbox, captures go to its `recordings` bucket unless CAPTURE_SINK_BUCKETS says otherwise: the portal
    reads back from configured sink buckets only."""
    if env.get("AWS_ENDPOINT_URL"):
        return False, f"{env['AWS_ENDPOINT_URL']} (from the environment)"
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE"):
        return False, "the real AWS endpoints, with credentials from the environment"
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{sandbox_port}"
    env["AWS_ACCESS_KEY_ID"] = env["AWS_SECRET_ACCESS_KEY"] = "sandbox"
    env["SANDBOX_PORT"] = str(sandbox_port)
    env["MEETING_EVENTS_QUEUE_URL"] = f"{env['AWS_ENDPOINT_URL']}/{SANDBOX_ACCOUNT}/{MEETING_EVENTS_QUEUE}"
    env.setdefault("CAPTURE_SINK_BUCKETS", SANDBOX_SINK_BUCKET)
    return True, f"the sandbox at {env['AWS_ENDPOINT_URL']} (no AWS credentials configured)"


def sma_handler_wire(env: dict[str, str], *, host: str, port: int) -> str:
    """With the sandbox, its SIP media applications invoke this portal's handler, signed with a secret both share
    (SMA_HANDLER_SECRET, made up for this run unless set), and a dialled phone answers after 3 seconds."""
    env.setdefault("SMA_HANDLER_SECRET", secrets.token_urlsafe(32))
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    env["SANDBOX_SMA_HANDLER_URL"] = f"http://{reachable}:{port}/pstn/sma/"
    env.setdefault("SANDBOX_CALL_ANSWER_SECONDS", "3")
    return env["SANDBOX_SMA_HANDLER_URL"]


def procfile_read() -> dict[str, str]:
    """The Procfile's processes: name to command."""
    return dict(parse_procfile((Path(settings.BASE_DIR) / "Procfile").read_text()).processes)


def restarting_command(name: str, command: str) -> str:
    """The shell command honcho runs for a Procfile process: the process, kept running by portal.core.restarts."""
    return "exec " + shlex.join([sys.executable, "-m", "portal.core.restarts", name, command])


def processes_choose(env: dict[str, str], *, with_sandbox: bool) -> list[str]:
    """The Procfile's processes to start: meeting-events once a queue is known (the sandbox's, or configured)."""
    return (
        PROCESSES
        + (["meeting-events"] if env.get("MEETING_EVENTS_QUEUE_URL") else [])
        + (["sandbox"] if with_sandbox else [])
    )


class Command(BaseCommand):
    help = "Run web, workers, beat (and the sandbox when no AWS is configured) in the foreground: `make run`."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=4566)

    def handle(self, *args: object, host: str, port: int, sandbox_port: int, **options: object) -> None:
        env = dict(os.environ)
        broker = broker_choose(env)
        with_sandbox, endpoint = aws_endpoint_choose(env, sandbox_port=sandbox_port)
        # The Procfile's commands say `python`: this interpreter, whether or not its virtualenv is activated.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["WEB_HOST"] = host
        web_processes = env.get("WEB_CONCURRENCY") or "one per CPU"
        self.stdout.write(f"Broker: {broker}")
        self.stdout.write(f"AWS endpoint: {endpoint}")
        if with_sandbox:
            handler_url = sma_handler_wire(env, host=host, port=port)
            self.stdout.write(f"The sandbox's SIP media applications call the handler at {handler_url}")
        self.stdout.write(f"RTC Portal: http://{host}:{port}/ (web processes: {web_processes}; Ctrl-C stops all)")
        self.stdout.flush()
        # The environment is complete here (no .env file is read). Only web reads PORT.
        env["PORT"] = str(port)
        procfile = procfile_read()
        manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
        for name in processes_choose(env, with_sandbox=with_sandbox):
            manager.add_process(f"{name}.1", restarting_command(name, procfile[name]), env=env, cwd=settings.BASE_DIR)
        manager.loop()
        sys.exit(manager.returncode)
