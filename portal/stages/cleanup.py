"""Stages and the participant tokens issued here, as cleanup sees them: stages are deleted, tokens revoked (their
participant disconnected, and the token can no longer join)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, Max, Model, OuterRef, QuerySet
from django.db.models.fields.json import KT

from portal.cleanup.kinds import CleanupKind, Condition, Described, cleanup_kind_register
from portal.core.drift import drift_aws_value
from portal.core.durations import duration_in_words
from portal.core.models import Operation
from portal.stages.models import ParticipantToken, Stage
from portal.stages.services import stage_delete, stage_disconnect_participant_id


def _stages() -> QuerySet[Model]:
    live = (Stage.Status.ACTIVE, *Stage.IN_TRANSITION)
    return Stage.objects.filter(status__in=live, arn__isnull=False).annotate(
        last_session_end=Max("sessions__ended_at"), aws_tags=drift_aws_value(Stage, "tags")
    )


def _describe_stage(row: Model) -> Described:
    assert isinstance(row, Stage)
    return Described(name=row.name, tags=row.tags, origin=row.origin, aws_tags=getattr(row, "aws_tags", None) or {})


def _evaluate_stage(row: Model, condition: str, threshold: timedelta, now: datetime) -> str | None:
    assert isinstance(row, Stage)
    if condition == Condition.OLDER_THAN:
        age = now - row.created_at
        verb = "found" if row.origin == Stage.Origin.FOUND else "created"
        return f"{verb} {duration_in_words(age)} ago" if age >= threshold else None
    if condition == Condition.IDLE_FOR:
        if row.active_session_id:
            return None
        ended = getattr(row, "last_session_end", None)
        idle = now - (ended or row.created_at)
        since = "its last session ended" if ended else "no session since it was created or found"
        return f"idle {duration_in_words(idle)} ({since})" if idle >= threshold else None
    if condition == Condition.RUNNING_LONGER_THAN and row.active_session_id and row.active_session_since:
        running = now - row.active_session_since
        return (
            f"session {row.active_session_id} running for {duration_in_words(running)}"
            if running >= threshold
            else None
        )
    return None


def _stage_busy(row: Model) -> str:
    assert isinstance(row, Stage)
    return {Stage.Status.CREATING: "being created", Stage.Status.DELETING: "being deleted"}.get(row.status, "")


def _delete(row: Model, actor: AbstractBaseUser | None, reason: str) -> Operation:
    assert isinstance(row, Stage)
    return stage_delete(actor=actor, stage=row, reason=reason, keep_if_protected=True)


STAGE_CLEANUP = cleanup_kind_register(
    CleanupKind(
        name="stage",
        label="Stages",
        action="delete",
        action_label="Delete the stage",
        operation_kind="stages.delete",
        conditions=(Condition.OLDER_THAN, Condition.IDLE_FOR, Condition.RUNNING_LONGER_THAN),
        candidates=_stages,
        describe=_describe_stage,
        evaluate=_evaluate_stage,
        busy=_stage_busy,
        act=_delete,
    )
)


def _tokens() -> QuerySet[Model]:
    revoking = Operation.objects.annotate(participant_id=KT("parameters__participant_id")).filter(
        kind="stages.disconnect_participant",
        status__in=Operation.UNFINISHED,
        resource_type=ContentType.objects.get_for_model(Stage),
        resource_id=OuterRef("stage_id"),
        participant_id=OuterRef("participant_id"),
    )
    return (
        ParticipantToken.objects.filter(revoked_at__isnull=True, stage__status=Stage.Status.ACTIVE)
        .select_related("stage")
        .annotate(revoking=Exists(revoking), aws_tags=drift_aws_value(Stage, "tags", row="stage_id"))
    )


def _describe_token(row: Model) -> Described:
    assert isinstance(row, ParticipantToken)
    return Described(name=row.user_id or row.participant_id, tags=row.stage.tags, origin=Stage.Origin.PORTAL,
                     aws_tags=getattr(row, "aws_tags", None) or {})  # fmt: skip


def _evaluate_token(row: Model, condition: str, threshold: timedelta, now: datetime) -> str | None:
    assert isinstance(row, ParticipantToken)
    if condition == Condition.TOKEN_EXPIRED:
        return f"expired {duration_in_words(now - row.expires_at)} ago" if row.expires_at <= now else None
    if condition == Condition.OLDER_THAN:
        age = now - row.issued_at
        return f"issued {duration_in_words(age)} ago" if age >= threshold else None
    return None


def _token_busy(row: Model) -> str:
    return "being revoked" if getattr(row, "revoking", False) else ""


def _revoke(row: Model, actor: AbstractBaseUser | None, reason: str) -> Operation:
    assert isinstance(row, ParticipantToken)
    return stage_disconnect_participant_id(
        actor=actor,
        stage=row.stage,
        participant_id=row.participant_id,
        user_id=row.user_id,
        reason=reason[:128],
        revoke_token=True,
        keep_if_protected=True,
    )


TOKEN_CLEANUP = cleanup_kind_register(
    CleanupKind(
        name="token",
        label="Participant tokens",
        action="revoke",
        action_label="Revoke the token (disconnect its participant)",
        operation_kind="stages.disconnect_participant",
        conditions=(Condition.TOKEN_EXPIRED, Condition.OLDER_THAN),
        candidates=_tokens,
        describe=_describe_token,
        evaluate=_evaluate_token,
        busy=_token_busy,
        act=_revoke,
    )
)
