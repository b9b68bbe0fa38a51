from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.test import Client

from portal import celery_app
from portal.core.roles import Role

# The sandbox's helpers; its fixtures (sandbox_server, sandbox, boto_client) come with `-p rtc_sandbox.testing`.
from rtc_sandbox.testing import CREDENTIALS as CREDENTIALS
from rtc_sandbox.testing import REGION as REGION
from rtc_sandbox.testing import sandbox_boto as sandbox_boto
from tests.backing_services import TEST_REDIS_URL, celery_app_sending_to, missing, reachable
from tests.factories import PASSWORD, UserFactory

if TYPE_CHECKING:
    from rtc_sandbox.client import SandboxControl

ROLE_MIGRATIONS = (
    ("0002_roles", "create_roles"),
    ("0004_sync_resources", "grant_sync"),
    ("0009_user_administration", "grant_manage_users"),
)


def roles_present() -> None:
    """Transactional tests flush every table, the migrated role groups included: put them back."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    if Group.objects.filter(name__in=[role.value for role in Role]).count() < len(Role):
        for migration, function in ROLE_MIGRATIONS:
            getattr(import_module(f"portal.core.migrations.{migration}"), function)(apps, None)


@pytest.fixture
def make_user(db: None):
    roles_present()

    def make(username: str, role: Role) -> AbstractBaseUser:
        return UserFactory(username=username, role=role)

    return make


@pytest.fixture
def admin(make_user) -> AbstractBaseUser:
    return make_user("ada", Role.ADMIN)


@pytest.fixture
def support(make_user) -> AbstractBaseUser:
    return make_user("sam", Role.SUPPORT)


@pytest.fixture
def viewer(make_user) -> AbstractBaseUser:
    return make_user("vic", Role.VIEWER)


@pytest.fixture
def live_handler_deadline(settings) -> None:
    """CreateAttendee gets 5 s in the SMA handler behind a live server: nothing opens the test process's AWS clients
    ahead of its first invocation (gunicorn's post_worker_init does in a web process), and opening one costs 0.1-0.6 s
    of CPU on a busy CI machine. The deadline itself has its own test in test_pstn_views."""
    settings.PSTN_ATTENDEE_TIMEOUT_SECONDS = 5


@pytest.fixture
def aws_endpoint(sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every AWS client at the sandbox with dummy credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return sandbox.endpoint


@pytest.fixture
def closed_endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    """An endpoint on which nothing listens: every call fails with a connection error."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    return url


@pytest.fixture
def real_worker(transactional_db: None) -> Iterator[Callable[..., object]]:
    """Start a real Celery worker thread on the given broker; the app stops running tasks eagerly meanwhile."""
    with ExitStack() as stack:

        def start(broker_url: str, transport_options: dict[str, str] | None = None) -> object:
            stack.enter_context(celery_app_sending_to(broker_url, transport_options))
            return stack.enter_context(
                start_worker(
                    celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING", queues=["celery", "refresh"]
                )
            )

        yield start


@pytest.fixture
def broker_down() -> Iterator[Callable[[], None]]:
    """The broker stops answering; calling the fixture's value brings it back (tasks run eagerly again). Sends use the
    portal's Redis options (settings.BROKER_REDIS_TRANSPORT_OPTIONS), as the web and workers do."""
    from django.conf import settings

    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager", "broker_transport_options")}

    def restore() -> None:
        celery_app.conf.update(saved)
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.update(
        broker_url="redis://127.0.0.1:1/0",
        task_always_eager=False,
        broker_transport_options=settings.BROKER_REDIS_TRANSPORT_OPTIONS,
    )
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield restore
    restore()


@pytest.fixture
def redis_broker() -> Iterator[str]:
    if not reachable(TEST_REDIS_URL):
        missing(f"Redis at {TEST_REDIS_URL} does not answer")
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()


@pytest.fixture
def filesystem_broker(tmp_path: Path) -> tuple[str, dict[str, str]]:
    folder = tmp_path / "broker"
    (folder / "in").mkdir(parents=True)
    (folder / "processed").mkdir()
    (folder / "control").mkdir()
    options = {
        "data_folder_in": str(folder / "in"),
        "data_folder_out": str(folder / "in"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
    }
    return "filesystem://", options


@pytest.fixture(scope="session", autouse=True)
def _close_thread_connections(django_db_setup: None, django_db_blocker) -> Iterator[None]:
    """Worker and live-server threads keep PostgreSQL sessions open; end them so the test database can be dropped."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


class OneEngine:
    """A database router sending every query to one alias."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def db_for_read(self, model: type[Model], **hints: object) -> str:
        return self.alias

    def db_for_write(self, model: type[Model], **hints: object) -> str:
        return self.alias


@pytest.fixture
def views_on(settings) -> Callable[[str], None]:
    """views_on("sqlite"): every query from then on (the views', the users') runs on that alias, the engine `make run`
    uses; the test is marked @pytest.mark.django_db(databases=["default", "sqlite"])."""

    def use(alias: str) -> None:
        settings.DATABASE_ROUTERS = [OneEngine(alias)]

    return use


def login(user: AbstractBaseUser) -> Client:
    """A Django test client logged in as `user`."""
    client = Client()
    client.login(username=user.get_username(), password=PASSWORD)
    return client


def call_heard(sandbox: SandboxControl, call: dict[str, Any], seconds: float = 10) -> dict[str, Any]:
    """The sandbox's call once `seconds` of its clock have played what the handler last answered (a goodbye takes
    its speaking time before the Hangup after it runs)."""
    sandbox.advance(seconds)
    return sandbox.call_get(call["TransactionId"])


def sandbox_dial_in(sandbox: SandboxControl, handler_url: str, secret: str, number: str) -> Any:
    """A SIP media application with a SIP rule for `number` in the sandbox, and in the portal's registry: the sandbox
    sends the calls' events to `handler_url`, signed with `secret`. The portal's row of the SIP media application."""
    from portal.pstn.models import Lifecycle, SipMediaApplication

    lambda_arn = "arn:aws:lambda:us-east-1:123456789012:function:rtc-portal-sma"
    sandbox.sma_endpoint(lambda_arn, handler_url, secret)
    voice = sandbox_boto(sandbox.endpoint, "chime-sdk-voice")
    sma_id = voice.create_sip_media_application(
        AwsRegion="us-east-1", Name="dial in", Endpoints=[{"LambdaArn": lambda_arn}]
    )["SipMediaApplication"]["SipMediaApplicationId"]
    voice.create_sip_rule(
        Name="main",
        TriggerType="ToPhoneNumber",
        TriggerValue=number,
        TargetApplications=[{"SipMediaApplicationId": sma_id, "Priority": 1, "AwsRegion": "us-east-1"}],
    )
    return SipMediaApplication.objects.create(
        name="dial in", aws_region="us-east-1", lambda_arn=lambda_arn, sma_id=sma_id, status=Lifecycle.ACTIVE
    )
