"""Stage writes. Each records its Operation with the local change in one transaction; the worker does the rest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from portal.aws import ivs_realtime as ivs
from portal.aws.clients import aws_client, aws_run
from portal.core.errors import Conflict, NotAllowedInState
from portal.core.models import Operation
from portal.core.services import operation_request
from portal.stages.models import Participant, ParticipantEvent, Stage, StageSession
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
            remedy=("Sync from AWS", reverse("stages") + "#sync"),
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


def stage_token_issue(*, actor: AbstractBaseUser, stage: Stage, token: TokenSpec) -> Operation:
    stage_require_changeable(stage=stage)
    spec = token.as_aws()
    return operation_request(
        kind="stages.issue_token",
        actor=actor,
        target=stage.arn or "",
        parameters={
            "stage_id": stage.pk,
            "arn": stage.arn,
            "userId": token.user_id,
            "capabilities": spec["capabilities"],
            "duration": spec["duration"],
            "attributes": token.attributes,
        },
        resource=stage,
    )


def stage_disconnect_participant(
    *, actor: AbstractBaseUser, participant: Participant, reason: str, revoke_token: bool
) -> Operation:
    stage = participant.session.stage
    with transaction.atomic():
        operation = operation_request(
            kind="stages.disconnect_participant",
            actor=actor,
            target=f"{stage.arn} participant {participant.participant_id}",
            reason=reason,
            parameters={
                "stage_id": stage.pk,
                "arn": stage.arn,
                "participant_pk": participant.pk,
                "participant_id": participant.participant_id,
                "user_id": participant.user_id,
                "reason": reason,
                "revoke_token": revoke_token,
            },
            resource=stage,
        )
        Participant.objects.filter(pk=participant.pk).update(disconnect_operation=operation)
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


def stage_delete(*, actor: AbstractBaseUser, stage: Stage, reason: str = "") -> Operation:
    stage_require_changeable(stage=stage)
    with transaction.atomic():
        Stage.objects.filter(pk=stage.pk).update(status=Stage.Status.DELETING)
        return operation_request(
            kind="stages.delete",
            actor=actor,
            target=stage.arn or "",
            reason=reason,
            parameters={"stage_id": stage.pk, "arn": stage.arn, "name": stage.name},
            resource=stage,
        )


def stages_sync(*, actor: AbstractBaseUser | None) -> Operation:
    return operation_request(
        kind="stages.sync",
        actor=actor,
        target=f"ivs-realtime {settings.AWS_REGION}",
        parameters={"region": settings.AWS_REGION},
    )


def stages_reconcile(*, listed: list[dict[str, Any]], region: str) -> dict[str, int]:
    """Make the registry agree with a full ListStages: new stages appear as found, missing ones are marked gone."""
    by_arn = {item["arn"]: item for item in listed}
    known = {stage.arn: stage for stage in Stage.objects.select_for_update().filter(arn__in=by_arn)}
    found = updated = 0
    for arn, item in by_arn.items():
        stage = known.get(arn)
        fields = {"name": item.get("name", ""), "tags": visible_tags(item.get("tags", {}))}
        if stage is None:
            Stage.objects.create(
                arn=arn, region=region, status=Stage.Status.ACTIVE, origin=Stage.Origin.FOUND, **fields
            )
            found += 1
        elif any(getattr(stage, key) != value for key, value in fields.items()) or stage.status == Stage.Status.GONE:
            Stage.objects.filter(pk=stage.pk).update(status=Stage.Status.ACTIVE, **fields)
            updated += 1
    gone = (
        Stage.objects.filter(region=region, status=Stage.Status.ACTIVE, arn__isnull=False)
        .exclude(arn__in=by_arn)
        .update(status=Stage.Status.GONE, **Stage.NOT_LIVE)
    )
    return {"found": found, "updated": updated, "gone": gone}


# --- the live refresh: a worker job, paced under the stage APIs' 5 TPS quota -----------------------------------------


@dataclass
class Observation:
    stages: dict[str, dict[str, Any]]
    sessions: dict[str, list[dict[str, Any]]]
    participants: dict[tuple[str, str], list[dict[str, Any]]]
    attributes: dict[tuple[str, str], dict[str, str]]
    events: dict[tuple[str, str, str], list[dict[str, Any]]]


@dataclass(frozen=True)
class Known:
    """What the registry already holds, so the refresh asks IVS only for what changed."""

    active_sessions: dict[str, str]
    sessions: set[tuple[str, str]]
    participants: dict[tuple[str, str], tuple[str, bool]]


async def _observe(watched: set[str], known: Known) -> Observation:
    with_sessions = {arn for arn, _ in known.sessions}
    async with aws_client(ivs.SERVICE) as client:
        listed = await ivs.stages(client)
        stages = {item["arn"]: item for item in listed if item["arn"] in watched}
        observation = Observation(stages, {}, {}, {}, {})
        for arn, item in stages.items():
            session_id = item.get("activeSessionId", "")
            to_read = {session_id, known.active_sessions.get(arn, "")} - {""}
            if session_id != known.active_sessions.get(arn, "") or arn not in with_sessions:
                observation.sessions[arn] = await ivs.stage_sessions(client, stage_arn=arn)
                to_read |= {
                    s["sessionId"] for s in observation.sessions[arn] if (arn, s["sessionId"]) not in known.sessions
                }
            for sid in sorted(to_read):
                found = await ivs.participants(client, stage_arn=arn, session_id=sid)
                observation.participants[(arn, sid)] = found
                for participant in found:
                    pid = participant["participantId"]
                    seen = known.participants.get((sid, pid))
                    if seen is None:  # attributes come only from GetParticipant, once per participant
                        detail = await ivs.participant_get(
                            client, stage_arn=arn, session_id=sid, participant_id=pid
                        )
                        observation.attributes[(sid, pid)] = detail.get("attributes", {})
                    if seen != (participant["state"], participant.get("published", False)):
                        observation.events[(arn, sid, pid)] = await ivs.participant_events(
                            client, stage_arn=arn, session_id=sid, participant_id=pid
                        )
    return observation


def stages_refresh_live() -> dict[str, int]:
    """Bring sessions, participants and events of every usable stage up to date (beat runs it every few seconds)."""
    stages = {s.arn: s for s in Stage.objects.filter(status=Stage.Status.ACTIVE, arn__isnull=False)}
    if not stages:
        return {"stages": 0}
    known = Known(
        active_sessions={arn: s.active_session_id for arn, s in stages.items()},
        sessions=set(StageSession.objects.filter(stage__in=stages.values()).values_list("stage__arn", "session_id")),
        participants={
            (session_id, participant_id): (state, published)
            for session_id, participant_id, state, published in Participant.objects.filter(
                session__stage__in=stages.values()
            ).values_list("session__session_id", "participant_id", "state", "published")
        },
    )
    observation = aws_run(_observe(set(stages), known))
    with transaction.atomic():
        _apply(stages, known, observation)
    return {"stages": len(observation.stages), "participants": sum(len(v) for v in observation.participants.values())}


def _apply(stages: dict[str, Stage], known: Known, observation: Observation) -> None:
    """Write what changed since the registry last knew it: this runs every few seconds."""
    now = timezone.now()
    for arn, sessions in observation.sessions.items():
        for item in sessions:
            StageSession.objects.update_or_create(
                stage=stages[arn],
                session_id=item["sessionId"],
                defaults={"started_at": item.get("startTime"), "ended_at": item.get("endTime")},
            )
    sessions = {
        (s.stage.arn, s.session_id): s
        for s in StageSession.objects.filter(stage__in=stages.values()).select_related("stage")
    }
    for (arn, session_id), found in observation.participants.items():
        session = sessions.get((arn, session_id)) or StageSession.objects.create(
            stage=stages[arn], session_id=session_id
        )
        for item in found:
            key = (session_id, item["participantId"])
            state = (item["state"], item.get("published", False))
            if known.participants.get(key) == state and key not in observation.attributes:
                continue
            defaults = {
                "user_id": item.get("userId", ""),
                "state": state[0],
                "published": state[1],
                "first_join_at": item.get("firstJoinTime"),
            }
            if key in observation.attributes:
                defaults["attributes"] = observation.attributes[key]
            Participant.objects.update_or_create(
                session=session, participant_id=item["participantId"], defaults=defaults
            )
    if observation.events:
        wanted = Q()
        for _arn, session_id, participant_id in observation.events:
            wanted |= Q(session__session_id=session_id, participant_id=participant_id)
        participants = {
            (p.session.session_id, p.participant_id): p
            for p in Participant.objects.filter(wanted, session__stage__in=stages.values()).select_related("session")
        }
        ParticipantEvent.objects.bulk_create(
            [
                ParticipantEvent(
                    participant=participants[(session_id, participant_id)],
                    name=event["name"],
                    event_time=event["eventTime"],
                    remote_participant_id=event.get("remoteParticipantId", ""),
                    error_code=event.get("errorCode", ""),
                )
                for (_arn, session_id, participant_id), events in observation.events.items()
                for event in events
            ],
            ignore_conflicts=True,
        )
    counts = dict(
        Participant.objects.filter(state=Participant.State.CONNECTED, session__stage__in=stages.values())
        .filter(session__ended_at__isnull=True)
        .values_list("session__stage__arn")
        .annotate(n=Count("id"))
    )
    gone = [stage.pk for arn, stage in stages.items() if arn not in observation.stages]
    Stage.objects.filter(pk__in=gone).update(status=Stage.Status.GONE, **Stage.NOT_LIVE)  # deleted outside the portal
    for arn, item in observation.stages.items():
        stage = stages[arn]
        session_id = item.get("activeSessionId", "")
        since: datetime | None = stage.active_session_since if session_id == stage.active_session_id else None
        if session_id and since is None:
            session = sessions.get((arn, session_id))
            since = session.started_at if session and session.started_at else now
        live = {
            "active_session_id": session_id,
            "active_session_since": since if session_id else None,
            "connected_count": counts.get(arn, 0) if session_id else 0,
        }
        if any(getattr(stage, field) != value for field, value in live.items()):
            Stage.objects.filter(pk=stage.pk).update(**live)
    Stage.objects.filter(arn__in=observation.stages).update(refreshed_at=now)
