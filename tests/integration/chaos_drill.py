"""The chaos drill of the whole portal: the stack `make run` starts, on a PostgreSQL and a Redis of the drill's own.

Start: initdb and postgres on a free port, redis-server on a free port, `manage.py migrate`, `create_demo_users` and
`manage.py serve` (web, worker, refresher, beat, the meeting-events consumer, the sandbox) against them.
Workload, through the web UI over HTTP (a logged-in session, the CSRF token) and the sandbox's control API: a SIP
media application and a rule to a dial-in number, a channel fleet, meetings with attendees (some join), attendees
added, callers dialling in with the PIN, a capture of the first meeting.
Chaos, in turn, while the workload runs: SIGKILL a gunicorn worker, a Celery pool child of the operations worker, the
refresher, beat and the consumer; stop and restart the Redis; stop and restart the PostgreSQL. A prober requests a
liveness page and a page that reads the database every ~100 ms throughout, and records every answer.
Judge: what the prober saw, the processes under serve, and the sandbox's state against the portal's rows.
Nothing here needs pytest or Django in this process (the portal's rows are read with psycopg): bench/chaos.py runs
the same for longer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psutil
import psycopg
import requests
from psycopg.rows import dict_row

from rtc_sandbox.client import SandboxControl, SandboxControlError
from tests.backing_services import wait_until
from tests.integration.fault_harness import REPOSITORY, DrillConfig, RedisServer, free_port, log_tail, terminate

POSTGRES_BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
ADMIN = ("admin", "admin-demo-pass")  # create_demo_users
DIAL_IN = "+12065550100"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rtc-portal-chaos-sma"
BUCKET = "chaos-captures"
EVENTS_QUEUE = "rtc-portal-meeting-events"  # the queue serve's meeting-events process creates on the sandbox
# A received message that was not deleted comes back after this long (SQS's default is 30 s); shortened as
# DrillConfig shortens the operation pipeline's timing, so that the drill settles within seconds.
EVENTS_VISIBILITY_SECONDS = 5
PROBE_EVERY = 0.1
PROBE_TIMEOUT = 20.0
REFUSED = "connection refused"
CUT = "connection cut before the answer"  # the web process serving it was killed
DATABASE_GRACE = 3.0  # seconds after the database answers again in which a 503 still counts as "while it was down"

ANSWERED = (
    "the portal answered throughout: no refused connection, 503 with Retry-After only while the database was down"
)
RUNNING = "every process is running again"
ENDED = "every operation succeeded"
MEETINGS = "one meeting in AWS per meeting the portal created"
ATTENDEES = "one attendee in AWS per attendee the portal recorded, and none it does not know"
CALLERS = "every caller who gave the right PIN is in the meeting"
CHANNELS = "every fleet channel exists once in AWS"
PIPELINE = "one capture pipeline in AWS for the capture requested"
EVENTS = "every meeting event the sandbox sent was applied exactly once"
DEAD = "nothing dead-lettered"
CHECKS = (ANSWERED, RUNNING, ENDED, MEETINGS, ATTENDEES, CALLERS, CHANNELS, PIPELINE, EVENTS, DEAD)

# The processes under serve, told apart by their command line (Procfile), whatever runs them (a shell, a supervisor).
ROLES: dict[str, Callable[[str], bool]] = {
    "web": lambda command: "gunicorn" in command and "portal.wsgi" in command,
    "worker": lambda command: "celery" in command and "worker@" in command,
    "refresher": lambda command: "celery" in command and "refresher@" in command,
    "beat": lambda command: "celery" in command and " beat" in command,
    "meeting-events": lambda command: "manage.py events" in command,
    "sandbox": lambda command: "rtc-sandbox" in command,
}
SHELLS = {"sh", "bash", "dash"}
SUPERVISOR = "portal.core.restarts"  # serve's restart loop around each process: it carries the command it runs
FAULTS = ("web", "worker", "refresher", "beat", "meeting-events", "redis", "postgres")  # in the order they come


# --- the drill's own PostgreSQL ---------------------------------------------------------------------------------


class PostgresServer:
    """A PostgreSQL cluster of the drill's own (initdb in a temporary folder) on a free port; it can stop and start."""

    def __init__(self, *, binaries: Path = POSTGRES_BIN) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="drill-postgres-"))
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.user = "postgres" if os.geteuid() == 0 else None  # initdb and postgres refuse to run as root
        if self.user:
            shutil.chown(self.folder, self.user)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/portal"

    def _run(self, *command: str) -> None:
        subprocess.run(command, check=True, capture_output=True, user=self.user)

    def start(self) -> PostgresServer:
        if not self.data.exists():
            initdb = str(self.binaries / "initdb")
            self._run(initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        options = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}"]
        options += ["-c", "fsync=off", "-c", "max_connections=200", "-c", "full_page_writes=off"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binaries / "postgres"), "-D", str(self.data), "-p", str(self.port), *options],
                stdout=log, stderr=log, user=self.user, start_new_session=True,
            )  # fmt: skip
        wait_until(self._answers, timeout=30, interval=0.1)
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{log_tail(self.log_path)}")
        try:
            with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", connect_timeout=1) as connection:
                connection.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def create_database(self) -> None:
        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
            connection.execute("CREATE DATABASE portal")

    def stop_fast(self) -> None:
        """Fast shutdown (SIGINT): every client connection is cut, as when the server restarts."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, timeout=15)
        shutil.rmtree(self.folder, ignore_errors=True)


# --- the stack --------------------------------------------------------------------------------------------------


@dataclass
class Portal:
    """`manage.py serve` and the addresses it answers on."""

    process: subprocess.Popen[bytes]
    url: str
    sandbox_url: str
    log_path: Path

    def tree(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def roles(self) -> dict[str, tuple[psutil.Process | None, list[psutil.Process]]]:
        """Each role's main process (its parent is not of the role) and that process's own children of the role,
        from one look at serve's process tree."""
        commands: dict[int, tuple[psutil.Process, str]] = {}
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                command = " ".join(process.cmdline())
                if process.name() not in SHELLS and SUPERVISOR not in command:
                    commands[process.pid] = (process, command)
        found: dict[str, tuple[psutil.Process | None, list[psutil.Process]]] = {}
        for role, matches in ROLES.items():
            matching = {pid: process for pid, (process, command) in commands.items() if matches(command)}
            mains = [p for p in matching.values() if p.ppid() not in matching]
            if not mains:
                found[role] = (None, [])
                continue
            # a killed main's pool children may linger a moment under a subreaper: the main is the one with children
            main = max(mains, key=lambda p: sum(1 for other in matching.values() if other.ppid() == p.pid))
            found[role] = (main, [p for p in matching.values() if p.ppid() == main.pid])
        return found

    def role_processes(self, role: str) -> tuple[psutil.Process | None, list[psutil.Process]]:
        return self.roles()[role]


