from __future__ import annotations

import csv
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from portal.aws.clients import aws_endpoint_configured
from portal.core.filters import AuditFilter, OperationFilter
from portal.core.models import AuditEntry, Operation
from portal.core.operation_kinds import operation_kind_get
from portal.core.permissions import MANAGE_RESOURCES, VIEW_RESOURCES
from portal.core.polling import poll_response
from portal.core.secrets import secrets_take
from portal.core.sections import section_get, sections_for
from portal.core.services import operation_request

PAGE_SIZE = 50


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def home(request: HttpRequest) -> TemplateResponse:
    context = {
        "recent_operations": Operation.objects.all()[:5],
        "endpoint_configured": aws_endpoint_configured(),
        "tiles": [section for section in sections_for(request.user) if section.summary],
    }
    return TemplateResponse(request, "core/home.html", context)


def csrf_failure(request: HttpRequest, reason: str = "") -> TemplateResponse:
    """CSRF_FAILURE_VIEW: the portal's page for a form that expired. It reads nothing from the request's body."""
    return TemplateResponse(request, "403_csrf.html", status=403)


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def section_coming(request: HttpRequest, url_name: str) -> TemplateResponse:
    return TemplateResponse(request, "core/section_coming.html", {"section": section_get(url_name)})


def _operations_context(request: HttpRequest) -> dict[str, Any]:
    filters = OperationFilter(request.GET or None, queryset=Operation.objects.all())
    page = Paginator(filters.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    in_flight = any(not operation.is_terminal for operation in page.object_list)
    return {"filters": filters, "page": page, "in_flight": in_flight}


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def operations(request: HttpRequest) -> HttpResponse:
    context = _operations_context(request)
    if request.htmx:
        return poll_response(request, "core/operations.html#operation-table", context, done=not context["in_flight"])
    return TemplateResponse(
        request, "core/operations.html", dict(context, endpoint_configured=aws_endpoint_configured())
    )


def _progress_context(operation: Operation, *, history: bool) -> dict[str, Any]:
    context: dict[str, Any] = {"operation": operation, "history": history}
    if history:
        context["audit_entries"] = operation.audit_entries.order_by("created_at", "id")
    return context


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def operation_detail(request: HttpRequest, operation_id: int) -> HttpResponse:
    """Any operation's page; with htmx, its progress, polled until the operation ends (then 286)."""
    operation = get_object_or_404(Operation, pk=operation_id)
    if request.htmx:
        context = _progress_context(operation, history=bool(request.GET.get("history")))
        return poll_response(request, "core/operation_progress.html", context, done=operation.is_terminal)
    return TemplateResponse(request, "core/operation_detail.html", _progress_context(operation, history=True))


@never_cache
@require_POST
@vary_on_headers("HX-Request")
def operation_secrets_reveal(request: HttpRequest, operation_id: int) -> TemplateResponse:
    """Show the operation's one-time secrets to the person who asked for it, once; nobody else may."""
    operation = Operation.objects.filter(pk=operation_id, actor_id=request.user.pk).first()
    kind = operation_kind_get(operation.kind) if operation is not None else None
    if kind is None or not request.user.has_perm(kind.permission):
        raise PermissionDenied("Only the person who asked for these secrets may see them.")
    context = _progress_context(operation, history=not request.htmx)
    context |= {"secrets": secrets_take(operation=operation, user=request.user), "revealed": True}
    if request.htmx and kind.result_template:
        return TemplateResponse(request, kind.result_template, context)
    return TemplateResponse(request, "core/operation_detail.html", context)


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def operation_check_connection(request: HttpRequest) -> HttpResponse:
    operation_request(kind="aws.check_connection", actor=request.user, target="sts")
    response = TemplateResponse(request, "core/operations.html#operation-table", _operations_context(request))
    return trigger_client_event(
        response, "toast", {"level": "info", "message": "Connection check queued; this list follows it live."}
    )


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def audit(request: HttpRequest) -> TemplateResponse:
    filters = AuditFilter(request.GET or None, queryset=AuditEntry.objects.all())
    page = Paginator(filters.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return TemplateResponse(request, "core/audit.html", {"filters": filters, "page": page})


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def audit_export(request: HttpRequest) -> HttpResponse:
    filters = AuditFilter(request.GET or None, queryset=AuditEntry.objects.all())
    if filters.is_bound and not filters.is_valid():
        return HttpResponse(filters.errors.as_text(), status=400, content_type="text/plain")
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit.csv"'
    writer = csv.writer(response)
    writer.writerow(["time", "actor", "kind", "target", "reason", "outcome", "detail", "operation"])
    for entry in filters.qs.iterator(chunk_size=500):
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
