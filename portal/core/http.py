"""Small HTTP and htmx helpers every area's views share."""

from __future__ import annotations

from django.http import HttpRequest

HTMX_STOP_POLLING = 286  # htmx stops an `every Ns` trigger when the answer has this status


def query_without_page(request: HttpRequest) -> str:
    """The query string minus `page`, for pagination links that keep the filters."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
