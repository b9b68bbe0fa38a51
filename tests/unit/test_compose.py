"""compose.yaml: every service is healthy-checked or depends on one, and every command names something real."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.process_commands import argv_of, assert_command_exists

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
APP_SERVICES = ["web", "worker", "refresher", "beat", "sandbox"]


def test_the_expected_services_exist():
    assert set(COMPOSE["services"]) == {"web", "worker", "refresher", "beat", "sandbox", "redis", "postgres"}


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
    assert_command_exists(argv_of(definition["command"]))
    if "healthcheck" in definition:
        assert_command_exists(argv_of(definition["healthcheck"]["test"][1:]))


def test_postgres_keeps_its_data_in_a_volume():
    assert "postgres-data" in COMPOSE["volumes"]
    assert any(v.startswith("postgres-data:") for v in COMPOSE["services"]["postgres"]["volumes"])


def test_workers_consume_the_queues_of_the_procfile():
    worker = argv_of(COMPOSE["services"]["worker"]["command"])
    refresher = argv_of(COMPOSE["services"]["refresher"]["command"])
    assert worker[worker.index("--queues") + 1] == "celery"
    assert refresher[refresher.index("--queues") + 1] == "refresh"
    assert refresher[refresher.index("--concurrency") + 1] == "2"
    assert COMPOSE["services"]["refresher"]["healthcheck"] == COMPOSE["services"]["worker"]["healthcheck"]


@pytest.mark.parametrize("service", ["web", "worker", "refresher", "sandbox", "redis", "postgres"])
def test_long_running_services_have_health_checks(service):
    assert COMPOSE["services"][service]["healthcheck"]["test"]
