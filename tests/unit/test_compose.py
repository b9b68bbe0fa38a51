"""compose.yaml: every service is restarted and health-checked, and every command names something real."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.process_commands import argv_of, assert_command_exists

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
APP_SERVICES = ["web", "worker", "refresher", "meeting-events", "beat"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_the_expected_services_exist():
    assert set(COMPOSE["services"]) == {*APP_SERVICES, "sandbox", "redis", "postgres"}


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_share_one_image_definition(service):
    definition = COMPOSE["services"][service]
    assert definition["build"] == "."
    assert definition["image"] == "rtc-portal:latest"
    assert definition["environment"]["DATABASE_URL"].startswith("postgres://")
    assert definition["environment"]["AWS_ENDPOINT_URL"] == "${AWS_ENDPOINT_URL-http://sandbox:4566}"
    assert set(definition["depends_on"]) == {"postgres", "redis"}


def test_the_sandbox_is_an_image_of_its_own_with_nothing_of_the_portal():
    """compose builds the Dockerfile's sandbox stage, which installs sandbox/ alone; the portal's stage, the last (what
    `docker build .` builds), installs requirements.txt and never the sandbox."""
    assert COMPOSE["services"]["sandbox"]["build"] == {"context": ".", "target": "sandbox"}
    stages = DOCKERFILE.split("\nFROM ")
    sandbox = next(stage for stage in stages if stage.split("\n")[0].endswith(" AS sandbox"))
    portal = stages[-1]
    assert "COPY sandbox " in sandbox
    assert "requirements" not in sandbox
    assert "manage.py" not in sandbox
    assert '"rtc-sandbox", "--host", "0.0.0.0", "--port", "4566"' in sandbox
    assert "pip install --no-cache-dir -r requirements.txt" in portal
    assert "sandbox" not in portal.replace("COPY . .", "")


@pytest.mark.parametrize("service", [*APP_SERVICES, "sandbox"])
def test_app_service_commands_exist(service):
    definition = COMPOSE["services"][service]
    assert_command_exists(argv_of(definition["command"]))
    if "test" in definition.get("healthcheck", {}):
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


def test_meeting_events_consumes_the_queue_every_app_service_names():
    definition = COMPOSE["services"]["meeting-events"]
    command = argv_of(definition["command"])
    name = command[command.index("--create-queue") + 1]
    assert definition["environment"]["MEETING_EVENTS_QUEUE_URL"].endswith(f"/123456789012/{name}}}")
    assert COMPOSE["services"]["web"]["environment"] == definition["environment"]


@pytest.mark.parametrize("service", list(COMPOSE["services"]))
def test_every_long_running_service_is_restarted_and_health_checked(service):
    definition = COMPOSE["services"][service]
    assert definition["restart"] in {"always", "unless-stopped", "on-failure"}
    assert not definition["healthcheck"].get("disable", False)
    assert definition["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}
    assert definition["healthcheck"]["test"][1:]


@pytest.mark.parametrize("service", ["worker", "refresher", "beat", "meeting-events"])
def test_each_process_without_http_checks_its_own_heartbeat(service):
    assert argv_of(COMPOSE["services"][service]["healthcheck"]["test"][1:]) == [
        "python", "-m", "portal.core.health", service
    ]  # fmt: skip


def test_web_is_healthy_when_it_is_ready():
    assert "http://127.0.0.1:8000/readyz" in COMPOSE["services"]["web"]["healthcheck"]["test"][-1]
