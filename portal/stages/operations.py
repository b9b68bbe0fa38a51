"""The stage operation kinds: the IVS call each makes and what it changes in the portal's rows afterwards."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import ngettext

from portal.aws import ivs_realtime as ivs
from portal.aws.errors import AwsError, AwsNotFound, aws_error_class
from portal.core.drift import drift_changed
from portal.core.durations import minutes_in_words
from portal.core.errors import DomainError
from portal.core.models import Operation
from portal.core.operation_kinds import (
    EFFECT_DATA,
    SECRETS,
    OperationCall,
    OperationKind,
    OperationSubject,
    page_subject,
    register,
    resource_subject,
)
from portal.core.permissions import MANAGE_RESOURCES, REVOKE_PARTICIPANTS, SYNC_RESOURCES
from portal.core.protection import protected_tags, protection_in_aws
from portal.core.tagging import tag_kinds_register, tag_words
from portal.stages.models import Participant, ParticipantToken, Stage

# CreateStage has no idempotency token: the portal tags each stage it creates with the operation's token, so a
# retried creation finds the stage the first attempt made instead of making a second one. Once the creation is
# recorded the marker has done its work, and a follow-up operation removes it. The marker's slot is reserved: IVS
# takes 50 tags, a user 49.
# CreateParticipantToken has no idempotency token either, and a token is a live credential. Every token carries the
# attempt that minted it as an attribute; a participant who joins with a token the portal never recorded (its
# attempt's outcome was lost) is recognised by the refresh and disconnected.
MARKER = "rtc-portal:operation"
MAX_TAGS = 49
MARKER_ATTRIBUTE_BYTES = 64


def visible_tags(tags: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in tags.items() if key != MARKER}


def marked_token(spec: dict[str, Any], call: OperationCall) -> dict[str, Any]:
    """A token configuration carrying the attempt that mints it."""
    return {**spec, "attributes": {**spec.get("attributes", {}), MARKER: call.attempt_marker}}


def _token_metadata(token: dict[str, Any]) -> dict[str, Any]:
    expiration = token["expirationTime"]
    return {
        "participantId": token["participantId"],
        "userId": token.get("userId", ""),
        "capabilities": token.get("capabilities", []),
        "duration": token.get("duration"),
        "attributes": visible_tags(token.get("attributes", {})),
        "expirationTime": expiration.isoformat() if hasattr(expiration, "isoformat") else str(expiration),
    }


async def _mint(stage_arn: str, specs: list[dict[str, Any]], call: OperationCall) -> list[dict[str, Any]]:
    """A token for each configuration, each carrying the attempt that mints it."""
    return [
        await ivs.participant_token_create(
            stage_arn=stage_arn,
            user_id=spec.get("userId", ""),
            capabilities=spec["capabilities"],
            duration=spec["duration"],
            attributes=spec["attributes"],
        )
        for spec in (marked_token(spec, call) for spec in specs)
    ]


def _holder(user_id: str) -> str:
    return user_id or "no user id"


def _describe_create(p: dict[str, Any], stage: str) -> str:
    tags = visible_tags(p.get("tags", {}))
    tokens = p.get("tokens", [])
    words = f"Create stage {p.get('name') or stage}"
    words += f" with tags {tag_words(tags)}" if tags else " with no tags"
    if tokens:
        holders = ", ".join(_holder(spec.get("userId", "")) for spec in tokens)
        words += f" and {len(tokens)} {ngettext('token', 'tokens', len(tokens))} ({holders})"
    return words


def _describe_issue(p: dict[str, Any], stage: str) -> str:
    def terms(spec: dict[str, Any]) -> str:
        return f"{', '.join(spec.get('capabilities', []))}, {minutes_in_words(spec['duration'])}"

    tokens = p.get("tokens", [])
    if len(tokens) == 1:
        return f"Issue a token to {_holder(tokens[0].get('userId', ''))} on {stage}: {terms(tokens[0])}"
    each = "; ".join(f"{_holder(spec.get('userId', ''))} ({terms(spec)})" for spec in tokens)
    return f"Issue {len(tokens)} tokens on {stage}: {each}"


def _describe_disconnect(p: dict[str, Any], stage: str) -> str:
    participant = p.get("participant_id", "")
    who = f"{p['user_id']} ({participant})" if p.get("user_id") else participant
    token = "token revoked" if p.get("revoke_token") else "token not revoked"
    return f"Disconnect participant {who} from {stage}, {token}"


def _tokens_result(tokens: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    return [_token_metadata(t) for t in tokens], [(t["participantId"], t["token"]) for t in tokens]


def _record_tokens(operation: Operation, stage: Stage, issued: list[dict[str, Any]]) -> None:
    for token in issued:
        ParticipantToken.objects.update_or_create(
            stage=stage,
            participant_id=token["participantId"],
            defaults={
                "user_id": token["userId"],
                "capabilities": token["capabilities"],
                "duration_minutes": token["duration"],
                "attributes": token["attributes"],
                "expires_at": parse_datetime(token["expirationTime"]),
                "issued_by": operation.actor,
            },
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _stage_missing(operation: Operation, error: AwsError) -> None:
    """AWS does not know the stage the operation was about: it was deleted outside the portal."""
    if issubclass(aws_error_class(error.code) or AwsError, AwsNotFound):
        Stage.objects.filter(pk=operation.parameters["stage_id"], status=Stage.Status.ACTIVE).update(
            status=Stage.Status.GONE, changed_at=timezone.now(), **Stage.NOT_LIVE
        )


def _stage_refusal(operation: Operation) -> DomainError | None:
    """A change to a stage that is not active in AWS now cannot succeed: say why, as the refusal would."""
    from portal.stages.services import stage_require_changeable

    stage = Stage.objects.filter(pk=operation.parameters.get("stage_id")).first()
    try:
        if stage is not None:
            stage_require_changeable(stage=stage)
    except DomainError as refusal:
        return refusal
    return None


def _stage_tags_seen(stage_id: int, tags: dict[str, str]) -> None:
    """Tags an operation read from AWS: where they differ from the stage's, the difference is drift, as a listing
    records it (the row keeps the portal's tags until someone adopts AWS's)."""
    stage = Stage.objects.get(pk=stage_id)
    drift_changed(stage, "tags", portal=stage.tags, aws=visible_tags(tags))


def _stage(operation: Operation) -> OperationSubject:
    return resource_subject(operation, "stage_detail")


# --- create ---------------------------------------------------------------------------------------------------------


async def _create(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    marker = {MARKER: call.idempotency_token}
    tokens_asked = [marked_token(spec, call) for spec in p["tokens"]]
    existing = None
    if call.attempt > 1:  # an earlier attempt may have created the stage before its outcome was lost
        existing = next(
            (s for s in await ivs.stages_list_all() if s.get("tags", {}).get(MARKER) == marker[MARKER]), None
        )
    if existing is None:
        created = await ivs.stage_create(name=p["name"], tags={**p["tags"], **marker}, tokens=tokens_asked)
        stage, tokens = created["stage"], created["participantTokens"]
    else:
        stage = await ivs.stage_get(arn=existing["arn"])
        tokens = await _mint(stage["arn"], p["tokens"], call)
    issued, secrets = _tokens_result(tokens)
    return {"arn": stage["arn"], "name": stage.get("name", ""), "tags": stage.get("tags", {}), "tokens": issued,
            SECRETS: secrets}  # fmt: skip


def _created(operation: Operation, effect_data: dict[str, Any]) -> None:
    stage = Stage.objects.select_for_update().get(pk=operation.parameters["stage_id"])
    stage.arn = operation.result["arn"]
    stage.name = operation.result["name"]
    stage.tags = visible_tags(operation.result["tags"])
    stage.status = Stage.Status.ACTIVE
    stage.changed_at = timezone.now()
    stage.save()
    _record_tokens(operation, stage, operation.result["tokens"])
    if MARKER in operation.result["tags"]:
        from portal.core.services import operation_request

        operation_request(
            kind="stages.untag",
            actor=None,
            target=stage.arn,
            reason="The creation is recorded: remove the portal's idempotency marker.",
            parameters={"stage_id": stage.pk, "arn": stage.arn, "keys": [MARKER]},
            resource=stage,
        )


def _creation_failed(operation: Operation, error: AwsError) -> None:
    Stage.objects.filter(pk=operation.parameters["stage_id"]).update(status=Stage.Status.FAILED)


STAGE_CREATE = register(
    OperationKind(
        name="stages.create",
        subject=_stage,
        label="Create stage",
        permission=MANAGE_RESOURCES,
        call=_create,
        on_success=_created,
        on_failure=_creation_failed,
        summary=lambda result: f"{result.get('arn')} with {_count(len(result.get('tokens', [])), 'participant token')}",
        result_template="stages/tokens_result.html",
        describe=_describe_create,
    )
)


# --- participant tokens ---------------------------------------------------------------------------------------------


async def _issue(call: OperationCall) -> dict[str, Any]:
    issued, secrets = _tokens_result(await _mint(call.parameters["arn"], call.parameters["tokens"], call))
    return {"tokens": issued, SECRETS: secrets}


def _issued(operation: Operation, effect_data: dict[str, Any]) -> None:
    stage = Stage.objects.get(pk=operation.parameters["stage_id"])
    _record_tokens(operation, stage, operation.result["tokens"])


TOKEN_ISSUE = register(
    OperationKind(
        name="stages.issue_token",
        subject=_stage,
        label="Issue participant tokens",
        permission=MANAGE_RESOURCES,
        call=_issue,
        on_success=_issued,
        on_failure=_stage_missing,
        serial=False,
        summary=lambda result: _count(len(result.get("tokens", [])), "participant token") + " issued",
        result_template="stages/tokens_result.html",
        explain_failure=_stage_refusal,
        describe=_describe_issue,
    )
)


# --- disconnect -----------------------------------------------------------------------------------------------------


async def _disconnect(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    if kept := await protection_in_aws(call, lambda: ivs.tags_of(arn=p["arn"])):  # a token follows its stage
        return kept
    await ivs.participant_disconnect(stage_arn=p["arn"], participant_id=p["participant_id"], reason=p["reason"])
    return {"participant_id": p["participant_id"]}


def _disconnected(operation: Operation, effect_data: dict[str, Any]) -> None:
    p = operation.parameters
    if (tags := protected_tags(operation)) is not None:
        Participant.objects.filter(disconnect_operation=operation).update(disconnect_operation=None)
        _stage_tags_seen(p["stage_id"], tags)
        return
    Participant.objects.filter(
        session__stage_id=p["stage_id"], participant_id=p["participant_id"], state=Participant.State.CONNECTED
    ).update(state=Participant.State.DISCONNECTED, published=False, changed_at=timezone.now())
    if p.get("revoke_token"):
        ParticipantToken.objects.filter(
            stage_id=p["stage_id"], participant_id=p["participant_id"], revoked_at__isnull=True
        ).update(revoked_at=timezone.now(), revoked_by=operation.actor)


PARTICIPANT_DISCONNECT = register(
    OperationKind(
        name="stages.disconnect_participant",
        subject=_stage,
        label="Disconnect participant",
        permission=REVOKE_PARTICIPANTS,
        call=_disconnect,
        on_success=_disconnected,
        serial=False,
        summary=lambda result: f"participant {result.get('participant_id')} disconnected",
        describe=_describe_disconnect,
    )
)


# --- rename, tags, delete -------------------------------------------------------------------------------------------


async def _rename(call: OperationCall) -> dict[str, Any]:
    stage = await ivs.stage_update(arn=call.parameters["arn"], name=call.parameters["name"])
    return {"name": stage.get("name", "")}


def _renamed(operation: Operation, effect_data: dict[str, Any]) -> None:
    Stage.objects.filter(pk=operation.parameters["stage_id"]).update(
        name=operation.result["name"], changed_at=timezone.now()
    )


STAGE_RENAME = register(
    OperationKind(
        name="stages.rename",
        subject=_stage,
        label="Rename stage",
        permission=MANAGE_RESOURCES,
        call=_rename,
        on_success=_renamed,
        summary=lambda result: f"now named {result.get('name')!r}",
        result_template="stages/stage_result.html",
        on_failure=_stage_missing,
        explain_failure=_stage_refusal,
        describe=lambda p, stage: f"Rename {stage} to {p.get('name')}",
    )
)


STAGE_TAG, STAGE_UNTAG = tag_kinds_register(
    area="stages",
    noun="stage",
    model=Stage,
    id_parameter="stage_id",
    tags_add=ivs.tags_add,
    tags_remove=ivs.tags_remove,
    on_failure=_stage_missing,
    explain_failure=_stage_refusal,
    result_template="stages/stage_result.html",
    subject=_stage,
)


async def _tags_put(call: OperationCall) -> dict[str, Any]:
    """Make the stage's tags exactly the portal's again (drift re-applied): remove the keys AWS has now that the
    portal lacks, then set the portal's. The portal's own marker tag is never touched."""
    stage = await ivs.stage_get(arn=call.parameters["arn"])
    extra = sorted(set(visible_tags(stage.get("tags", {}))) - set(call.parameters["tags"]))
    if extra:
        await ivs.tags_remove(arn=call.parameters["arn"], keys=extra)
    if call.parameters["tags"]:
        await ivs.tags_add(arn=call.parameters["arn"], tags=call.parameters["tags"])
    return {"tags": call.parameters["tags"], "removed": extra}


def _tags_put_done(operation: Operation, effect_data: dict[str, Any]) -> None:
    Stage.objects.filter(pk=operation.parameters["stage_id"]).update(
        tags=operation.parameters["tags"], changed_at=timezone.now()
    )


STAGE_TAGS_PUT = register(
    OperationKind(
        name="stages.tags_put",
        subject=_stage,
        label="Re-apply stage tags",
        permission=MANAGE_RESOURCES,
        call=_tags_put,
        on_success=_tags_put_done,
        summary=lambda result: "tags now " + (tag_words(result.get("tags", {})) or "none"),
        result_template="stages/stage_result.html",
        on_failure=_stage_missing,
        explain_failure=_stage_refusal,
        describe=lambda p, stage: f"Re-apply the portal's tags on {stage}: {tag_words(p.get('tags', {})) or 'none'}",
    )
)


async def _delete(call: OperationCall) -> dict[str, Any]:
    arn = call.parameters["arn"]
    try:
        if kept := await protection_in_aws(call, lambda: ivs.tags_of(arn=arn)):
            return kept
        await ivs.stage_delete(arn=arn)
    except AwsNotFound:
        return {"already_gone": True}  # deleted by an earlier attempt, or outside the portal
    return {}


def _deleted(operation: Operation, effect_data: dict[str, Any]) -> None:
    if (tags := protected_tags(operation)) is not None:
        _deletion_undone(operation)
        _stage_tags_seen(operation.parameters["stage_id"], tags)
        return
    now = timezone.now()
    stage = Stage.objects.select_for_update().get(pk=operation.parameters["stage_id"])
    Participant.objects.filter(session__stage=stage, state=Participant.State.CONNECTED).update(
        state=Participant.State.DISCONNECTED, published=False, changed_at=now
    )
    stage.sessions.filter(ended_at__isnull=True).update(ended_at=now)
    Stage.objects.filter(pk=stage.pk).update(
        status=Stage.Status.DELETED, deleted_at=now, changed_at=now, **Stage.NOT_LIVE
    )


def _deletion_undone(operation: Operation) -> None:
    Stage.objects.filter(pk=operation.parameters["stage_id"], status=Stage.Status.DELETING).update(
        status=Stage.Status.ACTIVE
    )


def _deletion_failed(operation: Operation, error: AwsError) -> None:
    _deletion_undone(operation)


STAGE_DELETE = register(
    OperationKind(
        name="stages.delete",
        subject=_stage,
        label="Delete stage",
        permission=MANAGE_RESOURCES,
        call=_delete,
        on_success=_deleted,
        on_failure=_deletion_failed,
        result_template="stages/stage_result.html",
    )
)


# --- sync -----------------------------------------------------------------------------------------------------------


async def _sync(call: OperationCall) -> dict[str, Any]:
    stages = await ivs.stages_list_all()
    return {"listed": len(stages), EFFECT_DATA: {"stages": stages}}


def _synced(operation: Operation, effect_data: dict[str, Any]) -> None:
    from portal.stages.services import stages_reconcile

    summary = stages_reconcile(
        listed=effect_data.get("stages", []), region=operation.parameters["region"], observed_at=operation.started_at
    )
    operation.result = {**operation.result, **summary}
    operation.save(update_fields=["result"])


STAGES_SYNC = register(
    OperationKind(
        name="stages.sync",
        subject=lambda operation: page_subject(f"stages in {operation.parameters.get('region')}", "stages"),
        label="Sync stages from AWS",
        permission=SYNC_RESOURCES,
        call=_sync,
        on_success=_synced,
        summary=lambda result: _count(result.get("listed", 0), "stage") + " listed",
        result_template="stages/sync_result.html",
        describe=lambda p, _: f"Sync stages from AWS in {p.get('region')}",
    )
)
