"""compose.yaml: every service is healthy-checked or depends on one, and every command names something real."""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
APP_SERVICES = ["web", "worker", "beat", "sandbox"]


def _argv(command: list[str] | str) -> list[str]:
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv[:2] == ["sh", "-c"]:
        return [word for part in argv[2].split("&&") for word in shlex.split(part) if word != "exec"]
    return argv


def _assert_exists(argv: list[str]) -> None:
    if "manage.py" in argv:
        name = argv[argv.index("manage.py") + 1]
        assert name in get_commands(), f"manage.py has no command {name!r}"
    if argv[:3] == ["python", "-m", "uvicorn"]:
        module, attribute = argv[3].split(":")
        assert hasattr(importlib.import_module(module), attribute)
    if argv[:3] == ["python", "-m", "celery"]:
        assert argv[3:5] == ["-A", "portal"]
        assert hasattr(importlib.import_module("portal"), "celery_app")
        assert argv[5] in {"worker", "beat", "inspect"}


def test_the_expected_services_exist():
    assert set(COMPOSE["services"]) == {"web", "worker", "beat", "sandbox", "redis", "postgres"}


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_share_one_image_definition(service):
    definition = COMPOSE["services"][service]
    assert definition["build"] == "."
    assert definition["image"] == "rtc-portal:latest"
    assert definition["environment"]["DATABASE_URL"].startswith("postgres://")
    assert definition["environment"]["AWS_ENDPOINT_URL"] == "${AWS_ENDPOINT_URL-http://sandbox:4566}"
    if service != "sandbox":
        assert set(definition["depends_on"]) == {"postgres", "redis"}


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_service_commands_exist(service):
    definition = COMPOSE["services"][service]
    _assert_exists(_argv(definition["command"]))
    if "healthcheck" in definition:
        _assert_exists(_argv(definition["healthcheck"]["test"][1:]))


def test_postgres_keeps_its_data_in_a_volume():
    assert "postgres-data" in COMPOSE["volumes"]
    assert any(v.startswith("postgres-data:") for v in COMPOSE["services"]["postgres"]["volumes"])


@pytest.mark.parametrize("service", ["web", "worker", "sandbox", "redis", "postgres"])
def test_long_running_services_have_health_checks(service):
    assert COMPOSE["services"][service]["healthcheck"]["test"]
