"""Stage writes. Each records its Operation with the local change in one transaction; the worker does the rest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext

from portal.core.batches import operation_batch_each
from portal.core.drift import drift_changed, drift_found, drift_gone, drift_open_keys, drift_settle
from portal.core.errors import Conflict, NotAllowedInState, Remedy
from portal.core.models import Drift, Operation, OperationBatch
from portal.core.permissions import SYNC_RESOURCES
from portal.core.protection import protection_parameters
from portal.core.services import operation_request
from portal.stages.models import Participant, Stage
from portal.stages.operations import MAX_TAGS, visible_tags


@dataclass(frozen=True)
class TokenSpec:
    user_id: str
    capabilities: list[str]
    duration: int
    attributes: dict[str, str]

    def as_aws(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"capabilities": self.capabilities, "duration": self.duration}
        if self.user_id:
            spec["userId"] = self.user_id
        if self.attributes:
            spec["attributes"] = self.attributes
        return spec


def stage_require_changeable(*, stage: Stage) -> None:
    """Refuse any change to a stage that is not active in AWS, saying why and what may help."""
    if stage.is_usable:
        return
    if stage.status == Stage.Status.GONE:
        raise NotAllowedInState(
            "This stage no longer exists in AWS: it was deleted outside the portal. A sync brings the list up to date.",
            remedy=Remedy("Sync from AWS", reverse("stage_sync"), post=True, permission=SYNC_RESOURCES),
        )
    reasons = {
        Stage.Status.CREATING: "This stage is still being created; it can be changed once it is active.",
        Stage.Status.DELETING: "This stage is being deleted; it cannot be changed.",
        Stage.Status.DELETED: "This stage was deleted; it cannot be changed.",
        Stage.Status.FAILED: "This stage's creation failed; it cannot be changed. Create it again.",
    }
    raise NotAllowedInState(reasons.get(stage.status, "This stage cannot be changed now."))


def stage_create(*, actor: AbstractBaseUser, name: str, tags: dict[str, str], tokens: list[TokenSpec]) -> Operation:
    with transaction.atomic():
        stage = Stage.objects.create(name=name, region=settings.AWS_REGION, tags=tags, created_by=actor)
        return operation_request(
            kind="stages.create",
            actor=actor,
            target=f"stage {name or stage.pk}",
            parameters={"stage_id": stage.pk, "name": name, "tags": tags, "tokens": [t.as_aws() for t in tokens]},
            resource=stage,
        )


def stage_tokens_issue(*, actor: AbstractBaseUser, stage: Stage, tokens: list[TokenSpec]) -> Operation:
    """One operation that issues every token asked for; its page reveals them together, once."""
    stage_require_changeable(stage=stage)
    return operation_request(
        kind="stages.issue_token",
        actor=actor,
        target=stage.arn or "",
        parameters={"stage_id": stage.pk, "arn": stage.arn, "tokens": [token.as_aws() for token in tokens]},
        resource=stage,
    )


def stage_disconnect_participant(
    *, actor: AbstractBaseUser | None, participant: Participant, reason: str, revoke_token: bool
) -> Operation:
    return stage_disconnect_participant_id(
        actor=actor,
        stage=participant.session.stage,
        participant_id=participant.participant_id,
        user_id=participant.user_id,
        reason=reason,
        revoke_token=revoke_token,
    )


def stage_disconnect_participant_id(
    *,
    actor: AbstractBaseUser | None,
    stage: Stage,
    participant_id: str,
    user_id: str,
    reason: str,
    revoke_token: bool,
    keep_if_protected: bool = False,
) -> Operation:
    """Disconnect a participant id from the stage: IVS drops it if connected, and its token cannot join again (also a
    token that never joined). Its connected rows show the disconnect in progress. `keep_if_protected` (a cleanup
    run): not when AWS holds the stage tagged PROTECTION_TAG as the worker acts."""
    with transaction.atomic():
        operation = operation_request(
            kind="stages.disconnect_participant",
            actor=actor,
            target=f"{stage.arn} participant {participant_id}",
            reason=reason,
            parameters={
                "stage_id": stage.pk,
                "arn": stage.arn,
                "participant_id": participant_id,
                "user_id": user_id,
                "reason": reason,
                "revoke_token": revoke_token,
                **protection_parameters(keep_if_protected),
            },
            resource=stage,
        )
        Participant.objects.filter(
            session__stage=stage, participant_id=participant_id, state=Participant.State.CONNECTED
        ).update(disconnect_operation=operation)
    return operation


def _stage_change(kind: str, *, actor: AbstractBaseUser, stage: Stage, **parameters: Any) -> Operation:
    stage_require_changeable(stage=stage)
    params = {"stage_id": stage.pk, "arn": stage.arn, **parameters}
    return operation_request(kind=kind, actor=actor, target=stage.arn or "", parameters=params, resource=stage)


def stage_rename(*, actor: AbstractBaseUser, stage: Stage, name: str) -> Operation:
    return _stage_change("stages.rename", actor=actor, stage=stage, name=name)


def stage_tag(*, actor: AbstractBaseUser, stage: Stage, tags: dict[str, str]) -> Operation:
    stage_require_changeable(stage=stage)
    if len(stage.tags | tags) > MAX_TAGS:
        raise Conflict(
            f"This stage already has {len(stage.tags)} tags; the portal can add up to {MAX_TAGS} "
            "(IVS allows 50, and the portal keeps one for itself)."
        )
    return _stage_change("stages.tag", actor=actor, stage=stage, tags=tags)


def stage_untag(*, actor: AbstractBaseUser, stage: Stage, keys: list[str]) -> Operation:
    return _stage_change("stages.untag", actor=actor, stage=stage, keys=keys)


def stage_tags_put(*, actor: AbstractBaseUser, stage: Stage, tags: dict[str, str]) -> Operation:
    """Put the portal's tags back on the stage in AWS: the keys AWS has beyond them removed, theirs set."""
    return _stage_change("stages.tags_put", actor=actor, stage=stage, tags=tags)


