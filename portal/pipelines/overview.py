"""The overview's figures for capture pipelines, in one query."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse

from portal.core.sections import Figure
from portal.pipelines.models import CapturePipeline
from portal.pipelines.selectors import active_limit


def pipelines_figures() -> list[Figure]:
    counts = CapturePipeline.objects.aggregate(
        recording=Count("id", filter=Q(status=CapturePipeline.Status.IN_PROGRESS)),
        active=Count("id", filter=Q(status__in=CapturePipeline.ACTIVE)),
        failed=Count("id", filter=Q(status=CapturePipeline.Status.FAILED)),
    )
    url = reverse("pipelines")
    limit = active_limit(settings.AWS_REGION)
    return [
        Figure("recording now", counts["recording"], f"{url}?status=InProgress"),
        Figure(f"active captures of {limit} allowed", counts["active"], url, attention=counts["active"] >= limit),
        Figure("captures failed", counts["failed"], f"{url}?status=Failed", attention=counts["failed"] > 0),
    ]
