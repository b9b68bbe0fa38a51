from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from portal.cleanup.models import CleanupPolicy, CleanupRun
from portal.core.filters import within_filter

OUTCOMES = [
    ("failed", "Failed or over the cap"),
    ("in_progress", "In progress"),
    ("succeeded", "Every action succeeded"),
    (CleanupRun.Outcome.OVER_CAP, "Over the cap"),
    (CleanupRun.Outcome.NOTHING, "Nothing to do"),
    (CleanupRun.Outcome.OVERLAP, "Not run (overlap)"),
]


class CleanupRunFilter(django_filters.FilterSet):
    """On `cleanup_runs()`, whose annotations say what failed and what is in flight."""

    policy = django_filters.ModelChoiceFilter(queryset=CleanupPolicy.objects.all(), empty_label="Any policy")
    outcome = django_filters.ChoiceFilter(
        choices=OUTCOMES, method="filter_outcome", label="Outcome", empty_label="Any outcome"
    )
    within = within_filter("started_at", "Started")

    class Meta:
        model = CleanupRun
        fields: list[str] = []

    def filter_outcome(self, runs: QuerySet[CleanupRun], name: str, outcome: str) -> QuerySet[CleanupRun]:
        requested = Q(outcome=CleanupRun.Outcome.REQUESTED)
        if outcome == "failed":
            return runs.filter(Q(has_failed=True) | Q(outcome=CleanupRun.Outcome.OVER_CAP))
        if outcome == "in_progress":
            return runs.filter(requested, has_in_flight=True)
        if outcome == "succeeded":
            return runs.filter(requested, has_in_flight=False, has_failed=False)
        return runs.filter(outcome=outcome)
