"""Stage reads. Each page's queries are a fixed number, whatever the number of rows."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from portal.core.models import Operation
from portal.core.services import operations_of
from portal.stages.models import Participant, ParticipantEvent, ParticipantToken, Stage, StageSession


def stage_sessions(*, stage: Stage) -> list[StageSession]:
    return list(stage.sessions.all()[:50])


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


def participant_events(*, participant: Participant) -> QuerySet[ParticipantEvent]:
    return participant.events.all()


def stage_tokens(*, stage: Stage) -> QuerySet[ParticipantToken]:
    return stage.tokens.select_related("issued_by", "revoked_by")[:100]


def stage_operations(*, stage: Stage) -> QuerySet[Operation]:
    """The latest operations about this stage, newest first."""
    return operations_of(stage)[:10]
