"""Capture pipelines' drift: ListMediaCapturePipelines finds pipelines started outside the portal (added as found) and
the portal's active ones AWS no longer lists (marked gone). The one field read back is its tags, when a cleanup
run's stop reads them just before acting and finds them protected (portal.core.protection): AWS's tags may be
adopted; nothing is re-applied (a found one is kept as found, with the status the refresher reads), resolving never
deletes anything in AWS, and stopping a capture through the portal settles its open drift."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.utils import timezone

from portal.core.drift import DriftKind, drift_kind_register
from portal.pipelines.models import CapturePipeline


def _adopt(row: Model, field: str, aws_value: Any) -> None:
    """The row takes AWS's tags."""
    if field == "tags":
        CapturePipeline.objects.filter(pk=row.pk).update(tags=aws_value, changed_at=timezone.now())


def _mark_gone(row: Model, actor: AbstractBaseUser) -> None:
    CapturePipeline.objects.filter(pk=row.pk).exclude(status=CapturePipeline.Status.GONE).update(
        status=CapturePipeline.Status.GONE, changed_at=timezone.now()
    )


PIPELINE_DRIFT = drift_kind_register(
    DriftKind(
        name="pipeline",
        label="Capture pipelines",
        model=CapturePipeline,
        adopt=_adopt,
        reapply=None,
        mark_gone=_mark_gone,
        removed_by=("pipelines.stop",),
    )
)