def stack_environment(*, folder: Path, database: str, broker: str, config: DrillConfig) -> dict[str, str]:
    """What `make run` gives serve, on the drill's database and broker; no AWS configured: serve starts the sandbox."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CELERY_", "DJANGO_", "TEST_", "PYTEST_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "MEETING_EVENTS_QUEUE_URL", "WEB_CONCURRENCY"}
    }
    return {
        **inherited,
        **config.environment(),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "true",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "PORTAL_VAR_DIR": str(folder),
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": broker,
        "WEB_CONCURRENCY": "2",
        "OPERATION_REDELIVER_AFTER_SECONDS": "5",  # a message the broker lost with its data is sent again soon
        "CAPTURE_SINK_BUCKETS": BUCKET,
        "AWS_EC2_METADATA_DISABLED": "true",
        "LOG_LEVEL": "INFO",
    }


def manage(environment: dict[str, str], *arguments: str) -> None:
    subprocess.run([sys.executable, "manage.py", *arguments], cwd=REPOSITORY, env=environment, check=True,
                   capture_output=True)  # fmt: skip


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2, allow_redirects=False).status_code < 500
    except requests.RequestException:
        return False


def portal_start(environment: dict[str, str], folder: Path) -> Portal:
    web, sandbox = free_port(), free_port(range(18200, 18300))
    log_path = folder / "serve.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(web), "--sandbox-port", str(sandbox)],
            cwd=REPOSITORY, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    portal = Portal(process, f"http://127.0.0.1:{web}", f"http://127.0.0.1:{sandbox}", log_path)

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}:\n{log_tail(log_path)}")
        queue = "Events queue:" in log_path.read_text(errors="replace")
        return queue and answers(f"{portal.url}/login/") and answers(f"{portal.sandbox_url}/_sandbox/health")

    wait_until(up, timeout=90, interval=0.3)
    return portal


def portal_stop(portal: Portal) -> None:
    terminate(portal.process, timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(portal.process.pid, signal.SIGKILL)


# --- the web UI, over HTTP ----------------------------------------------------------------------------------------


class Browser:
    """A logged-in session on the portal: forms posted with the CSRF token, redirects not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def login(self, username: str, password: str) -> None:
        self.session.get(f"{self.base}/login/", timeout=PROBE_TIMEOUT)
        response = self.post("/login/", {"username": username, "password": password})
        if response.status_code != 302:
            raise RuntimeError(f"Login as {username} answered {response.status_code}")

    def get(self, path: str, **options: Any) -> requests.Response:
        return self.session.get(f"{self.base}{path}", timeout=PROBE_TIMEOUT, allow_redirects=False, **options)

    def post(self, path: str, form: dict[str, str]) -> requests.Response:
        headers = {"X-CSRFToken": self.session.cookies.get("csrftoken", ""), "Referer": f"{self.base}{path}"}
        data = {"csrfmiddlewaretoken": self.session.cookies.get("csrftoken", ""), **form}
        return self.session.post(f"{self.base}{path}", data=data, headers=headers, timeout=PROBE_TIMEOUT,
                                 allow_redirects=False)  # fmt: skip


MEDIA = {"audio": "SendReceive", "video": "SendReceive", "content": "SendReceive"}


def meeting_form(name: str, attendees: list[str]) -> dict[str, str]:
    return {"external_meeting_id": name, "media_region": "us-east-1", "attendee_lines": "\n".join(attendees),
            "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0", **MEDIA}  # fmt: skip


def capture_form() -> dict[str, str]:
    return {"bucket": BUCKET, "prefix": "", "audio_mux": "AudioOnly", "video": "on", "content": "on",
            "video_streams": "", "stop_when_empty_minutes": "", "max_duration_minutes": "",
            "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0"}  # fmt: skip


# --- the portal's rows, read with psycopg -------------------------------------------------------------------------


