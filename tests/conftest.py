from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module

import pytest
from django.contrib.auth.models import AbstractBaseUser
from moto.server import ThreadedMotoServer

from portal.core.roles import Role, user_create_with_role

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
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port, for S3/SQS/SNS/STS."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every AWS client at the local endpoint with dummy credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


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
