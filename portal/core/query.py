"""Reading what a client wrote into a query string. A value that cannot be what the page expects is the client's
mistake: `BadRequest` makes Django answer 400, never a 500 from deeper down (an int() that fails, an id PostgreSQL
cannot hold)."""

from __future__ import annotations

import re

from django.core.exceptions import BadRequest
from django.http import QueryDict

LARGEST_ID = 2**63 - 1  # a bigint primary key; SQLite cannot even compare a column with a larger number
ROW_ID = re.compile(r"[0-9]{1,19}")  # ASCII digits (str.isdigit() takes "²", int() refuses it), as many as a bigint's


def is_row_id(value: str) -> bool:
    """Whether `value` can be a row's id: a whole number from 1 to the largest bigint, in ASCII digits."""
    return ROW_ID.fullmatch(value) is not None and 1 <= int(value) <= LARGEST_ID


def row_ids(values: list[str]) -> list[int]:
    """The row ids among what a client sent; any other value names no row."""
    return [int(value) for value in values if is_row_id(value)]


def query_id(query: QueryDict, name: str) -> int:
    """The row id in `query[name]`: a whole number from 1 to the largest bigint, or 400."""
    value = query.get(name, "")
    if not is_row_id(value):
        raise BadRequest(f"{name} must be a row id (a whole number), not {value[:40]!r}.")
    return int(value)
