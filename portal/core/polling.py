"""One way for a part of a page to keep itself current with htmx: named poll intervals, one answer that stops the
polling, and the `operation-finished` event that tells every panel showing a resource that an operation on it ended.

A polling element writes `hx-get`, `hx-swap` and `{% poll "normal" %}` (portal.core.templatetags.polling); its view
answers with `poll_response(..., done=...)`: once nothing more will change, htmx gets 286 and stops asking.

A panel that shows a resource writes `{% poll None follows=stage %}` (or with an interval as well): when an
operation on that resource ends, the page that followed the operation's progress receives an `operation-finished`
event (an `HX-Trigger` header written by `operation_finished`), portal.js finds every panel that follows one of the
operation's subjects and sends it `resource-changed`, and the panel fetches itself again. An operation's subjects are
its resource ("stages.stage:12") and its area (the kind's prefix, "stages"), so a list can follow a whole area.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from portal.core.models import Operation

POLL_INTERVALS = {
    "rapid": "500ms",  # a row settling after a click (a participant being disconnected)
    "fast": "1s",  # an operation the person just asked for
    "normal": "2s",  # live panels and lists with work in flight
    "slow": "10s",  # background facts that change rarely, and lists others may add to
}
FINISHED_EVENT = "operation-finished"  # sent by the server when an operation a page followed has ended
CHANGED_EVENT = "resource-changed"  # sent by portal.js to each panel that follows one of the operation's subjects


def poll_trigger(interval: str | None, *, follows: bool = False) -> str:
    """The `hx-trigger` value for a named interval, and for the panel's refresh when what it follows changes."""
    triggers = [CHANGED_EVENT] if follows else []
    if interval:
        try:
            triggers.insert(0, f"every {POLL_INTERVALS[interval]}")
        except KeyError:
            raise ValueError(f"Unknown poll interval {interval!r}; use one of {', '.join(POLL_INTERVALS)}.") from None
    return ", ".join(triggers)


def subject_of(followed: models.Model | str) -> str:
    """What a panel follows: a row ("stages.stage:12") or an area ("stages")."""
    if isinstance(followed, str):
        return followed
    return f"{followed._meta.label_lower}:{followed.pk}"


def operation_subjects(operation: Operation) -> list[str]:
    """What an operation is about: its area, and its resource when it has one."""
    subjects = [operation.kind.split(".", 1)[0]]
    if operation.resource_type_id is not None:
        resource_type = ContentType.objects.get_for_id(operation.resource_type_id)
        subjects.append(f"{resource_type.app_label}.{resource_type.model}:{operation.resource_id}")
    return subjects


def operation_finished(response: HttpResponse, operation: Operation) -> HttpResponse:
    """Tell the page that followed this operation that it ended, so every panel showing its subjects refreshes."""
    detail = {"id": operation.pk, "kind": operation.kind, "status": operation.status,
              "subjects": operation_subjects(operation)}  # fmt: skip
    return trigger_client_event(response, FINISHED_EVENT, detail)


def poll_response(
    request: HttpRequest,
    template_name: str,
    context: dict[str, Any],
    *,
    done: bool,
    finished: Operation | None = None,
) -> HttpResponse:
    """Answer a polling element: with `done`, htmx's 286 (HttpResponseStopPolling) makes it stop after this swap.

    `finished` is the operation whose end this answer shows: the page is told, so panels following it refresh.
    """
    if not done:
        return TemplateResponse(request, template_name, context)
    response = HttpResponseStopPolling(render_to_string(template_name, context, request=request))
    return operation_finished(response, finished) if finished is not None else response