class Rows:
    """Queries on the drill's database; each on a connection of its own, so a database restart costs one query."""

    def __init__(self, url: str) -> None:
        self.url = url

    def all(self, sql: str, *parameters: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, connect_timeout=3, row_factory=dict_row) as connection:
            return connection.execute(sql, parameters).fetchall()  # type: ignore[arg-type]

    def value(self, sql: str, *parameters: Any) -> Any:
        rows = self.all(sql, *parameters)
        return next(iter(rows[0].values())) if rows else None


# --- the prober ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    path: str
    started: float
    seconds: float
    status: int | None  # None: no answer
    retry_after: str
    error: str


class Prober:
    """Requests a page every PROBE_EVERY seconds, the paths in turn, from threads of its own, so one slow answer
    delays no other (at most 12 wait at once; a turn with 12 waiting is skipped and counted)."""

    def __init__(self, base: str, paths: list[str], cookies: Any) -> None:
        self.base = base
        self.paths = paths
        self.cookies = cookies
        self.probes: list[Probe] = []
        self.skipped = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="prober")
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)

    def start(self) -> Prober:
        self._thread.start()
        return self

    def _run(self) -> None:
        turn = 0
        while not self._stop.wait(PROBE_EVERY):
            path = self.paths[turn % len(self.paths)]
            turn += 1
            with self._lock:
                if self._in_flight >= 12:
                    self.skipped += 1
                    continue
                self._in_flight += 1
            self._pool.submit(self._probe, path)

    def _probe(self, path: str) -> None:
        started = time.monotonic()
        status, retry_after, error = None, "", ""
        try:
            response = requests.get(f"{self.base}{path}", cookies=self.cookies, timeout=PROBE_TIMEOUT,
                                    allow_redirects=False)  # fmt: skip
            status, retry_after = response.status_code, response.headers.get("Retry-After", "")
        except requests.ConnectionError as failed:
            error = REFUSED if "refused" in str(failed).lower() else CUT
        except requests.Timeout:
            error = f"no answer within {PROBE_TIMEOUT} s"
        probe = Probe(path, started, time.monotonic() - started, status, retry_after, error)
        with self._lock:
            self.probes.append(probe)
            self._in_flight -= 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)


# --- the process watch --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exit:
    role: str
    pid: int
    at: float
    reason: str


class ProcessWatch:
    """Notes every main process under serve that goes away without the drill having killed it, with the last error
    line its output shows in serve's log in the seconds before (what made it exit)."""

    REASON_SECONDS = 3.0

    def __init__(self, portal: Portal, killed: Callable[[], set[int]]) -> None:
        self.portal = portal
        self.killed = killed
        self.exits: list[Exit] = []
        self._seen: dict[str, int] = {}
        self._log_sizes: deque[tuple[float, int]] = deque()  # (when, the log's size then), for REASON_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-watch", daemon=True)

    def start(self) -> ProcessWatch:
        self._look()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._look()

    def _look(self) -> None:
        now = time.monotonic()
        self._log_sizes.append((now, self.portal.log_path.stat().st_size))
        while self._log_sizes[0][0] < now - self.REASON_SECONDS:
            self._log_sizes.popleft()
        for role, (main, _children) in self.portal.roles().items():
            seen = self._seen.get(role)
            if seen is not None and (main is None or main.pid != seen) and seen not in self.killed():
                self.exits.append(Exit(role, seen, time.monotonic(), self._reason(role)))
            if main is not None:
                self._seen[role] = main.pid
            elif seen is not None:
                del self._seen[role]

    def _reason(self, role: str) -> str:
        errors = re.compile(rf"\b{re.escape(role)}\.\d+ +\| +((?:\w+\.)*\w+(?:Error|Exception)\b.*)")
        with self.portal.log_path.open("rb") as log:
            log.seek(self._log_sizes[0][1])
            recent = log.read().decode(errors="replace").splitlines()
        found = [match.group(1) for match in map(errors.search, recent) if match]
        return found[-1][:240] if found else f"no error in its output in the {self.REASON_SECONDS:.0f} s before"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# --- the drill ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChaosSize:
    """The short run (the pytest test) by default; bench/chaos.py repeats the chaos for longer."""

    meetings_per_round: int = 2
    meetings_max: int = 120  # the account allows 250 at once: a long run goes on without more
    attendees_per_meeting: int = 2
    fleet: int = 6
    callers_per_round: int = 1
    fault_gap_seconds: float = 2.0
    outage_seconds: float = 2.5
    heal_seconds: float = 10.0
    settle_seconds: float = 30.0
    minutes: float = 0.0  # rounds of the seven faults follow each other for this long (one round at least)
    faults: tuple[str, ...] = ()  # only these (FAULTS' names); all by default


@dataclass
class Fault:
    name: str
    started: float
    ended: float = 0.0
    killed_pid: int | None = None
    healed_after: float | None = None
    note: str = ""


@dataclass
class Finding:
    check: str
    text: str


@dataclass
class Verdict:
    findings: list[Finding]
    figures: dict[str, Any]

    def failures(self, check: str) -> list[str]:
        return [finding.text for finding in self.findings if finding.check == check]


