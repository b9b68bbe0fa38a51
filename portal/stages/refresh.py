"""The stages refresher: sessions, participants and their events, kept true to IVS by core's refresher.

Every cycle serves the stages someone has open, then a few others in turn: live stages and stages the listing
flagged, least recently refreshed first. Every 30 s ListStages finds stages made or deleted outside the portal and
notices sessions that began or ended. A stage costs one GetStage and one ListParticipants per live session; sessions,
attributes and events are read only when something changed. A stage watched only through one participant filter
(a user id, a state, published) is read through that filter: ListParticipants answers only those, in fewer pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.aws import ivs_realtime as ivs
from portal.aws.errors import AwsNotFound
from portal.core.refresh import (
    Cycle,
    Items,
    Observed,
    Refresher,
    refresh_run,
    refresh_watch_scopes,
    refresher_register,
)
from portal.core.services import attempt_outcome
from portal.stages.models import Participant, ParticipantEvent, Stage, StageSession
from portal.stages.operations import MARKER, visible_tags
from portal.stages.services import stage_disconnect_participant, stage_mark_gone, stages_reconcile

COLD_PER_CYCLE = 3
# Participant fields ← GetParticipant's members describing the participant's client.
CLIENT_DETAILS = {
    "browser_name": "browserName",
    "browser_version": "browserVersion",
    "os_name": "osName",
    "os_version": "osVersion",
    "sdk_version": "sdkVersion",
    "isp_name": "ispName",
    "protocol": "protocol",
}


@dataclass(frozen=True)
class StageItem:
    """What the registry already holds about one stage, so the refresh asks IVS only for what changed."""

    pk: int
    arn: str
    active_session_id: str
    sessions: frozenset[str]
    participants: dict[tuple[str, str], tuple[str, bool]]
    participant_filter: dict[str, Any] = field(default_factory=dict)  # one ListParticipants filter, or none


@dataclass
class StageSeen:
    stage: dict[str, Any] | None
    sessions: list[dict[str, Any]] | None = None
    participants: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    details: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)


def participants_scope(aws_filter: dict[str, Any]) -> str:
    """The watch scope for one ListParticipants filter ({"filterByUserId": "alice"}); "" for none."""
    return json.dumps(aws_filter, sort_keys=True) if aws_filter else ""


def _participant_filter(stage_pk: int) -> dict[str, Any]:
    """The filter to read a watched stage through: only when every viewer asks for the same one."""
    scopes = refresh_watch_scopes(refresher="stages", key=stage_pk)
    return json.loads(next(iter(scopes))) if len(scopes) == 1 and "" not in scopes else {}


def _items(watched: set[str]) -> Items[StageItem]:
    usable = Stage.objects.filter(status=Stage.Status.ACTIVE, arn__isnull=False)
    hot = list(usable.filter(pk__in=[int(key) for key in watched if key.isdigit()]))
    cold = list(
        usable.exclude(pk__in=[stage.pk for stage in hot])
        .filter(~Q(active_session_id="") | Q(refreshed_at__isnull=True))
        .order_by(F("refreshed_at").asc(nulls_first=True), "pk")[:COLD_PER_CYCLE]
    )
    stages = hot + cold
    sessions: dict[int, set[str]] = {stage.pk: set() for stage in stages}
    for stage_id, session_id in StageSession.objects.filter(stage__in=stages).values_list("stage_id", "session_id"):
        sessions[stage_id].add(session_id)
    participants: dict[int, dict[tuple[str, str], tuple[str, bool]]] = {stage.pk: {} for stage in stages}
    for stage_id, session_id, participant_id, state, published in Participant.objects.filter(
        session__stage__in=stages
    ).values_list("session__stage_id", "session__session_id", "participant_id", "state", "published"):
        participants[stage_id][(session_id, participant_id)] = (state, published)

    def item(stage: Stage, participant_filter: dict[str, Any]) -> StageItem:
        return StageItem(stage.pk, stage.arn or "", stage.active_session_id, frozenset(sessions[stage.pk]),
                         participants[stage.pk], participant_filter)  # fmt: skip

    return Items(
        hot=[item(stage, _participant_filter(stage.pk)) for stage in hot], cold=[item(stage, {}) for stage in cold]
    )


async def _observe(client: Any, item: StageItem) -> StageSeen:
    try:
        stage = await ivs.stage_get(arn=item.arn)
    except AwsNotFound:
        return StageSeen(stage=None)  # deleted outside the portal
    seen = StageSeen(stage=stage)
    session_id = stage.get("activeSessionId", "")
    to_read = {session_id, item.active_session_id} - {""}
    if session_id != item.active_session_id or not item.sessions:
        seen.sessions = await ivs.stage_sessions(client, stage_arn=item.arn)
        to_read |= {s["sessionId"] for s in seen.sessions if s["sessionId"] not in item.sessions}
    for sid in sorted(to_read):
        found = await ivs.participants(client, stage_arn=item.arn, session_id=sid, **item.participant_filter)
        seen.participants[sid] = found
        for participant in found:
            pid = participant["participantId"]
            known = item.participants.get((sid, pid))
            if known is None:  # attributes and the client come only from GetParticipant, once per participant
                seen.details[(sid, pid)] = await ivs.participant_get(
                    client, stage_arn=item.arn, session_id=sid, participant_id=pid
                )
            if known != (participant["state"], participant.get("published", False)):
                seen.events[(sid, pid)] = await ivs.participant_events(
                    client, stage_arn=item.arn, session_id=sid, participant_id=pid
                )
    return seen


async def _listing(client: Any) -> list[dict[str, Any]]:
    return await ivs.stages(client)


def _apply(cycle: Cycle[StageItem]) -> dict[str, int]:
    summary = {"stages": 0, "participants": 0, "unrecorded_tokens": 0}
    with transaction.atomic():
        if cycle.listing is not None and cycle.listing_observed_at is not None:
            summary |= stages_reconcile(
                listed=cycle.listing, region=settings.AWS_REGION, observed_at=cycle.listing_observed_at
            )
            _note_sessions_from_listing(cycle.listing, cycle.listing_observed_at)
        for observed in cycle.observed:
            if observed.error is None:
                summary["stages"] += 1
                summary["participants"] += _apply_stage(observed)
        summary["unrecorded_tokens"] = _disconnect_unrecorded_tokens()
    return summary


def _note_sessions_from_listing(listing: list[dict[str, Any]], observed_at: datetime) -> None:
    """A stage whose session began or ended since its last refresh goes to the front of the queue."""
    for item in listing:
        Stage.objects.filter(arn=item["arn"], status=Stage.Status.ACTIVE, changed_at__lt=observed_at).exclude(
            active_session_id=item.get("activeSessionId", "")
        ).update(refreshed_at=None)


def _apply_stage(observed: Observed[StageItem]) -> int:
    """Write what changed since the registry last knew it, unless the row changed after the observation began."""
    item, seen, now = observed.item, observed.result, timezone.now()
    stage = Stage.objects.get(pk=item.pk)
    if stage.changed_at > observed.observed_at or stage.status != Stage.Status.ACTIVE:
        return 0
    if seen.stage is None:
        stage_mark_gone(stage=stage)
        return 0
    for session in seen.sessions or []:
        StageSession.objects.update_or_create(
            stage=stage,
            session_id=session["sessionId"],
            defaults={"started_at": session.get("startTime"), "ended_at": session.get("endTime")},
        )
    sessions = {s.session_id: s for s in StageSession.objects.filter(stage=stage)}
    written = 0
    for session_id, found in seen.participants.items():
        session = sessions.get(session_id) or StageSession.objects.create(stage=stage, session_id=session_id)
        sessions[session_id] = session
        written += _apply_participants(session, item, seen, found, observed.observed_at)
    _apply_events(stage, seen)
    session_id = seen.stage.get("activeSessionId", "")
    since = stage.active_session_since if session_id == stage.active_session_id else None
    if session_id and since is None:
        session = sessions.get(session_id)
        since = session.started_at if session and session.started_at else now
    connected = (
        Participant.objects.filter(session__stage=stage, session__ended_at__isnull=True, state="CONNECTED").count()
        if session_id
        else 0
    )
    live = {"active_session_id": session_id, "active_session_since": since if session_id else None,
            "connected_count": connected, "endpoints": seen.stage.get("endpoints", {})}  # fmt: skip
    changed = {key: value for key, value in live.items() if getattr(stage, key) != value}
    # A read through a filter saw only some participants: the stage keeps its place in the queue for a full read.
    refreshed = {} if item.participant_filter else {"refreshed_at": now}
    Stage.objects.filter(pk=stage.pk).update(**refreshed, **changed)
    return written


def _apply_participants(
    session: StageSession, item: StageItem, seen: StageSeen, found: list[dict[str, Any]], observed_at: datetime
) -> int:
    changed_since = set(
        Participant.objects.filter(session=session, changed_at__gt=observed_at).values_list("participant_id", flat=True)
    )
    written = 0
    for participant in found:
        pid = participant["participantId"]
        key = (session.session_id, pid)
        state = (participant["state"], participant.get("published", False))
        if pid in changed_since or (item.participants.get(key) == state and key not in seen.details):
            continue
        defaults: dict[str, Any] = {
            "user_id": participant.get("userId", ""),
            "state": state[0],
            "published": state[1],
            "first_join_at": participant.get("firstJoinTime"),
            "recording_state": participant.get("recordingState", ""),
            "changed_at": observed_at,
        }
        if key in seen.details:
            detail = seen.details[key]
            attributes = detail.get("attributes", {})
            defaults["attributes"] = visible_tags(attributes)
            defaults["token_attempt"] = attributes.get(MARKER, "")
            defaults |= {field: detail.get(name, "") for field, name in CLIENT_DETAILS.items()}
        Participant.objects.update_or_create(session=session, participant_id=pid, defaults=defaults)
        written += 1
    return written


def _apply_events(stage: Stage, seen: StageSeen) -> None:
    if not seen.events:
        return
    rows = {
        (p.session.session_id, p.participant_id): p
        for p in Participant.objects.filter(session__stage=stage).select_related("session")
    }
    ParticipantEvent.objects.bulk_create(
        [
            ParticipantEvent(
                participant=rows[key],
                name=event["name"],
                event_time=event["eventTime"],
                remote_participant_id=event.get("remoteParticipantId", ""),
                error_code=event.get("errorCode", ""),
            )
            for key, events in seen.events.items()
            if key in rows
            for event in events
        ],
        ignore_conflicts=True,
    )


def _disconnect_unrecorded_tokens() -> int:
    """A participant connected with a token minted by an attempt whose outcome was lost holds a credential the
    portal never recorded: flag it and disconnect it, once."""
    suspects = (
        Participant.objects.filter(
            state=Participant.State.CONNECTED, unrecorded_token=False, disconnect_operation__isnull=True
        )
        .exclude(token_attempt="")
        .select_related("session__stage")
    )
    flagged = 0
    for participant in suspects:
        if attempt_outcome(participant.token_attempt) != "lost":
            continue
        stage_disconnect_participant(
            actor=None,
            participant=participant,
            reason="Joined with a token from an attempt whose outcome was lost: the portal never recorded it.",
            revoke_token=False,
        )
        Participant.objects.filter(pk=participant.pk).update(unrecorded_token=True)
        flagged += 1
    return flagged


STAGES_REFRESHER = refresher_register(
    Refresher(
        name="stages",
        service=ivs.SERVICE,
        items=_items,
        observe=_observe,
        apply=_apply,
        listing=_listing,
        listing_every_seconds=30,
        concurrency=2,
    )
)


def stages_refresh() -> dict[str, int] | None:
    """One cycle of the stages refresher, now."""
    return refresh_run(STAGES_REFRESHER.name)
