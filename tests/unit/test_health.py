"""Health: /healthz and /readyz answer probes (plain HTTP, any Host, no login), and the heartbeat checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.test import override_settings

from portal.core.health import heartbeat, heartbeat_path, main
from tests.backing_services import TEST_REDIS_URL, reachable

PRODUCTION = {"SECURE_SSL_REDIRECT": True, "ALLOWED_HOSTS": ["portal.example.com"], "DEBUG": False}


def _closed_port() -> int:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return closed.getsockname()[1]


@override_settings(**PRODUCTION)
def test_healthz_answers_a_plain_http_probe_on_any_host_without_login_or_database(client):
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")  # no django_db mark: a query would raise
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Cache-Control"] == "no-store"
    assert client.head("/healthz/", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.post("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 405


@override_settings(**PRODUCTION)
def test_other_pages_keep_the_host_check_and_the_https_redirect(client):
    assert client.get("/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    assert client.get("/login/", HTTP_HOST="portal.example.com").status_code == 301


@pytest.mark.django_db
@override_settings(**PRODUCTION)
def test_readyz_is_200_when_the_database_and_the_broker_answer(client):
    response = client.get("/readyz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.content == b"ready: database, broker\n"


@pytest.mark.django_db
def test_readyz_is_200_with_a_redis_broker_that_answers(client):
    if not reachable(TEST_REDIS_URL):
        pytest.skip(f"no Redis at {TEST_REDIS_URL}")
    with override_settings(CELERY_BROKER_URL=TEST_REDIS_URL):
        assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_when_it_does_not_answer(client):
    started = time.monotonic()
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{_closed_port()}/0"):
        response = client.get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    lines = response.content.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("broker: OperationalError")
    assert "Connection refused" in lines[0]


@pytest.mark.django_db
def test_readyz_is_503_naming_the_database_when_it_does_not_answer(client, monkeypatch, tmp_path):
    database = dict(settings.DATABASES["default"])
    if database["ENGINE"] == "django.db.backends.postgresql":
        database |= {"HOST": "127.0.0.1", "PORT": str(_closed_port())}
    else:
        database["NAME"] = str(tmp_path / "missing" / "portal.sqlite3")
    monkeypatch.setitem(settings.DATABASES, "default", database)
    response = client.get("/readyz")
    assert response.status_code == 503
    lines = response.content.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("database: OperationalError")


def test_a_fresh_heartbeat_passes_its_healthcheck(capsys):
    heartbeat("refresher")
    assert main(["refresher"]) == 0
    assert capsys.readouterr().out.startswith("refresher: last heartbeat 0.")


def test_a_stale_heartbeat_fails_its_healthcheck(capsys):
    heartbeat("beat")
    minute_ago = time.time() - 60
    os.utime(heartbeat_path("beat"), (minute_ago, minute_ago))
    assert main(["beat"]) == 1
    assert capsys.readouterr().err == "beat: last heartbeat 60 s ago (more than 30 s).\n"
    assert main(["beat", "--max-age", "90"]) == 0


def test_a_missing_heartbeat_fails_its_healthcheck(capsys):
    heartbeat_path("meeting-events").unlink(missing_ok=True)
    assert main(["meeting-events"]) == 1
    assert capsys.readouterr().err.startswith("meeting-events: no heartbeat yet")


def test_the_healthcheck_runs_without_setting_django_up(tmp_path):
    env = {"PATH": os.environ["PATH"], "PORTAL_VAR_DIR": str(tmp_path), "DEBUG": "true"}
    command = [sys.executable, "-m", "portal.core.health", "worker"]
    assert subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True).returncode == 1
    (tmp_path / "heartbeats").mkdir()
    (tmp_path / "heartbeats" / "worker").touch()
    checked = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True)
    assert checked.returncode == 0
    assert checked.stdout.startswith("worker: last heartbeat")