def stage_delete(
    *, actor: AbstractBaseUser | None, stage: Stage, reason: str = "", keep_if_protected: bool = False
) -> Operation:
    """DeleteStage. `keep_if_protected` (a cleanup run): not when AWS holds the stage tagged PROTECTION_TAG as the
    worker acts; a person's deletion is not refused by the tag."""
    stage_require_changeable(stage=stage)
    with transaction.atomic():
        Stage.objects.filter(pk=stage.pk).update(status=Stage.Status.DELETING)
        return operation_request(
            kind="stages.delete",
            actor=actor,
            target=stage.arn or "",
            reason=reason,
            parameters={
                "stage_id": stage.pk,
                "arn": stage.arn,
                "name": stage.name,
                **protection_parameters(keep_if_protected),
            },
            resource=stage,
        )


def stages_delete(*, actor: AbstractBaseUser, stages: list[Stage]) -> OperationBatch:
    """Delete several stages at once: one operation per stage, all or none, followed together on one batch page."""
    label = f"Delete {len(stages)} {ngettext('stage', 'stages', len(stages))}"
    return operation_batch_each(
        label=label, actor=actor, rows=stages, request=lambda stage: stage_delete(actor=actor, stage=stage)
    )


def stages_sync(*, actor: AbstractBaseUser | None) -> Operation:
    return operation_request(
        kind="stages.sync",
        actor=actor,
        target=f"ivs-realtime {settings.AWS_REGION}",
        parameters={"region": settings.AWS_REGION},
    )


def stages_reconcile(
    *, listed: list[dict[str, Any]], region: str, observed_at: datetime | None = None
) -> dict[str, int]:
    """Compare the registry with a full ListStages, recording drift: new stages appear as found, missing ones are
    marked gone, a name or tags changed outside the portal is recorded as changed (the row keeps the portal's value
    until someone adopts AWS's on the Drift page).

    A stage the portal changed after the listing began (one it just created or renamed) is left for the next listing.
    """
    observed_at = observed_at or timezone.now()
    by_arn = {item["arn"]: item for item in listed}
    known = {stage.arn: stage for stage in Stage.objects.select_for_update().filter(arn__in=by_arn)}
    drifted = drift_open_keys(Stage)
    found = changed = 0
    for arn, item in by_arn.items():
        stage = known.get(arn)
        fields = {"name": item.get("name", ""), "tags": visible_tags(item.get("tags", {}))}
        if stage is None:
            stage = Stage.objects.create(
                arn=arn, region=region, status=Stage.Status.ACTIVE, origin=Stage.Origin.FOUND, **fields
            )
            drift_found(stage)
            found += 1
            continue
        if stage.changed_at > observed_at or stage.status not in (Stage.Status.ACTIVE, Stage.Status.GONE):
            continue
        if stage.status == Stage.Status.GONE:
            Stage.objects.filter(pk=stage.pk).update(status=Stage.Status.ACTIVE)
            drift_settle(stage, "")
        for field, aws_value in fields.items():
            if getattr(stage, field) != aws_value:
                drift_changed(stage, field, portal=getattr(stage, field), aws=aws_value)
                changed += 1
            elif (stage.pk, Drift.Change.CHANGED, field) in drifted:
                drift_settle(stage, field)
    gone = list(
        Stage.objects.select_for_update()
        .filter(region=region, status=Stage.Status.ACTIVE, arn__isnull=False, changed_at__lt=observed_at)
        .exclude(arn__in=by_arn)
    )
    for stage in gone:
        stage_mark_gone(stage=stage)
    return {"found": found, "changed": changed, "gone": len(gone)}


def stage_mark_gone(*, stage: Stage) -> None:
    """The stage no longer exists in AWS: the row stays, marked gone, with the difference on the Drift page."""
    Stage.objects.filter(pk=stage.pk).update(status=Stage.Status.GONE, changed_at=timezone.now(), **Stage.NOT_LIVE)
    drift_gone(stage)
