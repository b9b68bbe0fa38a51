"""A database that cut the portal's connection (a restart, a crash) answers 503 with Retry-After, not 500."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from tests.backing_services import missing
from tests.conftest import login
from tests.integration.fault_harness import postgres_url

pytestmark = pytest.mark.django_db(transaction=True)


def _connection_cut_by_the_server() -> None:
    """What a PostgreSQL restart does to every open session: the server ends this process's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with psycopg.connect(postgres_url(connection.settings_dict), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def test_a_page_answers_503_with_retry_after_while_the_database_is_unreachable(admin):
    if connection.vendor != "postgresql":
        missing("Cutting the portal's database session needs PostgreSQL")
    client = login(admin)
    client.raise_request_exception = False  # the answer a browser gets, not the exception behind it
    assert client.get("/meetings/").status_code == 200
    _connection_cut_by_the_server()

    response = client.get("/meetings/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "database is unavailable" in response.content.decode()
    connection.close()  # what Django does at the end of every request outside the test client
    assert client.get("/meetings/").status_code == 200
