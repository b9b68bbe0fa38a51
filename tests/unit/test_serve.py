"""`manage.py serve`: the Procfile it runs, the broker and AWS endpoint it picks, and where Celery sends each task."""

from __future__ import annotations

import os
import re
import runpy
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from honcho.environ import parse_procfile

from portal import celery_app
from portal.core.management.commands.serve import (
    PROCESSES,
    aws_endpoint_choose,
    broker_choose,
    processes_choose,
    procfile_read,
    restarting_command,
    sma_handler_wire,
)
from portal.core.restarts import RESTART_MAX_DELAY_SECONDS, RESTART_RESET_SECONDS, exit_described, restart_delay
from tests.backing_services import wait_until
from tests.process_commands import assert_command_exists

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = parse_procfile((ROOT / "Procfile").read_text()).processes
SERVE_ENV = {"PATH": os.environ["PATH"], "PORT": "8000", "WEB_HOST": "127.0.0.1", "SANDBOX_PORT": "4566"}


def _words(command: str) -> list[str]:
    """The words sh makes of a Procfile command, variables expanded: the syntax check and the split in one."""
    printed = subprocess.run(
        ["sh", "-c", f"printf '%s\\0' {command}"], env=SERVE_ENV, capture_output=True, text=True, check=True
    )
    return printed.stdout.split("\0")[:-1]


def test_the_procfile_has_every_process_and_web_first():
    assert list(PROCFILE) == [*PROCESSES, "meeting-events", "sandbox"]
    assert procfile_read() == PROCFILE


def test_procfile_meeting_events_creates_the_queue_serve_names():
    env: dict[str, str] = {}
    aws_endpoint_choose(env, sandbox_port=4599)
    words = _words(PROCFILE["meeting-events"])
    name = words[words.index("--create-queue") + 1]
    assert env["MEETING_EVENTS_QUEUE_URL"] == f"http://127.0.0.1:4599/123456789012/{name}"


@pytest.mark.parametrize(
    ("env", "with_sandbox", "extra"),
    [
        ({"MEETING_EVENTS_QUEUE_URL": "http://127.0.0.1:4566/123456789012/q"}, True, ["meeting-events", "sandbox"]),
        ({"MEETING_EVENTS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q"}, False, ["meeting-events"]),
        ({}, False, []),
    ],
)
def test_meeting_events_runs_once_a_queue_is_known(env, with_sandbox, extra):
    assert processes_choose(env, with_sandbox=with_sandbox) == [*PROCESSES, *extra]


@pytest.mark.parametrize("name", list(PROCFILE))
def test_procfile_commands_exist(name):
    assert_command_exists(_words(PROCFILE[name]))


def test_procfile_web_serves_on_the_chosen_address():
    assert "127.0.0.1:8000" in _words(PROCFILE["web"])


@pytest.mark.parametrize(("name", "queue"), [("worker", "celery"), ("refresher", "refresh")])
def test_each_worker_consumes_one_queue_with_two_processes(name, queue):
    words = _words(PROCFILE[name])
    assert words[words.index("--queues") + 1] == queue
    assert words[words.index("--concurrency") + 1] == "2"


def test_gunicorn_runs_one_process_per_cpu_unless_told(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"] == len(os.sched_getaffinity(0))
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"] == 5


def test_broker_from_the_environment_is_kept():
    env = {"REDIS_URL": "redis://cache:6379/2"}
    assert broker_choose(env) == "redis://cache:6379/2 (from the environment)"
    assert env == {"REDIS_URL": "redis://cache:6379/2"}
    env = {"CELERY_BROKER_URL": "filesystem://"}
    assert broker_choose(env) == "filesystem:// (from the environment)"
    assert env == {"CELERY_BROKER_URL": "filesystem://"}


def test_broker_is_a_local_redis_when_one_answers():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"redis://127.0.0.1:{listening.getsockname()[1]}/0"
        env: dict[str, str] = {}
        assert "answers" in broker_choose(env, local_redis=url)
    assert env == {"CELERY_BROKER_URL": url}


def test_broker_is_the_filesystem_without_redis():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
    env: dict[str, str] = {}
    assert "filesystem transport" in broker_choose(env, local_redis=url)
    assert env == {}  # settings fall back to filesystem:// by themselves


@pytest.mark.parametrize(
    "configured",
    [{"AWS_ENDPOINT_URL": "http://localstack:4566"}, {"AWS_PROFILE": "prod"}, {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}],
)
def test_configured_aws_starts_no_sandbox(configured):
    env = dict(configured)
    with_sandbox, said = aws_endpoint_choose(env, sandbox_port=4566)
    assert not with_sandbox
    assert env == configured
    assert said


def test_no_aws_configured_starts_the_sandbox_with_dummy_credentials():
    env: dict[str, str] = {}
    with_sandbox, said = aws_endpoint_choose(env, sandbox_port=4599)
    assert with_sandbox
    assert "sandbox at http://127.0.0.1:4599" in said
    assert env == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4599",
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "SANDBOX_PORT": "4599",
        "MEETING_EVENTS_QUEUE_URL": "http://127.0.0.1:4599/123456789012/rtc-portal-meeting-events",
        "CAPTURE_SINK_BUCKETS": "recordings",
    }
    chosen = {"CAPTURE_SINK_BUCKETS": "media-a,media-b"}
    aws_endpoint_choose(chosen, sandbox_port=4599)
    assert chosen["CAPTURE_SINK_BUCKETS"] == "media-a,media-b"


