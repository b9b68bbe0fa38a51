"""Where a user id is in meetings: an attendee (by external user id) not yet deleted, of a meeting still active.

A Chime join token has no expiry: it works until the attendee is deleted or the meeting ends, so every such attendee
holds a credential, connected or not. Ending them is DeleteAttendee, which drops them and refuses their token.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from portal.core.identities import IdentitySource, Presence, identity_source_register
from portal.core.models import Operation
from portal.meetings.models import Attendee, Meeting
from portal.meetings.services import attendee_revoke


def meetings_find_identity(user_id: str) -> list[Presence]:
    """One query: the external user id's attendees in active meetings, with the meeting and any revoke under way."""
    attendees = (
        Attendee.objects.filter(external_user_id=user_id, meeting__status=Meeting.Status.ACTIVE)
        .exclude(state=Attendee.State.DELETED)
        .select_related("meeting", "revoke_operation")
        .order_by("meeting__external_meeting_id", "created_at", "pk")
    )
    return [
        Presence(
            source=MEETINGS.name,
            place=str(attendee.meeting),
            place_url=reverse("meeting_detail", args=[attendee.meeting_id]),
            reference=str(attendee.pk),
            connected=attendee.state == Attendee.State.CONNECTED,
            connected_since=attendee.joined_at if attendee.state == Attendee.State.CONNECTED else None,
            credential_until_revoked=True,
            detail=f"attendee {attendee.attendee_id} in meeting {attendee.meeting.meeting_id}",
            ending=attendee.is_revoking,
        )
        for attendee in attendees
    ]


def meetings_end_identity(
    actor: AbstractBaseUser, user_id: str, presences: list[Presence], reason: str
) -> list[Operation]:
    """One DeleteAttendee per attendee, each with the one reason."""
    attendees = Attendee.objects.select_related("meeting").in_bulk([int(p.reference) for p in presences])
    return [
        attendee_revoke(actor=actor, attendee=attendees[int(presence.reference)], reason=reason)
        for presence in presences
    ]


MEETINGS = identity_source_register(
    IdentitySource(name="meetings", label="Meetings", find=meetings_find_identity, end=meetings_end_identity)
)
