"""Commits that wait for the disk once per batch rather than once per transaction.

A consumer that applies each message in a transaction of its own, and acknowledges the messages only afterwards,
needs them on disk by the acknowledgement, not at each commit. On PostgreSQL a transaction can commit without
waiting for its WAL to be flushed (`synchronous_commit` off, for that session, inside a block); WAL is flushed in
order, so one later synchronous commit makes every earlier one durable. Other databases commit as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction


def commits_flush() -> None:
    """Return once every earlier commit on this database is on disk: a transaction given an id commits
    synchronously, and its commit record is flushed with all WAL before it."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")


@contextmanager
def commits_unflushed() -> Iterator[None]:
    """Every commit inside the block returns before its WAL is on disk (the session's `synchronous_commit` off, put
    back after): for a consumer that flushes its batch with `commits_flush()` before acknowledging it, or a request
    that must answer within milliseconds and commits several small transactions (the PSTN handler). Each stays
    atomic and consistent; a PostgreSQL crash loses at most the commits of its last fraction of a second
    (wal_writer_delay). Other databases commit as usual."""
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
