"""Where a user id is on stages: connected in a live session, or holding an unexpired token the portal issued."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from django.utils import timezone

from portal.core.identities import IdentitySource, Presence, identity_source_register
from portal.core.models import Operation
from portal.stages.models import Participant, ParticipantToken, Stage
from portal.stages.services import stage_disconnect_participant_id


def _reference(stage_pk: int, participant_id: str) -> str:
    return f"{stage_pk}/{participant_id}"


def stages_find_identity(user_id: str) -> list[Presence]:
    """Two queries: the user id's connected participants and its live tokens, one presence per participant id."""
    connected = (
        Participant.objects.filter(
            user_id=user_id,
            state=Participant.State.CONNECTED,
            session__ended_at__isnull=True,
            session__stage__status=Stage.Status.ACTIVE,
        )
        .select_related("session__stage", "disconnect_operation")
        .order_by("session__stage__name", "first_join_at", "pk")
    )
    tokens = {
        _reference(token.stage_id, token.participant_id): token
        for token in ParticipantToken.objects.filter(
            user_id=user_id, revoked_at__isnull=True, expires_at__gt=timezone.now(), stage__status=Stage.Status.ACTIVE
        )
        .select_related("stage")
        .order_by("stage__name", "expires_at", "pk")
    }
    presences: list[Presence] = []
    for participant in connected:
        stage = participant.session.stage
        reference = _reference(stage.pk, participant.participant_id)
        token = tokens.pop(reference, None)
        presences.append(
            Presence(
                source=STAGES.name,
                place=str(stage),
                place_url=reverse("stage_detail", args=[stage.pk]) + f"?session={participant.session.session_id}",
                reference=reference,
                connected=True,
                connected_since=participant.first_join_at,
                credential_expires_at=token.expires_at if token else None,
                detail=f"participant {participant.participant_id} in session {participant.session.session_id}",
                ending=participant.is_disconnecting,
            )
        )
    for reference, token in tokens.items():
        presences.append(
            Presence(
                source=STAGES.name,
                place=str(token.stage),
                place_url=reverse("stage_detail", args=[token.stage_id]),
                reference=reference,
                connected=False,
                credential_expires_at=token.expires_at,
                detail=f"participant {token.participant_id}, token issued {token.issued_at:%Y-%m-%d %H:%M} UTC",
            )
        )
    return presences


def stages_end_identity(
    actor: AbstractBaseUser, user_id: str, presences: list[Presence], reason: str
) -> list[Operation]:
    """One DisconnectParticipant per participant id: it drops a connected participant, and its token, used or not,
    cannot join again. The token the portal issued is marked revoked."""
    stage_pks = {int(presence.reference.split("/", 1)[0]) for presence in presences}
    stages = Stage.objects.in_bulk(stage_pks)
    operations = []
    for presence in presences:
        stage_pk, participant_id = presence.reference.split("/", 1)
        operations.append(
            stage_disconnect_participant_id(
                actor=actor,
                stage=stages[int(stage_pk)],
                participant_id=participant_id,
                user_id=user_id,
                reason=reason,
                revoke_token=presence.credential_expires_at is not None,
            )
        )
    return operations


STAGES = identity_source_register(
    IdentitySource(
        name="stages", label="Stages", find=stages_find_identity, end=stages_end_identity, reason_sent_to="IVS"
    )
)
