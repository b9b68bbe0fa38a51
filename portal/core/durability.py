"""Commits that wait for the disk once per batch rather than once per transaction.

A consumer that applies each message in a transaction of its own, and acknowledges the messages only afterwards,
needs them on disk by the acknowledgement, not at each commit. On PostgreSQL a transaction can commit without
waiting for its WAL to be flushed (`synchronous_commit` off, for that transaction only); WAL is flushed in order, so
one later synchronous commit makes every earlier one durable. Other databases commit as usual.
"""

from __future__ import annotations

from django.db import connection, transaction


def commit_unflushed() -> None:
    """Inside a transaction: let its commit return before its WAL is on disk. Call `commits_flush()` before acting
    on its durability (deleting the message it applied, answering a caller)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def commits_flush() -> None:
    """Return once every earlier commit on this database is on disk: a transaction given an id commits
    synchronously, and its commit record is flushed with all WAL before it."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")
