"""One way to poll with htmx: named intervals for the `{% poll %}` tag, and one answer that stops the polling.

A polling element writes `hx-get`, `hx-swap` and `{% poll "normal" %}` (portal.core.templatetags.polling); its view
answers with `poll_response(..., done=...)`: once nothing more will change, htmx gets 286 and stops asking.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django_htmx.http import HttpResponseStopPolling

POLL_INTERVALS = {
    "rapid": "500ms",  # a row settling after a click (a participant being disconnected)
    "fast": "1s",  # an operation the person just asked for
    "normal": "2s",  # live panels and lists with work in flight
    "slow": "10s",  # background facts that change rarely
}


def poll_trigger(interval: str) -> str:
    """The `hx-trigger` value for a named interval."""
    try:
        return f"every {POLL_INTERVALS[interval]}"
    except KeyError:
        raise ValueError(f"Unknown poll interval {interval!r}; use one of {', '.join(POLL_INTERVALS)}.") from None


def poll_response(request: HttpRequest, template_name: str, context: dict[str, Any], *, done: bool) -> HttpResponse:
    """Answer a polling element: with `done`, htmx's 286 (HttpResponseStopPolling) makes it stop after this swap."""
    if done:
        return HttpResponseStopPolling(render_to_string(template_name, context, request=request))
    return TemplateResponse(request, template_name, context)
