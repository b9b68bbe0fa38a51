"""The overview's facts about the whole portal: operations in flight and failing, and the API budget the refresh uses.

Each answers in one query, whatever the number of rows, so the overview's query count is constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from portal.aws.quotas import RATES, rate_for
from portal.core.filters import IN_FLIGHT
from portal.core.models import Drift, Operation, RefresherState
from portal.core.refresh import refreshers
from portal.core.sections import Figure


def operations_figures() -> list[Figure]:
    counts = Operation.objects.aggregate(
        in_flight=Count("pk", filter=Q(status__in=Operation.UNFINISHED)),
        failed=Count("pk", filter=Q(status=Operation.Status.FAILED, created_at__gte=timezone.now() - timedelta(1))),
    )
    operations = reverse("operations")
    return [
        Figure("Operations in flight", counts["in_flight"], f"{operations}?status={IN_FLIGHT}"),
        Figure(
            "Failed in the last 24 h",
            counts["failed"],
            f"{operations}?status={Operation.Status.FAILED}&within=24h",
            attention=counts["failed"] > 0,
        ),
    ]


def drift_figures() -> list[Figure]:
    open_count = Drift.objects.filter(resolved_at__isnull=True).count()
    return [Figure("Open drift", open_count, reverse("drift"), attention=open_count > 0)]


@dataclass(frozen=True)
class RefreshBudget:
    """What one refresher's last cycle asked of AWS, against the rate AWS allows each API of its service."""

    name: str
    service: str
    started_at: datetime | None
    calls: int
    duration_seconds: float
    error: str
    quota_per_second: float  # the service's rate per API, as the shared limiter runs it
    exceptions: dict[str, float]  # the service's APIs with a rate of their own

    @property
    def calls_per_second(self) -> float:
        """Calls a second while cycles follow each other: a cycle runs every tick, or as soon as the last ends."""
        return self.calls / max(self.duration_seconds, settings.REFRESH_TICK_SECONDS, 0.001)

    @property
    def back_to_back(self) -> bool:
        """The last cycle outlasted the tick: cycles follow each other with no pause (paced by the quota or AWS)."""
        return self.duration_seconds > settings.REFRESH_TICK_SECONDS


def refresh_budgets() -> list[RefreshBudget]:
    """One row per registered refresher, in registration order; a refresher that never ran shows zeros."""
    states = {state.name: state for state in RefresherState.objects.all()}
    fraction = settings.AWS_RATE_LIMIT_FRACTION
    budgets = []
    for refresher in refreshers():
        state = states.get(refresher.name) or RefresherState(name=refresher.name)
        rates = RATES.get(refresher.service, {})
        budgets.append(
            RefreshBudget(
                name=refresher.name,
                service=refresher.service,
                started_at=state.last_started_at,
                calls=state.last_calls,
                duration_seconds=state.last_duration_seconds,
                error=state.last_error,
                quota_per_second=(rate_for(refresher.service, "*") or 0) * fraction,
                exceptions={api: rate * fraction for api, rate in rates.items() if api != "*"},
            )
        )
    return budgets
