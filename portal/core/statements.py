"""Hand-written statements on a hot path, run through Django's connection (so counted, logged and wrapped as any
query) but planned once per connection on PostgreSQL.

Django binds parameters on the client, so PostgreSQL plans every statement it receives. For a statement a consumer
runs thousands of times a second that planning is most of its cost (the meeting events' data-modifying CTE: 0.8 ms
planned each time, 0.25 ms prepared, on this project's CI machine). `statement_run` binds on the server instead, and
psycopg prepares the statement at its first run and reuses the plan on that connection (settings'
`prepare_threshold`; off with DATABASE_PREPARED_STATEMENTS=false for a pooler that cannot keep prepared statements).
Other databases run it as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper


class _LoggedAsWritten(CursorDebugWrapper):
    """The query log (DEBUG, tests' query counts) gets the statement as written: psycopg keeps no text of a prepared
    one for Django to read back."""

    def execute(self, sql: str, params: Any = None) -> Any:
        with self.debug_sql(sql, params):
            return CursorWrapper.execute(self, sql, params)


def statement_run(sql: str, parameters: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run one statement with %s placeholders; its first row, if it returns any."""
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        raw = psycopg.Cursor(connection.connection)
        cursor = _LoggedAsWritten(raw, connection) if connection.queries_logged else connection.make_cursor(raw)
    else:
        cursor = connection.cursor()
    with cursor:
        cursor.execute(sql, parameters)
        return cursor.fetchone() if cursor.description else None
