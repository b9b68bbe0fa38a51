"""Reading the audit log out of the portal: its CSV export, streamed a chunk of rows at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Generator, Iterable

from django.db.models import QuerySet

from portal.core.models import AuditEntry

AUDIT_CSV_COLUMNS = {
    "time": "created_at",
    "actor": "actor_name",
    "kind": "kind",
    "summary": "summary",
    "resource": "resource_name",
    "target": "target",
    "reason": "reason",
    "outcome": "event",
    "detail": "detail",
    "operation": "operation_id",
}
AUDIT_CSV_CHUNK_ROWS = 2000
# OWASP's advice on CSV injection: a cell starting with one of these is read as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """The value as text a spreadsheet shows as typed: one it would run as a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_stream(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Generator[str, None, None]:
    """Rows as CSV text, AUDIT_CSV_CHUNK_ROWS rows per piece, each cell safe from spreadsheets' formulas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for number, cells in enumerate(rows, start=1):
        writer.writerow(map(csv_cell, cells))
        if number % AUDIT_CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def audit_csv(entries: QuerySet[AuditEntry]) -> Generator[str, None, None]:
    """The entries as CSV, read through a database cursor (server-side on PostgreSQL) a chunk at a time: never the
    whole log in memory."""
    rows = entries.values_list(*AUDIT_CSV_COLUMNS.values()).iterator(chunk_size=AUDIT_CSV_CHUNK_ROWS)
    return csv_stream(AUDIT_CSV_COLUMNS.keys(), ((created_at.isoformat(), *cells) for created_at, *cells in rows))
