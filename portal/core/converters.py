"""The path converter every route with a row's id uses (registered as `id` in portal/urls.py, before any app's
routes): `<id:stage_id>` matches only what a BigAutoField can hold, ASCII digits up to 2**63 - 1, so a longer id is a
404 before any view runs. Django's `int` matches any number of digits, and SQLite cannot compare a column with 2**63
or more (`OverflowError`, a 500)."""

from __future__ import annotations

from portal.core.query import LARGEST_ID, ROW_ID


class IdConverter:
    regex = ROW_ID.pattern

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > LARGEST_ID:
            raise ValueError(f"{value} is larger than any id")
        return number

    def to_url(self, value: int) -> str:
        return str(value)
