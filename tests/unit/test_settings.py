"""Settings come from the environment; each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'broker': settings.CELERY_BROKER_URL, 'db': settings.DATABASES['default']['ENGINE'], "
    "'options': settings.DATABASES['default'].get('OPTIONS', {}), 'region': settings.AWS_REGION, "
    "'max_age': settings.DATABASES['default']['CONN_MAX_AGE'], "
    "'debug': settings.DEBUG, 'hosts': settings.ALLOWED_HOSTS, 'key': settings.SECRET_KEY}))"
)


def _settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "DATABASE_POOL_MAX_SIZE",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CELERY_TASK_SOFT_TIME_LIMIT",
            "CELERY_TASK_TIME_LIMIT",
            "SECRET_KEY",
            "DEBUG",
            "AWS_REGION",
            "ALLOWED_HOSTS",
        }
    }
    clean.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-c", PRINT], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_embedded_defaults(tmp_path):
    result = _settings(tmp_path, DEBUG="true")
    values = json.loads(result.stdout)
    assert values["broker"] == "filesystem://"
    assert (tmp_path / "broker" / "in").is_dir()
    assert (tmp_path / "broker" / "control").is_dir()  # kombu would otherwise write ./control
    assert values["db"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in values["options"]["init_command"]
    assert values["max_age"] == 60  # one connection per web process, opened once, not per request
    assert values["region"] == "us-east-1"
    assert values["key"] == (tmp_path / "secret_key").read_text()
    again = json.loads(_settings(tmp_path, DEBUG="true").stdout)
    assert again["key"] == values["key"]


def test_redis_and_postgres_when_set(tmp_path):
    values = json.loads(
        _settings(
            tmp_path,
            DEBUG="true",
            REDIS_URL="redis://127.0.0.1:6379/3",
            DATABASE_URL="postgres://u@db:5432/portal",
            AWS_REGION="eu-central-1",
            ALLOWED_HOSTS="portal.example.com",
        ).stdout
    )
    assert values["broker"] == "redis://127.0.0.1:6379/3"
    assert values["db"] == "django.db.backends.postgresql"
    assert values["options"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 10}
    assert values["max_age"] == 0  # the pool keeps the connections; Django must not keep its own
    assert values["region"] == "eu-central-1"
    assert values["hosts"] == ["portal.example.com"]


def test_celery_broker_url_wins_over_redis_url(tmp_path):
    values = json.loads(
        _settings(tmp_path, DEBUG="true", REDIS_URL="redis://a:6379/0", CELERY_BROKER_URL="redis://b:6379/1").stdout
    )
    assert values["broker"] == "redis://b:6379/1"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _settings(tmp_path, DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is False" in result.stderr
    values = json.loads(_settings(tmp_path, DEBUG="false", SECRET_KEY="s3cret").stdout)
    assert values["debug"] is False
    assert values["key"] == "s3cret"


def test_database_pool_size_from_the_environment(tmp_path):
    values = json.loads(
        _settings(
            tmp_path,
            DEBUG="true",
            DATABASE_URL="postgres://u@db:5432/portal?sslmode=require",
            DATABASE_POOL_MAX_SIZE="2",
        ).stdout
    )
    assert values["options"]["pool"]["max_size"] == 2
    assert values["options"]["sslmode"] == "require"


def test_task_time_limits_must_stay_below_the_stuck_operation_age(tmp_path):
    result = _settings(tmp_path, DEBUG="true", CELERY_TASK_TIME_LIMIT="300")
    assert result.returncode != 0
    assert "CELERY_TASK_TIME_LIMIT < OPERATION_STUCK_AFTER_SECONDS" in result.stderr
    assert (
        _settings(tmp_path, DEBUG="true", CELERY_TASK_SOFT_TIME_LIMIT="100", CELERY_TASK_TIME_LIMIT="120").returncode
        == 0
    )


def test_wrong_pin_limits_are_at_least_one_in_a_window_of_some_minutes(tmp_path):
    for bad in ({"PSTN_WRONG_PINS_PER_CALLER": "0"}, {"PSTN_WRONG_PIN_WINDOW_MINUTES": "0"}):
        result = _settings(tmp_path, DEBUG="true", **bad)
        assert result.returncode != 0
        assert "PSTN_WRONG_PINS_PER_* are at least 1" in result.stderr
    assert _settings(tmp_path, DEBUG="true", PSTN_WRONG_PINS_PER_DIAL_IN="200").returncode == 0
