"""Find a person everywhere covers meetings: attendees by external user id, revoked together with one reason."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.core.identities import identity_sources
from portal.core.models import AuditEntry, Operation, OperationBatch
from portal.meetings.identities import MEETINGS, meetings_find_identity
from portal.meetings.models import Attendee, Meeting
from rtc_sandbox.client import SandboxControlError
from tests.conftest import login, sandbox_boto

pytestmark = pytest.mark.django_db


def _meeting(chime, name: str, users: list[str], *, status: str = Meeting.Status.ACTIVE) -> dict[str, dict]:
    """A meeting in the sandbox and the registry, with these attendees; their join tokens by external user id."""
    made = chime.create_meeting_with_attendees(
        ClientRequestToken=name,
        ExternalMeetingId=name,
        MediaRegion="us-east-1",
        Attendees=[{"ExternalUserId": user} for user in users],
    )
    meeting = Meeting.objects.create(
        meeting_id=made["Meeting"]["MeetingId"], external_meeting_id=name, media_region="us-east-1", status=status
    )
    for attendee in made["Attendees"]:
        Attendee.objects.create(
            meeting=meeting, attendee_id=attendee["AttendeeId"], external_user_id=attendee["ExternalUserId"]
        )
    return {attendee["ExternalUserId"]: attendee for attendee in made["Attendees"]}


@pytest.fixture
def alice_in_meetings(aws_endpoint, sandbox):
    """alice attends town-hall (connected, beside bob) and standup (not connected); a deleted attendee of retro
    and an attendee of an ended meeting are nowhere."""
    sandbox.quotas(enabled=False)
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    tokens = {
        "town-hall": _meeting(chime, "town-hall", ["alice", "bob"]),
        "standup": _meeting(chime, "standup", ["alice"]),
    }
    _meeting(chime, "retro", ["alice"])
    Attendee.objects.filter(meeting__external_meeting_id="retro").update(state=Attendee.State.DELETED)
    _meeting(chime, "last-week", ["alice"], status=Meeting.Status.ENDED)
    sandbox.meeting_join(tokens["town-hall"]["alice"]["JoinToken"])
    Attendee.objects.filter(meeting__external_meeting_id="town-hall").update(state=Attendee.State.CONNECTED)
    return tokens


def test_meetings_are_a_place_a_person_can_be():
    assert [source.name for source in identity_sources()] == ["meetings", "stages"]
    assert MEETINGS.label == "Meetings"


def test_support_sees_every_active_meeting_the_user_id_attends(alice_in_meetings, support):
    page = login(support).get("/people/", {"user_id": "alice"}).content.decode()
    assert "2 places for" in page
    town_hall = Attendee.objects.get(meeting__external_meeting_id="town-hall", external_user_id="alice")
    standup = Attendee.objects.get(meeting__external_meeting_id="standup", external_user_id="alice")
    assert f'data-reference="{town_hall.pk}" data-connected="true"' in page
    assert f'data-reference="{standup.pk}" data-connected="false"' in page
    assert f'href="/meetings/{town_hall.meeting_id}/"' in page
    assert f"attendee {standup.attendee_id} in meeting {standup.meeting.meeting_id}" in page
    assert "valid until revoked" in page
    assert "retro" not in page
    assert "last-week" not in page


def test_finding_costs_one_query_whatever_the_number_of_meetings(alice_in_meetings):
    with CaptureQueriesContext(connection) as queries:
        assert len(meetings_find_identity("alice")) == 2
    assert len(queries) == 1


def test_one_action_revokes_every_attendee_with_the_one_reason(
    alice_in_meetings, support, sandbox, django_capture_on_commit_callbacks
):
    client = login(support)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/people/end/", {"user_id": "alice", "reason": "spamming the chat"})
    assert response.status_code == 302
    batch = OperationBatch.objects.get()
    operations = list(batch.operations.order_by("pk"))
    assert {o.kind for o in operations} == {"meetings.revoke_attendee"}
    assert len(operations) == 2
    assert all(o.status == Operation.Status.SUCCEEDED for o in operations), [o.error_message for o in operations]
    assert {o.reason for o in operations} == {"spamming the chat"}

    alice = Attendee.objects.filter(external_user_id="alice", meeting__status=Meeting.Status.ACTIVE)
    assert set(alice.exclude(meeting__external_meeting_id="retro").values_list("state", flat=True)) == {"deleted"}
    assert Attendee.objects.get(external_user_id="bob").state == Attendee.State.CONNECTED
    for meeting in ("town-hall", "standup"):
        with pytest.raises(SandboxControlError):
            sandbox.meeting_join(alice_in_meetings[meeting]["alice"]["JoinToken"])
    sandbox.meeting_join(alice_in_meetings["town-hall"]["bob"]["JoinToken"])

    audited = AuditEntry.objects.filter(operation__in=operations, event="succeeded")
    assert set(audited.values_list("reason", flat=True)) == {"spamming the chat"}
    assert {entry.summary.split(" from ")[1] for entry in audited} == {"town-hall", "standup"}
    assert "Nowhere for" in client.get("/people/", {"user_id": "alice"}).content.decode()


def test_an_attendee_being_revoked_is_not_asked_twice(alice_in_meetings, support):
    client = login(support)
    client.post("/people/end/", {"user_id": "alice", "reason": "spamming the chat"})  # tasks wait for commit
    assert [presence.ending for presence in meetings_find_identity("alice")] == [True, True]
    response = client.post("/people/end/", {"user_id": "alice", "reason": "again"})
    assert "already being disconnected" in response.content.decode()
    assert Operation.objects.filter(kind="meetings.revoke_attendee").count() == 2