def _queue(task: str, options: dict[str, object] | None = None) -> str:
    return celery_app.amqp.router.route(dict(options or {}), task)["queue"].name


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("portal.stages.tasks.stages_refresh_live", "refresh"),
        ("portal.core.tasks.refresh_transitions", "refresh"),
        ("portal.core.tasks.operation_run", "celery"),
        ("portal.core.tasks.operations_sweep", "celery"),
        ("portal.stages.tasks.token_handoffs_expire", "celery"),
    ],
)
def test_refresh_tasks_are_routed_to_the_refresh_queue(task, queue):
    assert _queue(task) == queue


def test_beat_sends_its_refreshes_to_the_refresh_queue():
    queues = {
        entry["task"]: _queue(entry["task"], entry.get("options")) for entry in celery_app.conf.beat_schedule.values()
    }
    assert queues["portal.core.tasks.refresh_run"] == "refresh"
    assert {queue for task, queue in queues.items() if "refresh" not in task} == {"celery"}


def test_task_time_limits_reach_celery():
    assert celery_app.conf.task_soft_time_limit == 0.6 * settings.OPERATION_STUCK_AFTER_SECONDS
    assert celery_app.conf.task_time_limit == 0.8 * settings.OPERATION_STUCK_AFTER_SECONDS
    assert celery_app.conf.task_time_limit < settings.OPERATION_STUCK_AFTER_SECONDS
    assert celery_app.conf.worker_prefetch_multiplier == 1
    assert celery_app.conf.task_acks_late is True


def test_with_the_sandbox_its_sip_media_applications_call_this_portals_handler_signed():
    env: dict[str, str] = {}
    assert sma_handler_wire(env, host="0.0.0.0", port=8123) == "http://127.0.0.1:8123/pstn/sma/"
    assert env["SANDBOX_SMA_HANDLER_URL"] == "http://127.0.0.1:8123/pstn/sma/"
    assert len(env["SMA_HANDLER_SECRET"]) >= 32  # web and sandbox inherit the same one
    kept = {"SMA_HANDLER_SECRET": "configured"}
    sma_handler_wire(kept, host="127.0.0.1", port=8000)
    assert kept["SMA_HANDLER_SECRET"] == "configured"


def test_each_process_runs_under_the_restart_loop_with_its_procfile_command():
    words = _words(restarting_command("web", PROCFILE["web"]))
    assert words[:4] == ["exec", sys.executable, "-m", "portal.core.restarts"]
    assert words[4:] == ["web", PROCFILE["web"]]  # quoted: expanded by the loop's own sh, in its environment


def test_restart_delays_double_up_to_a_bound_and_start_over_after_a_good_run():
    delays = [restart_delay(None, 0.5)]
    for _ in range(7):
        delays.append(restart_delay(delays[-1], 0.5))
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
    assert RESTART_MAX_DELAY_SECONDS == 30
    assert restart_delay(30, RESTART_RESET_SECONDS) == 1


def test_an_exit_is_described_by_its_code_or_its_signal():
    assert exit_described(3) == "exited with code 3"
    assert exit_described(-signal.SIGKILL) == "was killed by SIGKILL"


def _restarts(command: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "portal.core.restarts", "demo", command],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def test_a_process_that_exits_is_started_again_with_a_growing_delay_until_stopped(tmp_path):
    log = tmp_path / "restarts.log"
    loop = _restarts("sh -c 'echo run; exit 3'", log)
    try:
        wait_until(lambda: log.read_text().count("restarting now") >= 2, timeout=30)
    finally:
        loop.send_signal(signal.SIGTERM)
        assert loop.wait(timeout=10) == 0
    lines = log.read_text().splitlines()
    assert lines[0] == "run"
    assert re.fullmatch(r"demo exited with code 3 after [\d.]+ s; restarting it in 1 s", lines[1])
    assert re.fullmatch(r"demo exited with code 3 after [\d.]+ s; restarting it in 2 s", lines[4])
    assert lines.count("run") >= 3


def test_what_a_killed_process_left_running_is_killed_before_it_starts_again(tmp_path):
    log = tmp_path / "restarts.log"
    loop = _restarts("sh -c 'sleep 300 & echo child $!; kill -9 $$'", log)
    try:
        wait_until(lambda: "restarting it in" in log.read_text(), timeout=30)
        first = int(re.search(r"child (\d+)", log.read_text()).group(1))
        said = re.search(
            r"demo was killed by SIGKILL after [\d.]+ s; killed what it left running \(pids (\d+)\)", log.read_text()
        )
        assert said is not None
        assert int(said.group(1)) == first
        wait_until(lambda: not _running(first), timeout=5)
    finally:
        os.killpg(loop.pid, signal.SIGTERM)
        loop.wait(timeout=10)
    wait_until(lambda: _group_gone(loop.pid), timeout=5)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False
