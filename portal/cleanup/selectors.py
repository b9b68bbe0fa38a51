"""Reading cleanup runs: each run's counts and state in the one query that lists them, the overview's figure, and
the CSV of what runs did."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, prefetch_related_objects
from django.urls import reverse
from django.utils import timezone

from portal.cleanup.filters import CleanupRunFilter
from portal.cleanup.models import CleanupItem, CleanupPolicy, CleanupRun
from portal.core.models import Operation
from portal.core.protection import PROTECTED
from portal.core.sections import Figure
from portal.core.selectors import csv_stream

FAILED_ITEM = Q(outcome=CleanupItem.Outcome.FAILED) | Q(
    outcome=CleanupItem.Outcome.ACTED, operation__status=Operation.Status.FAILED
)
IN_FLIGHT_ITEM = Q(outcome=CleanupItem.Outcome.ACTED, operation__status__in=Operation.UNFINISHED)
# Acted on, but its operation found the resource protected in AWS and did nothing: counted as skipped.
KEPT = Q(items__outcome=CleanupItem.Outcome.ACTED, items__operation__status=Operation.Status.SUCCEEDED,
         items__operation__result__has_key=PROTECTED)  # fmt: skip


def cleanup_runs() -> QuerySet[CleanupRun]:
    """Runs, newest first, each with how many items it acted on, skipped (kept as protected in AWS at run time too),
    failed, and has in flight."""
    failed = CleanupItem.objects.filter(FAILED_ITEM, run=OuterRef("pk"))
    in_flight = CleanupItem.objects.filter(IN_FLIGHT_ITEM, run=OuterRef("pk"))
    return (
        CleanupRun.objects.select_related("policy")
        .annotate(
            acted=Count("items", filter=Q(items__outcome=CleanupItem.Outcome.ACTED) & ~KEPT),
            skipped=Count("items", filter=Q(items__outcome=CleanupItem.Outcome.SKIPPED) | KEPT),
            has_failed=Exists(failed),
            has_in_flight=Exists(in_flight),
        )
        .order_by("-started_at", "-id")
    )


def cleanup_policies() -> QuerySet[CleanupPolicy]:
    """Policies by name, each with the id of its last run (`last_run_id`, None before the first)."""
    last = CleanupRun.objects.filter(policy=OuterRef("pk")).order_by("-started_at", "-id").values("pk")[:1]
    return CleanupPolicy.objects.annotate(last_run_id=Subquery(last)).order_by("name")


def cleanup_run_items(*, run: CleanupRun) -> QuerySet[CleanupItem]:
    return run.items.select_related("operation", "retry_of").prefetch_related("resource").order_by("outcome", "id")


def cleanup_run_report(*, run: CleanupRun) -> tuple[list[CleanupItem], list[Operation]]:
    """A run's items and their operations (the run's batch, in the order requested, with their resources) from one
    read of the items; the run's state (`in_progress`, `failed`) is set from the same rows. A report built from them
    never says "0 of 8 done" beside items marked Acted."""
    items = list(cleanup_run_items(run=run))
    operations = sorted((item.operation for item in items if item.operation is not None), key=lambda op: op.pk)
    prefetch_related_objects(operations, "resource")
    run.has_failed = any(item.state == "failed" for item in items)
    run.has_in_flight = any(item.state == "in_progress" for item in items)
    return items, operations


def cleanup_figures() -> list[Figure]:
    """Runs in the last 24 h where something failed (or that would have exceeded their cap): one query."""
    since = timezone.now() - timedelta(hours=24)
    count = CleanupRunFilter({"outcome": "failed"}, queryset=cleanup_runs().filter(started_at__gte=since)).qs.count()
    url = reverse("cleanup_runs") + "?outcome=failed&within=24h"
    return [Figure("Cleanup runs failed in the last 24 h", count, url, attention=count > 0)]


CSV_COLUMNS = ["run", "policy", "started", "trigger", "run outcome", "resource", "item", "why", "operation",
               "error code", "error message"]  # fmt: skip


def cleanup_runs_csv(runs: QuerySet[CleanupRun]) -> Generator[str, None, None]:
    """Every item of the runs, one line each: what each run did to each resource and why."""
    items = (
        CleanupItem.objects.filter(run__in=runs.values("pk"))
        .select_related("run__policy", "operation")
        .order_by("-run__started_at", "run_id", "id")
    )
    rows = (
        [item.run_id, item.run.policy.name, item.run.started_at.isoformat(), item.run.trigger, item.run.outcome,
         item.label, item.state, item.why_now, item.operation_id or "", *item.failure]
        for item in items.iterator(chunk_size=2000)
    )  # fmt: skip
    return csv_stream(CSV_COLUMNS, rows)
