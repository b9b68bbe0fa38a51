"""Stage reads. Each page's queries are a fixed number, whatever the number of rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from portal.core.models import Operation
from portal.core.sections import Figure
from portal.core.services import operations_of
from portal.stages.models import Participant, ParticipantEvent, ParticipantToken, Stage, StageSession


def stage_sessions(*, stage: Stage) -> QuerySet[StageSession]:
    """Every session the portal knows of the stage, newest first; pages take 50 at a time."""
    return stage.sessions.all()


def stage_session(*, stage: Stage, session_id: str) -> StageSession | None:
    return stage.sessions.filter(session_id=session_id).first()


def stage_participants(*, session: StageSession) -> QuerySet[Participant]:
    return stage_participants_of(session.participants.all())


def stage_participants_of(participants: QuerySet[Participant]) -> QuerySet[Participant]:
    """Participants with their disconnect operation and whether the portal issued (and revoked) their token."""
    issued = ParticipantToken.objects.filter(
        stage_id=OuterRef("session__stage_id"), participant_id=OuterRef("participant_id")
    )
    return (
        participants.select_related("disconnect_operation")
        .annotate(issued_here=Exists(issued), token_revoked=Exists(issued.filter(revoked_at__isnull=False)))
        .order_by("first_join_at", "id")
    )


@dataclass(frozen=True)
class Endpoint:
    name: str  # GetStage's member
    label: str
    url: str
    use: str


ENDPOINTS = (
    ("whip", "WHIP", "Publish from OBS or any WHIP client, with a participant token as the bearer token."),
    ("rtmps", "RTMPS", "Publish over RTMPS (stream key: a participant token)."),
    ("rtmp", "RTMP", "Publish over RTMP, unencrypted (stream key: a participant token)."),
    ("events", "Events", "The WebSocket the IVS SDKs use for stage events."),
)


def stage_endpoints(*, stage: Stage) -> list[Endpoint]:
    """The endpoints GetStage returned, in the order people use them; those AWS did not return are left out."""
    return [
        Endpoint(name, label, stage.endpoints[name], use) for name, label, use in ENDPOINTS if stage.endpoints.get(name)
    ]


def participant_events(*, participant: Participant) -> QuerySet[ParticipantEvent]:
    return participant.events.all()


def stage_tokens(*, stage: Stage) -> QuerySet[ParticipantToken]:
    return stage.tokens.select_related("issued_by", "revoked_by")[:100]


def stage_operations(*, stage: Stage) -> QuerySet[Operation]:
    """The latest operations about this stage, newest first."""
    return operations_of(stage)[:10]


def stages_figures() -> list[Figure]:
    """The overview's stage counts, in one query: stages active in AWS, live sessions, connected participants."""
    counts = Stage.objects.filter(status=Stage.Status.ACTIVE).aggregate(
        stages=Count("pk"),
        live=Count("pk", filter=~Q(active_session_id="")),
        connected=Coalesce(Sum("connected_count", filter=~Q(active_session_id="")), 0),
    )
    stages = reverse("stages")
    return [
        Figure("Stages", counts["stages"], f"{stages}?status={Stage.Status.ACTIVE}"),
        Figure("Live sessions", counts["live"], f"{stages}?live=on"),
        Figure("Connected participants", counts["connected"], f"{stages}?live=on"),
    ]
