"""Stages' drift: what ListStages shows differently from the registry (found, gone, name and tags changed outside the
portal), and how each difference is resolved."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.utils import timezone

from portal.core.drift import DriftKind, drift_kind_register
from portal.core.models import Operation
from portal.stages.models import Stage
from portal.stages.services import stage_mark_gone, stage_rename, stage_tags_put

ADOPTABLE = ("name", "tags")


def _adopt(row: Model, field: str, aws_value: Any) -> None:
    """The row takes AWS's name or tags."""
    if field in ADOPTABLE:
        Stage.objects.filter(pk=row.pk).update(**{field: aws_value}, changed_at=timezone.now())


def _reapply(row: Model, field: str, portal_value: Any, actor: AbstractBaseUser) -> Operation:
    assert isinstance(row, Stage)
    if field == "name":
        return stage_rename(actor=actor, stage=row, name=portal_value)
    return stage_tags_put(actor=actor, stage=row, tags=portal_value)


def _mark_gone(row: Model, actor: AbstractBaseUser) -> None:
    assert isinstance(row, Stage)
    stage_mark_gone(stage=row)


STAGE_DRIFT = drift_kind_register(
    DriftKind(
        name="stage",
        label="Stages",
        model=Stage,
        adopt=_adopt,
        reapply=_reapply,
        mark_gone=_mark_gone,
        removed_by=("stages.delete",),
    )
)
