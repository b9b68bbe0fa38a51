"""Reading what a client wrote into a query string. A value that cannot be what the page expects is the client's
mistake: `BadRequest` makes Django answer 400, never a 500 from deeper down (an int() that fails, an id PostgreSQL
cannot hold)."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.http import QueryDict

LARGEST_ID = 2**63 - 1  # a bigint primary key


def query_id(query: QueryDict, name: str) -> int:
    """The row id in `query[name]`: a whole number from 1 to the largest bigint, or 400."""
    value = query.get(name, "")
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= LARGEST_ID):
        raise BadRequest(f"{name} must be a row id (a whole number), not {value[:40]!r}.")
    return int(value)
