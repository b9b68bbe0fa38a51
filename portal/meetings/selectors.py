"""Meeting reads. Each page's queries are a fixed number, whatever the number of rows."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.core.annotations import annotated
from portal.core.models import Operation
from portal.core.services import operations_of
from portal.meetings.models import Attendee, Meeting, MeetingEvent


def meeting_list(*, meetings: QuerySet[Meeting]) -> QuerySet[Meeting]:
    """With the columns other apps declared for the list (portal.core.annotations), e.g. capture_running."""
    return annotated(meetings.select_related("created_by"))


def meeting_attendees(*, meeting: Meeting) -> QuerySet[Attendee]:
    return meeting.attendees.select_related("revoke_operation", "created_by").order_by("created_at", "id")


def meeting_roster(*, attendees: list[Attendee]) -> list[Attendee]:
    """Who is connected now, from meeting events: read from the attendees just read (the same query), so the roster
    and the attendees table always show the same moment."""
    connected = [attendee for attendee in attendees if attendee.state == Attendee.State.CONNECTED]
    return sorted(connected, key=lambda attendee: (attendee.joined_at or attendee.created_at, attendee.pk))


def meeting_timeline(*, meeting: Meeting) -> list[MeetingEvent]:
    """The latest 100 events, oldest first."""
    return list(reversed(meeting.events.order_by("-occurred_at", "-id")[:100]))


def meeting_operations(*, meeting: Meeting) -> QuerySet[Operation]:
    return operations_of(meeting)[:10]


def meeting_replicas(*, meeting: Meeting) -> QuerySet[Meeting]:
    return meeting.replicas.all()[:50]
