"""Meeting events applied to the registry: duplicates, reordering, malformed messages, and the queue end to end."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from portal.core.events import Envelope, Message, envelope_parse, event_apply, events_consume, events_dispatch
from portal.core.models import DeadLetter
from portal.meetings import events
from portal.meetings.events import meeting_events_apply
from portal.meetings.models import Attendee, Meeting, MeetingEvent
from tests.conftest import login, sandbox_boto

pytestmark = pytest.mark.django_db
T0 = 1_790_000_000_000


def _event(event_type: str, at: int, meeting: Meeting, attendee: str = "", user: str = "", **extra: str) -> str:
    detail = {"version": "0", "eventType": f"chime:{event_type}", "timestamp": at, "meetingId": meeting.meeting_id,
              "externalMeetingId": meeting.external_meeting_id, "mediaRegion": "us-east-1"}  # fmt: skip
    if attendee:
        detail |= {"attendeeId": attendee, "externalUserId": user}
    return json.dumps({"version": "0", "id": extra.get("id", str(uuid.uuid4())), "source": "aws.chime",
                       "detail-type": "Chime Meeting State Change", "time": "", "region": "us-east-1",
                       "resources": [], "detail": detail})  # fmt: skip


def _envelopes(messages: list[Message]) -> list[Envelope]:
    """A received batch as the consumer hands it to the meetings handler."""
    return [envelope_parse(body, message_id) for body, message_id in messages]


@pytest.fixture(params=["default", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test on the suite's database (PostgreSQL in CI) and on SQLite (`make run`): the events code writes through
    the default connection, so the sqlite alias stands in for it meanwhile. Ask for it before any row is made."""
    default = connections["default"]
    connections["default"] = connections[request.param]
    yield connection.vendor
    connections["default"] = default


def another_process_inserts(monkeypatch: pytest.MonkeyPatch, row: Meeting | Attendee) -> None:
    """The row is committed by someone else (the worker, the PSTN handler, the refresher) just after the consumer
    read its batch's rows, before the batch's events apply."""
    read = events._batch_load

    def read_then_insert(batch_events: list[events.MeetingEventMessage]) -> events._Batch:
        batch = read(batch_events)
        row.save(force_insert=True)
        return batch

    monkeypatch.setattr(events, "_batch_load", read_then_insert)


@pytest.fixture
def meeting() -> Meeting:
    return Meeting.objects.create(
        meeting_id=str(uuid.uuid4()), external_meeting_id="standup", media_region="us-east-1", status="active"
    )


def test_join_video_leave_make_the_roster_and_attendee_minutes(meeting):
    for event_type, at in (("AttendeeAdded", 0), ("AttendeeJoined", 1000), ("AttendeeVideoStarted", 2000)):
        assert event_apply(body=_event(event_type, T0 + at, meeting, "a-1", "alice")) == "applied"
    alice = Attendee.objects.get()
    assert (alice.state, alice.video) == (Attendee.State.CONNECTED, True)
    meeting.refresh_from_db()
    assert (meeting.connected_count, meeting.attendee_count) == (1, 1)
    event_apply(body=_event("AttendeeLeft", T0 + 121_000, meeting, "a-1", "alice"))
    alice.refresh_from_db()
    assert (alice.state, alice.video, alice.connected_seconds) == (Attendee.State.LEFT, False, 120.0)


def test_duplicates_are_ignored_by_event_id(meeting):
    body = _event("AttendeeJoined", T0, meeting, "a-1", "alice", id="same")
    assert event_apply(body=body) == "applied"
    assert event_apply(body=body) == "duplicate"
    assert MeetingEvent.objects.count() == 1


