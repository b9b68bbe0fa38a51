from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from portal.cleanup import selectors, services
from portal.cleanup.filters import CleanupRunFilter
from portal.cleanup.forms import CleanupPolicyForm
from portal.cleanup.kinds import PROTECTION_TAG, cleanup_kind_get
from portal.cleanup.models import CleanupPolicy, CleanupRun
from portal.core.batches import batch_progress
from portal.core.downloads import download_response
from portal.core.filters import filter_rows
from portal.core.permissions import MANAGE_RESOURCES, VIEW_RESOURCES
from portal.core.polling import poll_response

PAGE_SIZE = 50


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def cleanup_policies(request: HttpRequest) -> TemplateResponse:
    """Every policy with its last run: two queries."""
    policies = list(selectors.cleanup_policies())
    latest = {run.policy_id: run for run in selectors.cleanup_runs().filter(pk__in=[p.last_run_id for p in policies])}
    rows = [(policy, cleanup_kind_get(policy.kind), latest.get(policy.pk)) for policy in policies]
    return TemplateResponse(request, "cleanup/policies.html", {"rows": rows, "protection_tag": PROTECTION_TAG})


def _policy_form(request: HttpRequest, policy: CleanupPolicy, template: str) -> HttpResponse:
    form = CleanupPolicyForm(request.POST if request.method == "POST" else None, instance=policy)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        saved = services.cleanup_policy_save(policy=policy, actor=request.user, values=values)
        return HttpResponseRedirect(saved.get_absolute_url(), status=303)
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, template, {"form": form, "policy": policy}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def cleanup_policy_create(request: HttpRequest) -> HttpResponse:
    return _policy_form(request, CleanupPolicy(), "cleanup/policy_form.html")


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def cleanup_policy_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    return _policy_form(request, get_object_or_404(CleanupPolicy, pk=policy_id), "cleanup/policy_form.html")


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def cleanup_policy(request: HttpRequest, policy_id: int) -> TemplateResponse:
    policy = get_object_or_404(CleanupPolicy, pk=policy_id)
    context = {
        "policy": policy,
        "kind": cleanup_kind_get(policy.kind),
        "runs": selectors.cleanup_runs().filter(policy=policy)[:10],
        "in_flight": services.cleanup_run_in_flight(policy=policy),
        "protection_tag": PROTECTION_TAG,
    }
    return TemplateResponse(request, "cleanup/policy.html", context)


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def cleanup_policy_preview(request: HttpRequest, policy_id: int) -> TemplateResponse:
    """What a run would do now: the resources it would act on and why, and those it skips and why."""
    policy = get_object_or_404(CleanupPolicy, pk=policy_id)
    now = timezone.now()
    plan = services.cleanup_plan(policy=policy, now=now)
    context = {"policy": policy, "kind": cleanup_kind_get(policy.kind), "plan": plan, "now": now}
    template = "cleanup/preview.html#preview" if request.htmx else "cleanup/preview.html"
    return TemplateResponse(request, template, context)


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def cleanup_policy_run(request: HttpRequest, policy_id: int) -> HttpResponse:
    """Run now: the run's report follows its operations (a policy whose run is in progress is refused)."""
    policy = get_object_or_404(CleanupPolicy, pk=policy_id)
    run = services.cleanup_run(policy=policy, actor=request.user, trigger=CleanupRun.Trigger.MANUAL)
    return HttpResponseRedirect(run.get_absolute_url(), status=303)


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def cleanup_runs_export(request: HttpRequest) -> HttpResponse:
    filters = CleanupRunFilter(request.GET or None, queryset=selectors.cleanup_runs())
    if filters.is_bound and not filters.is_valid():
        return HttpResponse(filters.errors.as_text(), status=400, content_type="text/plain")
    rows = selectors.cleanup_runs_csv(filters.qs)
    return download_response(request, rows, filename="cleanup-runs.csv", content_type="text/csv; charset=utf-8")


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def cleanup_runs(request: HttpRequest) -> TemplateResponse:
    filters = CleanupRunFilter(request.GET or None, queryset=selectors.cleanup_runs())
    page = Paginator(filter_rows(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return TemplateResponse(request, "cleanup/runs.html", {"filters": filters, "page": page})


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def cleanup_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """A run's report: its progress while its operations run, then every item and what became of it. The progress
    and the items are one panel read at one moment, refreshed together while the run is in progress."""
    run = get_object_or_404(selectors.cleanup_runs(), pk=run_id)
    items, operations = selectors.cleanup_run_report(run=run)
    context = {"run": run, "items": items, "batch": run.batch, "operations": operations,
               "progress": batch_progress(operations)}  # fmt: skip
    if request.htmx:
        return poll_response(request, "cleanup/run.html#report", context, done=run.state != "in_progress")
    return TemplateResponse(request, "cleanup/run.html", context)
