"""Database settings a request may take for itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection


@contextmanager
def asynchronous_commit() -> Iterator[None]:
    """PostgreSQL's asynchronous commit for this block: a commit returns before its WAL is flushed to disk, which
    takes most of a small write's time. Every transaction stays atomic and consistent; if PostgreSQL itself crashes,
    the commits of its last fraction of a second (wal_writer_delay, 200 ms by default) are lost. For requests that
    must answer within a few milliseconds (the PSTN handler). Other engines: no change."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except DatabaseError:
            connection.close()  # a connection that cannot say RESET goes back to no pool