def test_a_late_join_does_not_resurrect_an_attendee_who_left(meeting):
    event_apply(body=_event("AttendeeLeft", T0 + 5000, meeting, "a-1", "alice"))
    event_apply(body=_event("AttendeeJoined", T0 + 1000, meeting, "a-1", "alice"))
    assert Attendee.objects.get().state == Attendee.State.LEFT
    event_apply(body=_event("AttendeeJoined", T0 + 9000, meeting, "a-1", "alice"))  # a real re-join
    assert Attendee.objects.get().state == Attendee.State.CONNECTED
    event_apply(body=_event("AttendeeDeleted", T0 + 10000, meeting, "a-1", "alice"))
    event_apply(body=_event("AttendeeJoined", T0 + 11000, meeting, "a-1", "alice"))
    assert Attendee.objects.get().state == Attendee.State.DELETED  # a deleted attendee stays deleted
    assert MeetingEvent.objects.filter(meeting=meeting).count() == 5  # every event is on the timeline


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json {", "Not JSON"),
        ('{"detail-type": "EC2 Instance State-change Notification", "detail": {}}',
         "No handler for events of detail-type"),
        ('{"detail-type": "Chime Meeting State Change", "id": "x", "detail": {"eventType": "chime:Teleported"}}',
         "Unknown meeting event type 'chime:Teleported'"),
        ('{"detail-type": "Chime Meeting State Change", "id": "x", "detail": {"eventType": "chime:AttendeeJoined",'
         ' "timestamp": 1, "meetingId": "m"}}', "AttendeeJoined without detail.attendeeId"),
    ],
)  # fmt: skip
def test_malformed_and_unknown_messages_are_kept_as_dead_letters(admin, body, error):
    assert event_apply(body=body, message_id="msg-1") == "dead-letter"
    letter = DeadLetter.objects.get()
    assert (letter.body, letter.message_id) == (body, "msg-1")
    assert error in letter.error
    assert error.split("'")[0] in login(admin).get("/dead-letters/").content.decode().replace("&#x27;", "'")


def test_a_meeting_created_elsewhere_is_added_as_found():
    stranger = Meeting(meeting_id=str(uuid.uuid4()), external_meeting_id="elsewhere")
    event_apply(body=_event("AttendeeJoined", T0, stranger, "a-9", "zed"))
    found = Meeting.objects.get()
    assert (found.origin, found.external_meeting_id, found.connected_count) == ("found", "elsewhere", 1)


def test_meeting_ended_by_aws_is_marked_so(meeting):
    event_apply(body=_event("AttendeeJoined", T0, meeting, "a-1", "alice"))
    event_apply(body=_event("MeetingEnded", T0 + 1000, meeting))
    meeting.refresh_from_db()
    assert (meeting.status, meeting.end_reason, meeting.connected_count) == ("ended", "aws", 0)


