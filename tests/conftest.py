from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import AbstractBaseUser

from portal.core.roles import Role, user_create_with_role

if TYPE_CHECKING:
    from portal.sandbox.client import SandboxControl
    from portal.sandbox.server import SandboxServer

PASSWORD = "correct-horse-battery"


def roles_present() -> None:
    """Transactional tests flush every table, the migrated role groups included: put them back."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    if Group.objects.filter(name__in=[role.value for role in Role]).count() < len(Role):
        import_module("portal.core.migrations.0002_roles").create_roles(apps, None)


@pytest.fixture
def make_user(db: None):
    roles_present()

    def make(username: str, role: Role) -> AbstractBaseUser:
        return user_create_with_role(username=username, password=PASSWORD, role=role)

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


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """The sandbox in this process on a free loopback port, its clock 1:1 with real time."""
    from portal.sandbox.server import SandboxServer

    server = SandboxServer("127.0.0.1", 0, tick_seconds=0.1).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxControl]:
    """The sandbox's control client; every test starts from an empty world with no faults."""
    from portal.sandbox.client import SandboxControl

    control = SandboxControl(sandbox_server.url)
    control.reset()
    yield control
    control.reset()


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