@dataclass
class Workload:
    """What the workload asked for, as the drill remembers it (the portal's own rows say what was recorded)."""

    meetings: list[str] = field(default_factory=list)
    callers: list[tuple[str, str]] = field(default_factory=list)  # (transaction id, meeting id) of a right PIN
    fleet: list[str] = field(default_factory=list)
    capture_requested: bool = False
    errors: Counter[str] = field(default_factory=Counter)


class ChaosDrill:
    def __init__(
        self, *, size: ChaosSize | None = None, config: DrillConfig | None = None, keep_log: Path | None = None
    ) -> None:
        self.size = size or ChaosSize()
        self.config = config or DrillConfig()
        self.keep_log = keep_log  # serve's log (every process's output) is copied there before the estate goes
        self.workload = Workload()
        self.faults: list[Fault] = []
        self.timings: dict[str, float] = {}
        self._stop = threading.Event()

    # --- setup and teardown --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def estate(self) -> Iterator[None]:
        started = time.monotonic()
        self.folder = Path(tempfile.mkdtemp(prefix="rtc-chaos-"))
        with contextlib.ExitStack() as stack:
            stack.callback(shutil.rmtree, self.folder, ignore_errors=True)
            self.postgres = PostgresServer()
            stack.callback(self.postgres.stop)
            self.postgres.start().create_database()
            self.redis = stack.enter_context(RedisServer())
            self.environment = stack_environment(
                folder=self.folder, database=self.postgres.url, broker=self.redis.url, config=self.config
            )
            manage(self.environment, "migrate", "--noinput", "-v0")
            manage(self.environment, "create_demo_users")
            self.rows = Rows(self.postgres.url)
            self.portal = portal_start(self.environment, self.folder)
            if self.keep_log is not None:
                stack.callback(lambda: shutil.copyfile(self.portal.log_path, self.keep_log))
            stack.callback(portal_stop, self.portal)
            self.sandbox = SandboxControl(self.portal.sandbox_url)
            self.timings["start"] = time.monotonic() - started
            yield

    def run(self) -> Verdict:
        with self.estate():
            started = time.monotonic()
            self.browser = Browser(self.portal.url)
            self.browser.login(*ADMIN)
            self.wire()
            liveness = "/healthz" if self.browser.get("/healthz").status_code == 200 else "/login/"
            prober_browser = Browser(self.portal.url)
            prober_browser.login(*ADMIN)
            pages = [liveness, "/meetings/", f"/meetings/{self.lobby}/"]  # a list, and an open page that watches
            self.prober = Prober(self.portal.url, pages, prober_browser.session.cookies).start()
            self.watch = ProcessWatch(self.portal, lambda: {f.killed_pid for f in self.faults if f.killed_pid}).start()
            workload = threading.Thread(target=self._workload, name="workload", daemon=True)
            workload.start()
            try:
                self.chaos()
            finally:
                self._stop.set()
                workload.join(timeout=60)
                self.prober.stop()
            self.timings["chaos"] = time.monotonic() - started
            settle_started = time.monotonic()
            self.settle()
            self.timings["settle"] = time.monotonic() - settle_started
            self.watch.stop()
            return self.judge()

    def wire(self) -> None:
        """A dial-in number routed by the portal's SMA and rule; the capture bucket; the lobby, a meeting that is
        open in the prober's browser throughout."""
        self._aws("s3").create_bucket(Bucket=BUCKET)
        sqs = self._aws("sqs")
        queue = sqs.get_queue_url(QueueName=EVENTS_QUEUE)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": str(EVENTS_VISIBILITY_SECONDS)})
        self.sandbox.quotas(enabled=False)
        sma = {"name": "chaos dial in", "aws_region": "us-east-1", "lambda_arn": LAMBDA_ARN}
        self._expect_redirect(self.browser.post("/calls/wiring/smas/new/", sma), "SMA")
        wait_until(lambda: self._succeeded("pstn.create_sma") == 1, timeout=30, interval=0.3)
        sma_pk = self.rows.value("SELECT id FROM pstn_sipmediaapplication ORDER BY id LIMIT 1")
        rule = {"name": "chaos number", "trigger_type": "ToPhoneNumber", "trigger_value": DIAL_IN, "priority": "1",
                "target": str(sma_pk)}  # fmt: skip
        self._expect_redirect(self.browser.post("/calls/wiring/rules/new/", rule), "SIP rule")
        wait_until(lambda: self._succeeded("pstn.create_rule") == 1, timeout=30, interval=0.3)
        self._expect_redirect(self.browser.post("/meetings/new/", meeting_form("chaos-lobby", [])), "lobby")
        self.workload.meetings.append("chaos-lobby")
        wait_until(lambda: self._succeeded("meetings.create") == 1, timeout=30, interval=0.3)
        self.lobby = self.rows.value("SELECT id FROM meetings_meeting WHERE external_meeting_id = 'chaos-lobby'")

    def _aws(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.portal.sandbox_url, region_name="us-east-1",
                            aws_access_key_id="sandbox", aws_secret_access_key="sandbox")  # fmt: skip

    def _succeeded(self, kind: str) -> int:
        return self.rows.value("SELECT count(*) FROM core_operation WHERE kind = %s AND status = 'succeeded'", kind)

    @staticmethod
    def _expect_redirect(response: requests.Response, what: str) -> None:
        if response.status_code not in (302, 303):
            raise RuntimeError(f"Creating the {what} answered {response.status_code}: {response.text[:500]}")

    # --- the workload ----------------------------------------------------------------------------------------------

    def _workload(self) -> None:
        steps = self._steps()
        while not self._stop.is_set():
            step = next(steps)
            try:
                step()
            except (OSError, SandboxControlError, psycopg.Error, RuntimeError) as error:  # requests' errors too
                self.workload.errors[f"{step.__name__}: {type(error).__name__}"] += 1
                self._stop.wait(0.5)
            self._stop.wait(0.2)

    def _steps(self) -> Iterator[Callable[[], None]]:
        yield self.fleet_create
        number = 0
        while True:
            for _ in range(self.size.meetings_per_round):
                if number < self.size.meetings_max:
                    number += 1
                    yield self._meeting_step(number)
            yield self.attendees_join
            yield self.attendees_add
            if not self.workload.capture_requested:
                yield self.capture_start
            for _ in range(self.size.callers_per_round):
                yield self.caller_dial_in

    def fleet_create(self) -> None:
        pattern = f"chaos-cam-{{01..{self.size.fleet:02d}}}"
        form = {"pattern": pattern, "channel_type": "SINGLE_MASTER", "message_ttl": "60", "tags": ""}
        response = self.browser.post("/channels/fleet/", form)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"fleet answered {response.status_code}")
        self.workload.fleet = [f"chaos-cam-{n:02d}" for n in range(1, self.size.fleet + 1)]

    def _meeting_step(self, number: int) -> Callable[[], None]:
        name = f"chaos-{number:03d}"

        def meeting_create() -> None:
            attendees = [f"{name}-a{k}" for k in range(self.size.attendees_per_meeting)]
            response = self.browser.post("/meetings/new/", meeting_form(name, attendees))
            if response.status_code not in (302, 303):
                raise RuntimeError(f"meeting create answered {response.status_code}")
            self.workload.meetings.append(name)

        return meeting_create

    def _active_meetings(self) -> list[dict[str, Any]]:
        return self.rows.all("SELECT id, meeting_id, external_meeting_id FROM meetings_meeting "
                             "WHERE status = 'active' AND meeting_id IS NOT NULL ORDER BY id")  # fmt: skip

    def attendees_join(self) -> None:
        """Attendees the portal added join through the sandbox: their meeting sends AttendeeJoined."""
        world = self.sandbox.state()["state"]
        for meeting in world.get("chime.meetings", {}).values():
            for attendee in list(meeting["attendees"].values())[:1]:
                if not attendee.get("connected") and attendee["ExternalUserId"].startswith("chaos-"):
                    self.sandbox.meeting_join(attendee["JoinToken"])

    def attendees_add(self) -> None:
        meetings = self._active_meetings()
        if not meetings:
            return
        meeting = meetings[len(self.workload.meetings) % len(meetings)]
        users = [f"{meeting['external_meeting_id']}-x{len(self.workload.meetings)}-{k}" for k in range(2)]
        form = {"attendee_lines": "\n".join(users), **MEDIA}
        response = self.browser.post(f"/meetings/{meeting['id']}/attendees/add/", form)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"attendees add answered {response.status_code}")

    def capture_start(self) -> None:
        meetings = self._active_meetings()
        if not meetings:
            return
        response = self.browser.post(f"/pipelines/meetings/{meetings[0]['id']}/record/", capture_form())
        if response.status_code not in (302, 303):
            raise RuntimeError(f"capture start answered {response.status_code}")
        self.workload.capture_requested = True

    def caller_dial_in(self) -> None:
        meetings = self._active_meetings()
        if not meetings:
            return
        meeting = meetings[-1]
        page = self.browser.get(f"/meetings/{meeting['id']}/").text
        pin = re.search(r'id="dial-in-pin">(\d{6})<', page)
        if pin is None:
            raise RuntimeError("no dial-in PIN on the meeting page")
        caller = f"+1415555{len(self.workload.callers):04d}"
        call = self.sandbox.call_dial(caller, DIAL_IN)
        call = self.sandbox.call_press(call["TransactionId"], f"{pin.group(1)}#")
        self.workload.callers.append((call["TransactionId"], meeting["meeting_id"]))

    # --- the chaos ---------------------------------------------------------------------------------------------------

    def chaos(self) -> None:
        faults: dict[str, Callable[[], None]] = {
            "web": lambda: self.kill("web worker", "web", child=True),
            "worker": lambda: self.kill("operations worker child", "worker", child=True),
            "refresher": lambda: self.kill("refresher", "refresher", child=False),
            "beat": lambda: self.kill("beat", "beat", child=False),
            "meeting-events": lambda: self.kill("meeting-events consumer", "meeting-events", child=False),
            "redis": lambda: self.outage("Redis", self.redis.crash, self.redis.start),
            "postgres": lambda: self.outage("PostgreSQL", self.postgres.stop_fast, self.postgres.start),
        }
        chosen = [faults[name] for name in (self.size.faults or FAULTS)]
        deadline = time.monotonic() + 60 * self.size.minutes
        while True:
            for fault in chosen:
                time.sleep(self.size.fault_gap_seconds)
                fault()
            if time.monotonic() >= deadline:
                break
        time.sleep(self.size.fault_gap_seconds)

    def kill(self, name: str, role: str, *, child: bool) -> None:
        fault = Fault(name, time.monotonic())
        self.faults.append(fault)
        main, children = self.portal.role_processes(role)
        victim = (children[0] if children else None) if child else main
        if victim is None:
            fault.note = f"no {name} process to kill"
            fault.ended = time.monotonic()
            return
        fault.killed_pid = victim.pid
        killed_at = time.time()
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.send_signal(signal.SIGKILL)
        fault.ended = time.monotonic()
        expected = len(children)

        def replaced() -> bool:
            """As many processes as before, one of them started after the kill."""
            new_main, new_children = self.portal.role_processes(role)
            now = new_children if child else [new_main] if new_main is not None else []
            with contextlib.suppress(psutil.Error):
                started = [p for p in now if p.create_time() >= killed_at - 0.01]
                return len(now) >= (expected if child else 1) and bool(started)
            return False

        fault.healed_after = self._heal_time(replaced, fault.ended)

    def outage(self, name: str, stop: Callable[[], None], start: Callable[[], Any]) -> None:
        fault = Fault(f"{name} stopped and restarted", time.monotonic())
        self.faults.append(fault)
        stop()
        time.sleep(self.size.outage_seconds)
        start()
        fault.ended = time.monotonic()
        fault.healed_after = self._heal_time(self._portal_reads, fault.ended)

    def _portal_reads(self) -> bool:
        """A page that reads the database answers 200 on a new session's request."""
        try:
            return self.browser.get("/meetings/").status_code == 200
        except requests.RequestException:
            return False

    def _heal_time(self, healed: Callable[[], bool], since: float) -> float | None:
        deadline = since + self.size.heal_seconds
        while time.monotonic() < deadline:
            if self.portal.process.poll() is not None:
                self.faults[-1].note = "serve had exited"
                return None
            if healed():
                return round(time.monotonic() - since, 2)
            time.sleep(0.2)
        return None

    # --- settling ----------------------------------------------------------------------------------------------------

    def settle(self) -> None:
        """Until nothing is queued or running and every event the sandbox sent is recorded, or the deadline passes;
        at once when serve is gone (nothing is left to settle anything)."""
        deadline = time.monotonic() + self.size.settle_seconds
        while time.monotonic() < deadline and self.portal.process.poll() is None:
            with contextlib.suppress(psycopg.Error, requests.RequestException, SandboxControlError):
                if not self._unsettled():
                    return
            time.sleep(0.5)

    def _unsettled(self) -> bool:
        unfinished = self.rows.value("SELECT count(*) FROM core_operation WHERE status IN ('queued', 'running')")
        sent = len(self._sent_events(self.sandbox.state()["state"]))
        applied = self.rows.value("SELECT count(*) FROM meetings_meetingevent")
        return bool(unfinished) or applied < sent

    # --- judging ------------------------------------------------------------------------------------------------------

    def judge(self) -> Verdict:
        findings: list[Finding] = []
        findings += self._judge_answers()
        findings += self._judge_processes()
        world = self._world()
        if world is None:
            unreadable = "the sandbox does not answer and left no state file: AWS's side cannot be read"
            findings += [Finding(check, unreadable) for check in (MEETINGS, ATTENDEES, CALLERS, CHANNELS, PIPELINE,
                                                                   EVENTS)]  # fmt: skip
        try:
            findings += self._judge_operations()
            if world is not None:
                findings += self._judge_aws(world)
            findings += [Finding(DEAD, f"dead letter #{row['id']}: {row['error'][:200]}")
                         for row in self.rows.all("SELECT id, error FROM core_deadletter ORDER BY id")]  # fmt: skip
        except psycopg.Error as error:
            findings.append(Finding(ENDED, f"the drill's database does not answer: {error}"))
        return Verdict(findings, self._figures(world))

    def _world(self) -> dict[str, Any] | None:
        """The sandbox's state: asked of it, or, when it is gone, the file it saves on every tick and at its stop."""
        try:
            world = self.sandbox.state()["state"]
            self.world_source = "the sandbox"
        except (OSError, SandboxControlError):
            saved = self.folder / "sandbox-state.json"
            if not saved.exists():
                self.world_source = "nowhere"
                return None
            world = json.loads(saved.read_text())["state"]
            self.world_source = "the sandbox's state file (it no longer answered; the file may miss its last tick)"
        return world

    def _down_windows(self) -> list[tuple[float, float]]:
        return [(f.started, f.ended + DATABASE_GRACE) for f in self.faults if f.name.startswith("PostgreSQL")]

    def _judge_answers(self) -> list[Finding]:
        windows = self._down_windows()
        web_kills = [f.ended for f in self.faults if f.name == "web worker"]
        findings: list[Finding] = []
        bad: Counter[tuple[str, str, str]] = Counter()
        for probe in self.prober.probes:
            finished = probe.started + probe.seconds
            if probe.error == CUT and any(probe.started <= kill <= finished for kill in web_kills):
                continue  # the request the killed worker was serving: only a proxy in front could answer it
            if probe.status is None:
                bad[(probe.path, probe.error, self._during(probe.started + probe.seconds))] += 1
                continue
            if probe.status < 500:
                continue
            in_window = any(probe.started <= end and start <= finished for start, end in windows)
            if probe.status == 503 and probe.retry_after and in_window:
                continue
            what = f"{probe.status}{' with Retry-After' if probe.retry_after else ' without Retry-After'}"
            bad[(probe.path, what, self._during(probe.started + probe.seconds))] += 1
        for (path, what, during), count in sorted(bad.items()):
            findings.append(Finding(ANSWERED, f"{path}: {count} probes answered {what} (during: {during})"))
        return findings

    def _during(self, moment: float) -> str:
        """The last fault (or unkilled exit) before `moment`, when a probe was answered: what the portal faced."""
        happened = [(f.started, f.name) for f in self.faults]
        happened += [(e.at, f"{e.role} going away unkilled") for e in self.watch.exits]
        before = sorted(event for event in happened if event[0] <= moment)
        return before[-1][1] if before else "before the first fault"

    def _judge_processes(self) -> list[Finding]:
        findings: list[Finding] = []
        if self.portal.process.poll() is not None:
            findings.append(Finding(RUNNING, f"serve itself exited with {self.portal.process.returncode}"))
        start = self.faults[0].started if self.faults else 0.0
        findings += [
            Finding(RUNNING, f"{e.role} (pid {e.pid}) went away unkilled {e.at - start:+.1f} s from the first fault: "
                             f"{e.reason}")
            for e in self.watch.exits
        ]  # fmt: skip
        for role, (main, children) in self.portal.roles().items():
            if main is None:
                findings.append(Finding(RUNNING, f"{role}: not running"))
            elif role in ("web", "worker", "refresher") and not children:
                findings.append(Finding(RUNNING, f"{role}: its main process runs, with no child"))
        for fault in self.faults:
            if fault.note:
                findings.append(Finding(RUNNING, f"{fault.name}: {fault.note}"))
            elif fault.healed_after is None:
                findings.append(Finding(RUNNING, f"{fault.name}: not back within {self.size.heal_seconds} s"))
        return findings

    def _judge_operations(self) -> list[Finding]:
        rows = self.rows.all("SELECT id, kind, status, attempts, error_code, error_message FROM core_operation "
                             "WHERE status <> 'succeeded' ORDER BY id")  # fmt: skip
        return [Finding(ENDED, f"#{r['id']} {r['kind']} {r['status']} after {r['attempts']} attempt(s): "
                               f"{r['error_code']} {r['error_message'][:120]}") for r in rows]  # fmt: skip

    def _judge_aws(self, world: dict[str, Any]) -> list[Finding]:
        findings: list[Finding] = []
        aws_meetings = {**world.get("chime.ended_meetings", {}), **world.get("chime.meetings", {})}
        by_name = Counter(m["ExternalMeetingId"] for m in aws_meetings.values() if m.get("ExternalMeetingId"))
        created = self.rows.all(
            "SELECT o.id, o.parameters->>'external_meeting_id' AS name, m.meeting_id FROM core_operation o "
            "LEFT JOIN meetings_meeting m ON m.id = (o.parameters->>'meeting_pk')::bigint "
            "WHERE o.kind = 'meetings.create' ORDER BY o.id"
        )
        for row in created:
            if by_name[row["name"]] != 1 or row["meeting_id"] not in aws_meetings:
                text = f"#{row['id']} {row['name']}: {by_name[row['name']]} in AWS, the portal's is {row['meeting_id']}"
                findings.append(Finding(MEETINGS, text))
        if not created:
            findings.append(Finding(MEETINGS, "no meeting was created: the workload never got that far"))
        known = {row["name"] for row in created}
        findings += [Finding(MEETINGS, f"{name}: {count} in AWS, not created by the portal")
                     for name, count in by_name.items() if name not in known]  # fmt: skip
        findings += self._judge_attendees(aws_meetings)
        findings += self._judge_callers(world)
        channels = Counter(c["name"] for c in world.get("kvs.channels", {}).values())
        findings += [Finding(CHANNELS, f"{name}: {channels[name]} in AWS")
                     for name in self.workload.fleet if channels[name] != 1]  # fmt: skip
        if not self.workload.fleet:
            findings.append(Finding(CHANNELS, "the fleet was never requested"))
        creations = self.rows.value("SELECT count(*) FROM core_operation WHERE kind = 'channels.create'")
        if creations != len(self.workload.fleet) or len(channels) != len(self.workload.fleet):
            text = f"{len(self.workload.fleet)} requested, {creations} create operations, {len(channels)} in AWS"
            findings.append(Finding(CHANNELS, text))
        pipelines = list(world.get("chime.capture_pipelines", {}).values())
        captures = self.rows.value("SELECT count(*) FROM core_operation WHERE kind = 'pipelines.start'")
        if not self.workload.capture_requested or captures != 1 or len(pipelines) != 1:
            text = f"capture requested: {self.workload.capture_requested}, {captures} start operation(s), "
            findings.append(Finding(PIPELINE, text + f"{len(pipelines)} pipeline(s) in AWS"))
        findings += self._judge_events(world)
        return findings

    def _judge_attendees(self, aws_meetings: dict[str, Any]) -> list[Finding]:
        findings: list[Finding] = []
        rows = self.rows.all(
            "SELECT m.meeting_id, a.attendee_id, a.external_user_id, a.state FROM meetings_attendee a "
            "JOIN meetings_meeting m ON m.id = a.meeting_id WHERE m.meeting_id IS NOT NULL"
        )
        recorded = Counter((r["meeting_id"], r["attendee_id"]) for r in rows if r["attendee_id"])
        findings += [Finding(ATTENDEES, f"{key[1]} in {key[0]}: recorded {count} times")
                     for key, count in recorded.items() if count > 1]  # fmt: skip
        live = {(r["meeting_id"], r["attendee_id"]) for r in rows if r["attendee_id"] and r["state"] != "deleted"}
        for meeting_id, meeting in aws_meetings.items():
            users = Counter(a["ExternalUserId"] for a in meeting["attendees"].values())
            findings += [Finding(ATTENDEES, f"{user} in {meeting_id}: {count} attendees in AWS")
                         for user, count in users.items() if count > 1]  # fmt: skip
            for attendee_id, attendee in meeting["attendees"].items():
                if (meeting_id, attendee_id) not in live:
                    text = f"{attendee['ExternalUserId']} ({attendee_id}) in {meeting_id}: in AWS, not in the portal"
                    findings.append(Finding(ATTENDEES, text))
        for meeting_id, attendee_id in sorted(live):
            meeting = aws_meetings.get(meeting_id)
            if meeting is not None and attendee_id not in meeting["attendees"]:
                findings.append(Finding(ATTENDEES, f"{attendee_id} in {meeting_id}: in the portal, not in AWS"))
        return findings

    def _judge_callers(self, world: dict[str, Any]) -> list[Finding]:
        calls = world.get("voice.calls", {})
        rows = {r["transaction_id"]: r for r in self.rows.all("SELECT transaction_id, state FROM pstn_phonecall")}
        findings: list[Finding] = []
        if not self.workload.callers:
            findings.append(Finding(CALLERS, "no caller got to give the PIN: the workload never got that far"))
        for transaction_id, meeting_id in self.workload.callers:
            call = calls.get(transaction_id, {})
            joined = (call.get("meeting") or {}).get("MeetingId") == meeting_id
            state = (rows.get(transaction_id) or {}).get("state")
            if not joined or state != "in_meeting":
                findings.append(Finding(CALLERS, f"{transaction_id}: in AWS's meeting {joined}, portal state {state}"))
        return findings

    @staticmethod
    def _sent_events(world: dict[str, Any]) -> Counter[tuple[str, str, str, int]]:
        meetings = {**world.get("chime.ended_meetings", {}), **world.get("chime.meetings", {})}
        return Counter(
            (e["meetingId"], e["eventType"].removeprefix("chime:"), e.get("attendeeId") or "", int(e["timestamp"]))
            for meeting in meetings.values()
            for e in meeting.get("events", [])
        )

    def _judge_events(self, world: dict[str, Any]) -> list[Finding]:
        sent = self._sent_events(world)
        rows = self.rows.all(
            "SELECT m.meeting_id, e.event_type, e.attendee_id, "
            "(extract(epoch FROM e.occurred_at) * 1000)::bigint AS timestamp FROM meetings_meetingevent e "
            "JOIN meetings_meeting m ON m.id = e.meeting_id"
        )
        applied = Counter((r["meeting_id"], r["event_type"], r["attendee_id"], int(r["timestamp"])) for r in rows)
        findings: list[Finding] = []
        if not sent:
            findings.append(Finding(EVENTS, "the sandbox sent no meeting event: the workload never got that far"))
        lost = sent - applied
        doubled = applied - sent
        if lost:
            kinds = Counter(key[1] for key in lost.elements())
            findings.append(Finding(EVENTS, f"{sum(lost.values())} sent, never applied: {dict(kinds)}"))
        if doubled:
            kinds = Counter(key[1] for key in doubled.elements())
            findings.append(Finding(EVENTS, f"{sum(doubled.values())} applied more often than sent: {dict(kinds)}"))
        return findings

    def _figures(self, world: dict[str, Any] | None) -> dict[str, Any]:
        probes = self.prober.probes
        statuses = Counter(str(p.status) if p.status is not None else p.error for p in probes)
        slowest = max((p.seconds for p in probes), default=0.0)
        meetings = len({**world.get("chime.meetings", {}), **world.get("chime.ended_meetings", {})}) if world else "?"
        try:
            rows = self.rows.all("SELECT kind, status, count(*) AS n FROM core_operation GROUP BY 1, 2 ORDER BY 1, 2")
            operations: Any = {f"{r['kind']} {r['status']}": r["n"] for r in rows}
        except psycopg.Error as error:
            operations = f"the database does not answer: {error}"
        return {
            "probes": len(probes),
            "probe answers": dict(sorted(statuses.items())),
            "probes skipped (12 in flight)": self.prober.skipped,
            "slowest probe (s)": round(slowest, 2),
            "faults": [
                f"{f.name}: pid {f.killed_pid}, back after {f.healed_after} s{' — ' + f.note if f.note else ''}"
                for f in self.faults
            ],
            "meetings requested through the UI": len(self.workload.meetings),
            "meetings in AWS": meetings,
            "AWS's side read from": self.world_source,
            "callers with the right PIN": len(self.workload.callers),
            "fleet channels requested": len(self.workload.fleet),
            "operations": operations,
            "workload errors": dict(self.workload.errors),
            "serve": "running" if self.portal.process.poll() is None else f"exited {self.portal.process.returncode}",
            "seconds": {name: round(value, 1) for name, value in self.timings.items()},
        }

    def serve_log(self, lines: int = 60) -> str:
        return log_tail(self.portal.log_path, lines)


def figures_text(figures: dict[str, Any]) -> str:
    return "\n".join(
        f"{name}: {json.dumps(value) if isinstance(value, dict | list) else value}" for name, value in figures.items()
    )
