from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from portal.aws.clients import aws_endpoint_configured
from portal.core.downloads import download_response
from portal.core.filters import AuditFilter, OperationFilter
from portal.core.models import AuditEntry, Operation
from portal.core.operation_kinds import operation_kind_get
from portal.core.permissions import MANAGE_RESOURCES, VIEW_RESOURCES
from portal.core.polling import poll_response
from portal.core.secrets import secrets_take
from portal.core.sections import section_get, sections
from portal.core.selectors import audit_csv
from portal.core.services import operation_request

PAGE_SIZE = 50


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def home(request: HttpRequest) -> TemplateResponse:
    context = {
        "recent_operations": Operation.objects.all()[:5],
        "endpoint_configured": aws_endpoint_configured(),
        "tiles": [section for section in sections() if section.summary],
    }
    return TemplateResponse(request, "core/home.html", context)


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers and tools that ask for /favicon.ico get the portal's icon instead of a 404."""
    return HttpResponsePermanentRedirect(static("portal/favicon.svg"))


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def section_coming(request: HttpRequest, url_name: str) -> TemplateResponse:
    return TemplateResponse(request, "core/section_coming.html", {"section": section_get(url_name)})


def operation_redirect(operation: Operation) -> HttpResponseRedirect:
    """The one answer to a POST that started an operation: 303 to the operation's page (post/redirect/get).

    A reload never asks again. With htmx, the browser follows the redirect itself and the operation's progress
    lands where the form's answer goes; without, the person sees the operation's page.
    """
    return HttpResponseRedirect(reverse("operation_detail", args=[operation.pk]), status=303)


def _live_list_interval(page: Page, in_flight: bool) -> str | None:
    """A list follows work in flight closely, and on its first page watches for what others ask, slowly."""
    if in_flight:
        return "normal"
    return "slow" if page.number == 1 else None


def _operations_context(request: HttpRequest) -> dict[str, Any]:
    filters = OperationFilter(request.GET or None, queryset=Operation.objects.all())
    page = Paginator(filters.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    in_flight = any(not operation.is_terminal for operation in page.object_list)
    return {"filters": filters, "page": page, "in_flight": in_flight,
            "poll_interval": _live_list_interval(page, in_flight)}  # fmt: skip


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def operations(request: HttpRequest) -> HttpResponse:
    context = _operations_context(request)
    if request.htmx:
        template = "core/operations.html#operation-table"
        return poll_response(request, template, context, done=not context["poll_interval"])
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
        settled = operation.is_settled
        return poll_response(
            request, "core/operation_progress.html", context, done=settled, finished=operation if settled else None
        )
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
    return operation_redirect(operation_request(kind="aws.check_connection", actor=request.user, target="sts"))


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def audit(request: HttpRequest) -> HttpResponse:
    filters = AuditFilter(request.GET or None, queryset=AuditEntry.objects.all())
    page = Paginator(filters.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"filters": filters, "page": page, "poll_interval": _live_list_interval(page, in_flight=False)}
    if request.htmx:
        return poll_response(request, "core/audit.html#audit-table", context, done=not context["poll_interval"])
    return TemplateResponse(request, "core/audit.html", context)


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def audit_export(request: HttpRequest) -> HttpResponse:
    """The filtered audit log as CSV, streamed: a million entries export without growing the web process."""
    filters = AuditFilter(request.GET or None, queryset=AuditEntry.objects.all())
    if filters.is_bound and not filters.is_valid():
        return HttpResponse(filters.errors.as_text(), status=400, content_type="text/plain")
    return download_response(
        request, audit_csv(filters.qs), filename="audit.csv", content_type="text/csv; charset=utf-8"
    )
