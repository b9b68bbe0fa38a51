from __future__ import annotations

import csv
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from portal.aws.clients import aws_endpoint_configured
from portal.core.forms import AuditFilterForm, OperationFilterForm
from portal.core.http import HTMX_STOP_POLLING, query_without_page
from portal.core.models import Operation
from portal.core.selectors import audit_entry_list, operation_list
from portal.core.services import operation_request

VIEW = "core.view_resources"
MANAGE = "core.manage_resources"
PAGE_SIZE = 50

STAGES_TILE = {
    "title": "Stages",
    "summary": "Amazon IVS Real-Time stages: tokens, live sessions, participants, and disconnecting them.",
    "url_name": "stages",
}
SECTION_PLANS: dict[str, dict[str, Any]] = {
    "meetings": {
        "title": "Meetings",
        "summary": "Amazon Chime SDK meetings and their attendees, kept in the portal's own registry.",
        "plans": [
            "Create meetings with attendees, features, notifications and tags",
            "Inspect and end meetings; add, revoke and re-capability attendees",
            "Reconcile the registry with meeting events and GetMeeting",
        ],
    },
    "channels": {
        "title": "Signaling channels",
        "summary": "Kinesis Video Streams WebRTC signaling channels.",
        "plans": [
            "Create channels with a message TTL; follow CREATING → ACTIVE",
            "Versioned update and delete",
            "Show endpoints for each role and protocol",
        ],
    },
    "pipelines": {
        "title": "Capture pipelines",
        "summary": "Chime SDK media capture pipelines recording meetings into S3.",
        "plans": [
            "Start a recording of a meeting into a bucket",
            "Follow Initializing → InProgress → Stopping → Stopped",
            "List the artifacts a pipeline wrote",
        ],
    },
}


@require_GET
@permission_required(VIEW, raise_exception=True)
def home(request: HttpRequest) -> TemplateResponse:
    recent = Operation.objects.all()[:5]
    return TemplateResponse(
        request,
        "core/home.html",
        {
            "recent_operations": recent,
            "endpoint_configured": aws_endpoint_configured(),
            "sections": [STAGES_TILE] + [dict(SECTION_PLANS[key], url_name=key) for key in SECTION_PLANS],
        },
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def section_coming(request: HttpRequest, section: str) -> TemplateResponse:
    return TemplateResponse(request, "core/section_coming.html", {"section": SECTION_PLANS[section]})


def _operations_context(request: HttpRequest) -> dict[str, Any]:
    form = OperationFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(operation_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    in_flight = any(not operation.is_terminal for operation in page.object_list)
    return {"form": form, "page": page, "in_flight": in_flight, "query": query_without_page(request)}


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW, raise_exception=True)
def operations(request: HttpRequest) -> TemplateResponse:
    context = _operations_context(request)
    if request.htmx:
        status = 200 if context["in_flight"] else HTMX_STOP_POLLING
        return TemplateResponse(request, "core/operations.html#operation-table", context, status=status)
    return TemplateResponse(
        request, "core/operations.html", dict(context, endpoint_configured=aws_endpoint_configured())
    )


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW, raise_exception=True)
def operation_detail(request: HttpRequest, operation_id: int) -> TemplateResponse:
    operation = get_object_or_404(Operation, pk=operation_id)
    context = {"operation": operation, "audit_entries": operation.audit_entries.order_by("created_at", "id")}
    if request.htmx:
        status = HTMX_STOP_POLLING if operation.is_terminal else 200
        return TemplateResponse(request, "core/operation_detail.html#operation-status", context, status=status)
    return TemplateResponse(request, "core/operation_detail.html", context)


@require_POST
@permission_required(MANAGE, raise_exception=True)
def operation_check_connection(request: HttpRequest) -> HttpResponse:
    operation_request(kind="aws.check_connection", actor=request.user, target="sts")
    response = TemplateResponse(request, "core/operations.html#operation-table", _operations_context(request))
    return trigger_client_event(
        response, "toast", {"level": "info", "message": "Connection check queued; this list follows it live."}
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def audit(request: HttpRequest) -> TemplateResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(audit_entry_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "query": query_without_page(request)}
    return TemplateResponse(request, "core/audit.html", context)


@require_GET
@permission_required(VIEW, raise_exception=True)
def audit_export(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    entries = audit_entry_list(**(form.cleaned_data if request.GET else {}))
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit.csv"'
    writer = csv.writer(response)
    writer.writerow(["time", "actor", "kind", "target", "reason", "outcome", "detail", "operation"])
    for entry in entries.iterator(chunk_size=500):
        writer.writerow(
            [
                entry.created_at.isoformat(),
                entry.actor_name,
                entry.kind,
                entry.target,
                entry.reason,
                entry.event,
                entry.detail,
                entry.operation_id or "",
            ]
        )
    return response