def test_the_queue_end_to_end_through_the_sandbox(
    admin, aws_endpoint, sandbox, settings, django_capture_on_commit_callbacks
):
    """A meeting created here sends its events to the portal's queue; the consumer builds the roster from them."""
    sandbox.quotas(enabled=False)
    sqs = sandbox_boto(sandbox.endpoint, "sqs")
    settings.MEETING_EVENTS_QUEUE_URL = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    client = login(admin)
    form = {"external_meeting_id": "roster", "media_region": "us-east-1", "attendee_lines": "alice\nbob\ncarol",
            "audio": "SendReceive", "video": "SendReceive", "content": "SendReceive", "tags-TOTAL_FORMS": "0",
            "tags-INITIAL_FORMS": "0"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/meetings/new/", form).status_code == 303
    meeting = Meeting.objects.get()
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    tokens = {a["ExternalUserId"]: a for a in chime.list_attendees(MeetingId=meeting.meeting_id)["Attendees"]}
    sandbox.meeting_join(tokens["alice"]["JoinToken"])
    sandbox.meeting_join(tokens["bob"]["JoinToken"])
    sqs.send_message(QueueUrl=settings.MEETING_EVENTS_QUEUE_URL, MessageBody="garbage")
    counts = {"applied": 0, "dead-letter": 0}
    while batch := events_consume(url=settings.MEETING_EVENTS_QUEUE_URL, wait_seconds=0):
        if not any(batch.values()):
            break
        counts = {key: counts[key] + batch[key] for key in counts}
    assert counts == {"applied": 6, "dead-letter": 1}  # started, 3 added, 2 joined
    roster = client.get(f"/meetings/{meeting.pk}/?panel=people", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-user="alice"' in roster
    assert 'data-user="bob"' in roster
    assert 'data-user="carol"' not in roster
    assert not sqs.receive_message(QueueUrl=settings.MEETING_EVENTS_QUEUE_URL).get("Messages")


def test_reconciliation_marks_a_meeting_left_idle_ended_by_aws(
    admin, aws_endpoint, sandbox, django_capture_on_commit_callbacks
):
    from portal.meetings.refresh import meetings_refresh

    sandbox.quotas(enabled=False)
    client = login(admin)
    form = {"external_meeting_id": "idle", "media_region": "us-east-1", "attendee_lines": "alice",
            "audio": "SendReceive", "video": "SendReceive", "content": "SendReceive", "tags-TOTAL_FORMS": "0",
            "tags-INITIAL_FORMS": "0"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/meetings/new/", form)
    meeting = Meeting.objects.get()
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    chime.create_attendee(MeetingId=meeting.meeting_id, ExternalUserId="made-elsewhere")
    from portal.core.models import RefresherState

    result = meetings_refresh()
    assert result == {"checked": 1, "ended": 0, "skipped": 0}, RefresherState.objects.get().last_error
    assert set(meeting.attendees.values_list("external_user_id", flat=True)) == {"alice", "made-elsewhere"}
    sandbox.advance(301)  # nobody joined: AWS ends the meeting after 5 idle minutes
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sandbox_meeting_exists(chime, meeting.meeting_id):
        time.sleep(0.1)
    assert meetings_refresh() == {"checked": 0, "ended": 1, "skipped": 0}
    meeting.refresh_from_db()
    assert (meeting.status, meeting.status_words) == ("ended", "Ended: Ended by AWS (idle 5 minutes or 24 hours)")


def sandbox_meeting_exists(chime, meeting_id: str) -> bool:
    try:
        chime.get_meeting(MeetingId=meeting_id)
    except chime.exceptions.NotFoundException:
        return False
    return True


def test_the_timeline_panel_is_live_until_the_meeting_ends(meeting, viewer):
    client = login(viewer)
    panel = client.get(f"/meetings/{meeting.pk}/?panel=timeline", HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert 'hx-trigger="every 2s, resource-changed"' in panel.content.decode()
    assert "No meeting events received yet" in panel.content.decode()
    event_apply(body=_event("AttendeeJoined", T0, meeting, "a-1", "alice", id="joined-1"))
    panel = client.get(f"/meetings/{meeting.pk}/?panel=timeline", HTTP_HX_REQUEST="true").content.decode()
    assert '<li data-event="joined-1">' in panel
    assert "AttendeeJoined</strong> alice" in panel
    event_apply(body=_event("MeetingEnded", T0 + 1000, meeting))
    ended = client.get(f"/meetings/{meeting.pk}/?panel=timeline", HTTP_HX_REQUEST="true")
    assert ended.status_code == 286  # htmx stops polling: an ended meeting has no more events
    assert "MeetingEnded" in ended.content.decode()


def test_a_batch_reads_its_rows_once_and_applies_each_event_on_its_own(meeting):
    """Known attendees join: two reads for the batch (meetings, attendees), then per event its row and the
    attendee's change, each event committed by itself (one statement on PostgreSQL), and one recount of the meeting
    at the end; a copy inside the batch, or of an event an earlier batch recorded, is a duplicate and changes nothing,
    and a late join inside it does not resurrect anyone."""
    for n in range(10):
        event_apply(body=_event("AttendeeAdded", T0, meeting, f"a-{n}", f"user-{n}", id=f"added-{n}"))
    joins = [(_event("AttendeeJoined", T0 + 1000, meeting, f"a-{n}", f"user-{n}", id=f"j-{n}"), "") for n in range(8)]
    left = _event("AttendeeLeft", T0 + 5000, meeting, "a-9", "user-9")
    late = _event("AttendeeJoined", T0 + 1000, meeting, "a-9", "user-9")
    added_again = _event("AttendeeAdded", T0, meeting, "a-3", "user-3", id="added-3")
    batch = _envelopes([*joins, (joins[0][0], ""), (left, ""), (late, ""), (added_again, "")])
    with CaptureQueriesContext(connection) as queries:
        outcomes = meeting_events_apply(batch)
    assert outcomes == ["applied"] * 8 + ["duplicate", "applied", "applied", "duplicate"]
    statements = [q["sql"] for q in queries.captured_queries]
    assert len([sql for sql in statements if sql.startswith("SELECT")]) == 2  # the batch's rows
    assert len([sql for sql in statements if sql.startswith('UPDATE "meetings_meeting"')]) == 1  # the recount
    if connection.vendor == "postgresql":  # each event's row and its attendee's change: one statement
        assert len([sql for sql in statements if sql.startswith("WITH recorded AS (INSERT")]) == 8 + 1 + 1 + 1
    else:  # joins: row, attendee; left: row, attendee; late join: row; the earlier batch's copy: a refused row
        assert len([sql for sql in statements if sql.startswith(("INSERT", 'UPDATE "meetings_attendee"'))]) == 20
    assert Attendee.objects.filter(state=Attendee.State.CONNECTED).count() == 8
    assert Attendee.objects.get(attendee_id="a-9").state == Attendee.State.LEFT
    meeting.refresh_from_db()
    assert (meeting.connected_count, meeting.attendee_count) == (8, 10)


def test_a_dispatched_batch_reaches_the_disk_once_before_it_is_acknowledged(meeting):
    """On PostgreSQL each event's transaction commits without waiting for the disk, and the batch is flushed once
    at its end (a transaction given an id, committed synchronously, in the round trip that puts the setting back): the
    consumer deletes the messages only after."""
    bodies = [(_event("AttendeeAdded", T0, meeting, f"a-{n}", f"user-{n}"), "") for n in range(5)]
    with CaptureQueriesContext(connection) as queries:
        outcomes = events_dispatch(bodies).outcomes
    assert outcomes == ["applied"] * 5
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    if connection.vendor == "postgresql":
        assert statements[0] == "SET synchronous_commit TO OFF"
        assert statements[-1] == "RESET synchronous_commit; SELECT pg_current_xact_id()"  # one round trip
    else:
        assert not [sql for sql in statements if "synchronous_commit" in sql or "xact_id" in sql]
    assert Attendee.objects.filter(meeting=meeting).count() == 5
    with CaptureQueriesContext(connection) as queries:
        assert events_dispatch(bodies).outcomes == ["duplicate"] * 5
    if connection.vendor == "postgresql":  # nothing applied, nothing to wait for
        assert queries.captured_queries[-1]["sql"] == "RESET synchronous_commit"


@pytest.mark.django_db(databases=["default", "sqlite"])
def test_a_meeting_the_worker_recorded_after_the_batch_was_read_is_taken_not_inserted_again(engine, monkeypatch):
    """The batch read no meeting M; the worker then records its CreateMeeting (M, active). The batch's events about
    M go to that row: no IntegrityError on meetings_meeting.meeting_id, no second row, nothing "found"."""
    created = Meeting(meeting_id=str(uuid.uuid4()), external_meeting_id="standup", media_region="us-east-1",
                      status=Meeting.Status.ACTIVE)  # fmt: skip
    another_process_inserts(monkeypatch, created)
    bodies = [(_event("MeetingStarted", T0, created), ""), (_event("AttendeeJoined", T0 + 1, created, "a-1", "al"), "")]
    assert meeting_events_apply(_envelopes(bodies)) == ["applied", "applied"]
    taken = Meeting.objects.get()
    assert (taken.pk, taken.origin, taken.connected_count) == (created.pk, Meeting.Origin.PORTAL, 1)
    assert MeetingEvent.objects.filter(meeting=taken).count() == 2


@pytest.mark.django_db(databases=["default", "sqlite"])
def test_an_attendee_another_process_recorded_after_the_batch_was_read_is_taken_not_inserted_again(
    engine, meeting, monkeypatch
):
    """The batch read the meeting and none of its attendees; the PSTN handler then records its caller's attendee.
    The caller's AttendeeAdded and AttendeeJoined go to that row: no IntegrityError on (meeting_id, attendee_id),
    the handler's row keeps what it wrote, and the meeting's counts include the caller."""
    caller = Attendee(meeting=meeting, attendee_id="a-1", external_user_id="+15550100", capabilities={"audio": "Send"})
    another_process_inserts(monkeypatch, caller)
    bodies = [
        (_event("AttendeeAdded", T0, meeting, "a-1", "+15550100"), ""),
        (_event("AttendeeJoined", T0 + 1, meeting, "a-1", "+15550100"), ""),
    ]
    assert meeting_events_apply(_envelopes(bodies)) == ["applied", "applied"]
    row = Attendee.objects.get()
    assert (row.pk, row.capabilities, row.state) == (caller.pk, {"audio": "Send"}, Attendee.State.CONNECTED)
    meeting.refresh_from_db()
    assert (meeting.attendee_count, meeting.connected_count) == (1, 1)
