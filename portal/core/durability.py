"""Commits that wait for the disk once per batch rather than once per transaction.

A consumer that applies each message in a transaction of its own, and acknowledges the messages only afterwards,
needs them on disk by the acknowledgement, not at each commit. On PostgreSQL a transaction can commit without
waiting for its WAL to be flushed (`synchronous_commit` off, for that session, inside a block); WAL is flushed in
order, so one later synchronous commit makes every earlier one durable. Other databases commit as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DatabaseError, connection

# A transaction given an id commits synchronously once the setting is back, and its commit record is flushed with
# all WAL before it: one round trip puts every earlier commit on disk.
_RESET = "RESET synchronous_commit"
_RESET_AND_FLUSH = f"{_RESET}; SELECT pg_current_xact_id()"


@dataclass
class Unflushed:
    flush: bool = False  # set inside the block: leaving it returns once every commit made in it is on disk


@contextmanager
def commits_unflushed() -> Iterator[Unflushed]:
    """Every commit inside the block returns before its WAL is on disk (the session's `synchronous_commit` off, put
    back after): for a consumer that sets `flush` before it leaves the block and acknowledges its batch after, or a
    request that must answer within milliseconds and commits several small transactions (the PSTN handler). Each
    stays atomic and consistent; a PostgreSQL crash loses at most the commits of its last fraction of a second
    (wal_writer_delay). Other databases commit as usual."""
    state = Unflushed()
    if connection.vendor != "postgresql":
        yield state
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield state
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(_RESET_AND_FLUSH if state.flush else _RESET)
        except DatabaseError:
            connection.close()  # a connection that cannot say RESET goes back to no pool
            if state.flush:
                raise
