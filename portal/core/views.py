from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from portal.aws.clients import aws_endpoint_configured
from portal.core.batches import (
    batch_failures_by_code,
    batch_operations,
    batch_progress,
    batch_shown,
    batches_recent,
)
from portal.core.downloads import download_response
from portal.core.drift import drift_actions, drift_kinds, drift_open_by_kind, drift_resolution_words, drift_resolve
from portal.core.filters import AuditFilter, OperationFilter, filter_rows
from portal.core.forms import PersonEndForm, PersonFindForm
from portal.core.identities import identity_end_everywhere, identity_find
from portal.core.models import AuditEntry, DeadLetter, Drift, Operation, OperationBatch
from portal.core.operation_kinds import operation_kind_get
from portal.core.overview import refresh_budgets
from portal.core.permissions import MANAGE_RESOURCES, REVOKE_PARTICIPANTS, SYNC_RESOURCES, VIEW_RESOURCES
from portal.core.polling import poll_response
from portal.core.secrets import secrets_take
from portal.core.sections import operation_area, section_area_set, sections_for
from portal.core.selectors import audit_csv
from portal.core.services import operation_request

PAGE_SIZE = 50


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def home(request: HttpRequest) -> TemplateResponse:
    """The state of the estate in a constant number of queries: each section's figures, the refresh's API budget."""
    visible = sections_for(request.user)
    context = {
        "recent_operations": Operation.objects.prefetch_related("resource")[:5],
        "endpoint_configured": aws_endpoint_configured(),
        "tiles": [section for section in visible if section.summary],
        "figures": [figure for section in visible for figure in section.figures_now()],
        "budgets": refresh_budgets(),
        "find_form": PersonFindForm() if request.user.has_perm(REVOKE_PARTICIPANTS) else None,
    }
    return TemplateResponse(request, "core/home.html", context)


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers and tools that ask for /favicon.ico get the portal's icon instead of a 404."""
    return HttpResponsePermanentRedirect(static("portal/favicon.svg"))


def csrf_failure(request: HttpRequest, reason: str = "") -> TemplateResponse:
    """CSRF_FAILURE_VIEW: the portal's page for a form that expired. It reads nothing from the request's body."""
    return TemplateResponse(request, "403_csrf.html", status=403)


@require_GET
@vary_on_headers("HX-Request")
@permission_required(REVOKE_PARTICIPANTS, raise_exception=True)
def people(request: HttpRequest) -> TemplateResponse:
    """Find a person: every place a user id is connected or holds a credential the portal issued."""
    form = PersonFindForm(request.GET or None)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        context |= _people_found(form.cleaned_data["user_id"], PersonEndForm(initial=form.cleaned_data))
    template = "core/people.html#results" if request.htmx else "core/people.html"
    return TemplateResponse(request, template, context)


def _people_found(user_id: str, end_form: PersonEndForm) -> dict[str, Any]:
    found = identity_find(user_id=user_id)
    presences = [presence for result in found for presence in result.presences]
    end_form.say_where_the_reason_goes(
        sorted({result.source.reason_sent_to for result in found if any(not p.ending for p in result.presences)} - {""})
    )
    return {
        "user_id": user_id,
        "found": found,
        "count": len(presences),
        "to_end": sum(1 for presence in presences if not presence.ending),
        "end_form": end_form,
    }


@require_POST
@permission_required(REVOKE_PARTICIPANTS, raise_exception=True)
def people_end(request: HttpRequest) -> HttpResponse:
    """Disconnect and revoke a person everywhere, with one reason; the batch page follows every operation."""
    form = PersonEndForm(request.POST)
    if not form.is_valid():
        user_id = form.cleaned_data.get("user_id", "")
        context = {"form": PersonFindForm(initial={"user_id": user_id})} | _people_found(user_id, form)
        if not request.htmx:
            return TemplateResponse(request, "core/people.html", context, status=400)
        # The form again in its place, with the reason as typed and its error (not the results inside it); the
        # results again if nothing is left to end.
        region = "end-form" if context["to_end"] else "results"
        response = TemplateResponse(request, f"core/people.html#{region}", context, status=400)
        return reswap(retarget(response, f"#{region}"), "outerHTML")
    batch = identity_end_everywhere(
        actor=request.user, user_id=form.cleaned_data["user_id"], reason=form.cleaned_data["reason"]
    )
    url = reverse("operation_batch", args=[batch.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def operation_batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Every operation one action requested, followed together; with htmx, the panel, polled until all have ended."""
    batch = get_object_or_404(OperationBatch, pk=batch_id)
    operations = batch_operations(batch=batch)
    progress = batch_progress(operations)
    shown = batch_shown(operations)
    context = {"batch": batch, "operations": shown, "hidden": len(operations) - len(shown), "progress": progress,
               "failures": batch_failures_by_code(operations)}  # fmt: skip
    if request.htmx:
        return poll_response(request, "core/operation_batch.html#batch-progress", context, done=progress.done)
    areas = {operation_area(operation) for operation in operations}
    if len(areas) == 1:
        section_area_set(request, areas.pop())
    return TemplateResponse(request, "core/operation_batch.html", context)


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
    filters = OperationFilter(request.GET or None, queryset=Operation.objects.prefetch_related("resource"))
    page = Paginator(filter_rows(filters), PAGE_SIZE).get_page(request.GET.get("page"))
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
        request,
        "core/operations.html",
        dict(context, endpoint_configured=aws_endpoint_configured(), batches=batches_recent()),
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
    section_area_set(request, operation_area(operation))
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
    section_area_set(request, operation_area(operation))
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
    page = Paginator(filter_rows(filters), PAGE_SIZE).get_page(request.GET.get("page"))
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


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def drift(request: HttpRequest) -> TemplateResponse:
    """Open differences between the portal's rows and AWS, by kind, each with what a person may do about it. With
    htmx, the records only: the page polls them, so a difference reconciliation records while it is open shows."""
    kind = request.GET.get("kind", "")
    groups = drift_open_by_kind(kind=kind if kind in {known.name for known in drift_kinds()} else "")
    rows = [(group, [(record, drift_actions(record)) for record in group.records]) for group in groups]
    template = "core/drift.html#drift-records" if request.htmx else "core/drift.html"
    return TemplateResponse(request, template, {"groups": rows, "kinds": drift_kinds(), "kind": kind})


@require_POST
@permission_required(SYNC_RESOURCES, raise_exception=True)
def drift_resolve_one(request: HttpRequest, drift_id: int) -> HttpResponse:
    """Adopt, keep, re-apply (an operation: its page follows it) or mark gone; then back to the list, which says
    what was done to which resource."""
    record = get_object_or_404(Drift, pk=drift_id)
    action = request.POST.get("action", "")
    operation = drift_resolve(record=record, action=action, actor=request.user)
    messages.success(request, drift_resolution_words(record, action))
    if operation is not None:
        return operation_redirect(operation)
    back = reverse("drift") + (f"?kind={record.kind}" if request.POST.get("kind") else "")
    return HttpResponseRedirect(back, status=303)


@require_GET
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def dead_letters(request: HttpRequest) -> TemplateResponse:
    page = Paginator(DeadLetter.objects.all(), PAGE_SIZE).get_page(request.GET.get("page"))
    return TemplateResponse(request, "core/dead_letters.html", {"page": page})
