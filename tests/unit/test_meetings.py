"""Meetings through the portal's forms, views and services, against the sandbox (tasks run eagerly here)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.core.models import AuditEntry, OneTimeSecret, Operation
from portal.core.services import operation_execute
from portal.meetings.models import Attendee, Meeting
from portal.pipelines.models import CapturePipeline
from tests.conftest import login, sandbox_boto

pytestmark = pytest.mark.django_db


def _form(**extra: str) -> dict[str, str]:
    data = {
        "external_meeting_id": "town-hall",
        "media_region": "us-east-1",
        "echo_reduction": "on",
        "video_max_resolution": "HD",
        "content_max_resolution": "",
        "attendee_max_count": "10",
        "tenant_ids": "tenant-a",
        "primary_meeting_id": "",
        "attendee_lines": "alice\nbob SendReceive Receive None\ncarol",
        "audio": "SendReceive",
        "video": "SendReceive",
        "content": "SendReceive",
        "tags-TOTAL_FORMS": "1",
        "tags-INITIAL_FORMS": "0",
        "tags-0-key": "team",
        "tags-0-value": "rtc",
    }
    return {**data, **extra}


@pytest.fixture
def quotas_off(sandbox):
    sandbox.quotas(enabled=False)


@pytest.fixture
def created(admin, aws_endpoint, quotas_off, django_capture_on_commit_callbacks):
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/meetings/new/", _form())
    assert response.status_code == 303, response.content.decode()[:2000]
    return {
        "client": client,
        "operation": Operation.objects.get(kind="meetings.create"),
        "meeting": Meeting.objects.get(),
    }


def test_create_meeting_with_attendees_end_to_end(created, sandbox):
    meeting, operation = created["meeting"], created["operation"]
    assert operation.status == Operation.Status.SUCCEEDED
    assert meeting.status == Meeting.Status.ACTIVE
    assert meeting.media_placement["SignalingUrl"].startswith("wss://")
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    aws = chime.get_meeting(MeetingId=meeting.meeting_id)["Meeting"]
    assert aws["ExternalMeetingId"] == "town-hall"
    assert aws["MeetingFeatures"]["Attendee"]["MaxCount"] == 10
    assert aws["TenantIds"] == ["tenant-a"]
    listed = {a["ExternalUserId"]: a for a in chime.list_attendees(MeetingId=meeting.meeting_id)["Attendees"]}
    assert set(listed) == {"alice", "bob", "carol"}
    assert listed["bob"]["Capabilities"] == {"Audio": "SendReceive", "Video": "Receive", "Content": "None"}
    rows = {a.external_user_id: a for a in Attendee.objects.all()}
    assert set(rows) == {"alice", "bob", "carol"}
    assert rows["alice"].attendee_id == listed["alice"]["AttendeeId"]
    assert meeting.attendee_count == 3
    assert "JoinToken" not in str(operation.result)
    assert "JoinToken" not in str(operation.parameters)


def test_create_is_idempotent_through_the_operation_token(created, sandbox):
    """A retried attempt (same ClientRequestToken) finds the meeting the first attempt made."""
    from portal.core.operation_kinds import OperationCall
    from portal.meetings.operations import _create_request

    operation = created["operation"]
    call = OperationCall("meetings.create", "", operation.parameters, str(operation.idempotency_token), 2)
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    again = chime.create_meeting(**_create_request(call))["Meeting"]
    assert again["MeetingId"] == created["meeting"].meeting_id


def test_join_tokens_are_shown_once_beside_the_external_user_id(created):
    client, operation = created["client"], created["operation"]
    assert OneTimeSecret.objects.filter(operation=operation).count() == 3
    page = client.post(f"/operations/{operation.pk}/secrets/").content.decode()
    alice = Attendee.objects.get(external_user_id="alice")
    assert f'data-attendee="{alice.attendee_id}"' in page
    assert "Join token for alice" in page
    assert not OneTimeSecret.objects.exists()
    again = client.post(f"/operations/{operation.pk}/secrets/").content.decode()
    assert "already shown" in again


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"external_meeting_id": "x"}, "An external meeting id has at least 2 characters."),
        ({"media_region": "mars-north-1"}, "Select a valid choice."),
        ({"attendee_max_count": "251"}, "less than or equal to 250"),
        ({"attendee_max_count": "2"}, "3 initial attendees exceed the max count of 2."),
        ({"tenant_ids": "a\nb1\nc1\nd1\ne1\nf1"}, "At most 5 tenant ids; there are 6."),
        ({"tenant_ids": "aaaaa"}, "A tenant id contains characters AWS does not accept."),
        ({"tags-0-key": "aws:owner"}, "reserved by AWS"),
        ({"attendee_lines": "\n".join(f"user-{n}" for n in range(21))}, "At most 20 attendees here; there are 21."),
        ({"attendee_lines": "alice\nalice"}, "Line 2: alice appears twice."),
        ({"attendee_lines": "a"}, "Line 1 (a): An external user id has at least 2 characters."),
        ({"attendee_lines": "alice SendReceive Send Receive"}, "Line 1 (alice): Content SendReceive or Receive needs"),
        ({"video": "Send", "content": "Receive"}, "Capabilities for the attendees: Content SendReceive or Receive"),
        ({"video_max_resolution": "None"}, "video resolution is None: Video must be None"),
        ({"primary_meeting_id": "nope"}, "The registry has no meeting with this meeting id."),
    ],
)
def test_create_form_refuses_what_aws_would_and_keeps_the_input(admin, extra, message):
    response = login(admin).post("/meetings/new/", _form(**extra))
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page.replace("&#x27;", "'")
    assert "Nothing was created" in page
    assert 'value="town-hall"' in page or extra.get("external_meeting_id") == "x"
    assert not Operation.objects.exists()
    assert not Meeting.objects.exists()


def test_create_needs_admin(support):
    assert login(support).get("/meetings/new/").status_code == 403


def _meetings(count: int) -> None:
    from portal.meetings.models import Meeting as M

    M.objects.bulk_create(
        M(
            external_meeting_id=f"m-{n}",
            meeting_id=f"00000000-0000-4000-8000-{n:012d}",
            media_region="us-east-1",
            status=M.Status.ACTIVE,
            tags={"team": "rtc"} if n % 2 else {},
        )
        for n in range(count)
    )


def test_list_queries_are_constant_and_filters_work(viewer):
    client = login(viewer)
    _meetings(5)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/meetings/").status_code == 200
    Meeting.objects.all().delete()
    _meetings(120)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/meetings/").content.decode()
    assert len(many) == len(few)
    assert page.count('<tr id="meeting-') == 50
    meeting = Meeting.objects.get(external_meeting_id="m-7")
    Attendee.objects.create(meeting=meeting, attendee_id="a-1", external_user_id="dora")
    found = client.get("/meetings/", {"attendee": "dora"}, HTTP_HX_REQUEST="true")
    assert found.content.decode().count('<tr id="meeting-') == 1
    assert "m-7" in found.content.decode()
    assert "Vary" in found
    assert "HX-Request" in found["Vary"]
    by_id = client.get("/meetings/", {"q": meeting.meeting_id}).content.decode()
    assert by_id.count('<tr id="meeting-') == 1
    ended = client.get("/meetings/", {"tag": "team=rtc", "status": "ended"}).content.decode()
    assert "No meeting matches these filters" in ended
    tagged = client.get("/meetings/", {"tag": "team=rtc", "page": "2"}).content.decode()
    assert tagged.count('<tr id="meeting-') == 10  # 60 tagged: the second page holds 10


def test_detail_shows_facts_placement_attendees_and_operations(created):
    meeting = created["meeting"]
    page = created["client"].get(f"/meetings/{meeting.pk}/").content.decode()
    assert meeting.meeting_id in page
    assert 'data-copy="#placement-SignalingUrl"' in page
    assert "alice" in page
    assert "carol" in page
    assert "Create meeting" in page
    roster = created["client"].get(f"/meetings/{meeting.pk}/?panel=people", HTTP_HX_REQUEST="true")
    assert roster.status_code == 200
    assert "Nobody is connected" in roster.content.decode()
    assert created["client"].get(f"/meetings/{meeting.pk}/?panel=nope", HTTP_HX_REQUEST="true").status_code == 400


def test_the_attendees_table_refreshes_when_an_operation_on_the_meeting_ends(created, support):
    """A revoke under way shows its progress in the operations panel; when it ends, the progress answer tells the page
    (operation-finished, naming the meeting), and the attendees table, which follows the meeting, fetches itself."""
    meeting = created["meeting"]
    subject = f"meetings.meeting:{meeting.pk}"
    alice = Attendee.objects.get(external_user_id="alice")
    client = login(support)
    page = client.get(f"/meetings/{meeting.pk}/").content.decode()
    follows = f'hx-trigger="every 1s, resource-changed" data-follows="{subject}"'  # live: events change it as well
    assert f'id="people" hx-get="/meetings/{meeting.pk}/?panel=people" {follows}' in page

    client.post(f"/meetings/{meeting.pk}/attendees/{alice.pk}/revoke/", {"reason": "left the company"})  # queued
    operation = Operation.objects.get(kind="meetings.revoke_attendee")
    panel = client.get(f"/meetings/{meeting.pk}/?panel=operations", HTTP_HX_REQUEST="true").content.decode()
    assert f'id="operation-{operation.pk}-progress"' in panel
    attendees = client.get(f"/meetings/{meeting.pk}/?panel=people", HTTP_HX_REQUEST="true").content.decode()
    assert f'id="attendee-{alice.pk}" data-state="revoking"' in attendees
    assert f'hx-trigger="every 1s, resource-changed" data-follows="{subject}"' in attendees  # until it has ended

    operation_execute(operation_id=operation.pk)
    progress = client.get(f"/operations/{operation.pk}/", HTTP_HX_REQUEST="true")
    assert progress.status_code == 286
    finished = json.loads(progress["HX-Trigger"])["operation-finished"]
    assert subject in finished["subjects"]
    attendees = client.get(f"/meetings/{meeting.pk}/?panel=people", HTTP_HX_REQUEST="true").content.decode()
    assert f'id="attendee-{alice.pk}" data-state="deleted"' in attendees
    panel = client.get(f"/meetings/{meeting.pk}/?panel=operations", HTTP_HX_REQUEST="true").content.decode()
    assert "-progress" not in panel


def _bare_meeting(status: str = "active") -> Meeting:
    meeting = Meeting.objects.create(meeting_id=str(uuid.uuid4()), external_meeting_id="walk-standup",
                                     media_region="us-east-1", status=status)  # fmt: skip
    Attendee.objects.create(meeting=meeting, attendee_id=str(uuid.uuid4()), external_user_id="alice",
                            state=Attendee.State.CONNECTED, joined_at=timezone.now())  # fmt: skip
    return meeting


def test_the_people_come_first_and_one_panel_shows_the_roster_the_table_and_the_counts(viewer):
    meeting = _bare_meeting()
    page = login(viewer).get(f"/meetings/{meeting.pk}/").content.decode()
    order = [page.index(mark) for mark in ('id="people"', 'id="roster"', 'id="attendees"', "<h2>Media placement</h2>")]
    assert order == sorted(order)
    panel = login(viewer).get(f"/meetings/{meeting.pk}/?panel=people", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-user="alice"' in panel  # the roster
    assert 'data-state="connected"' in panel  # the attendees table, from the same read
    assert '<span id="connected-count">1</span> connected · 1 attendee · <span id="attendee-minutes">' in panel
    assert 'id="meeting-heading" hx-swap-oob="true"' in panel  # with the heading, whose status events change too
    Meeting.objects.filter(pk=meeting.pk).update(status=Meeting.Status.ENDED)  # MeetingEnded, say
    Attendee.objects.update(state=Attendee.State.LEFT)
    ended = login(viewer).get(f"/meetings/{meeting.pk}/?panel=people", HTTP_HX_REQUEST="true")
    assert ended.status_code == 286  # nothing more will change: it stops polling
    heading = ended.content.decode().split('id="meeting-heading"', 1)[1]
    assert ">Ended<" in heading
    assert 'data-state="left"' in ended.content.decode()


@pytest.mark.parametrize(
    ("role", "status", "card"),
    [("admin", "active", True), ("support", "active", False), ("viewer", "active", False), ("admin", "ended", False)],
)
def test_a_recording_card_shows_only_where_there_is_a_capture_or_a_way_to_start_one(request, role, status, card):
    meeting = _bare_meeting(status)
    client = login(request.getfixturevalue(role))
    page = client.get(f"/meetings/{meeting.pk}/").content.decode()
    assert ("<h2>Recording</h2>" in page) is card
    assert ('id="capture-start"' in page) is card  # an Admin's card is there for its action
    assert 'id="meeting-capture"' in page  # the place a capture started by someone else appears in
    CapturePipeline.objects.create(meeting=meeting, status="InProgress", sink_bucket="recordings",
                                   media_pipeline_id=str(uuid.uuid4()))  # fmt: skip
    assert "<h2>Recording</h2>" in client.get(f"/pipelines/meetings/{meeting.pk}/capture/").content.decode()
    assert "<h2>Recording</h2>" in client.get(f"/meetings/{meeting.pk}/").content.decode()


def test_end_meeting_needs_typed_confirmation_and_keeps_the_row(created, sandbox, django_capture_on_commit_callbacks):
    client, meeting = created["client"], created["meeting"]
    refused = client.post(f"/meetings/{meeting.pk}/end/", {"confirm": "wrong"})
    assert refused.status_code == 400
    assert "Type &#x27;town-hall&#x27; exactly" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/meetings/{meeting.pk}/end/", {"confirm": "town-hall"}).status_code == 303
    meeting.refresh_from_db()
    assert (meeting.status, meeting.end_reason) == (Meeting.Status.ENDED, Meeting.EndReason.DELETED)
    assert meeting.status_words == "Ended: Deleted here"
    chime = sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")
    with pytest.raises(chime.exceptions.NotFoundException):
        chime.get_meeting(MeetingId=meeting.meeting_id)
    assert AuditEntry.objects.filter(kind="meetings.end", event="succeeded").exists()
    assert "has ended" in client.get(f"/meetings/{meeting.pk}/end/").content.decode()


def _chime(sandbox):
    return sandbox_boto(sandbox.endpoint, "chime-sdk-meetings")


def test_a_batch_of_150_with_duplicates_is_split_and_says_which_existed(
    created, sandbox, django_capture_on_commit_callbacks
):
    client = created["client"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/meetings/new/", _form(external_meeting_id="all-hands", attendee_max_count=""))
    meeting = Meeting.objects.get(external_meeting_id="all-hands")
    lines = "\n".join(["alice", "bob", *(f"guest-{n:03d}" for n in range(148))])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/meetings/{meeting.pk}/attendees/add/",
            {"attendee_lines": lines, "audio": "SendReceive", "video": "Receive", "content": "None"},
        )
    assert response.status_code == 303
    operation = Operation.objects.get(kind="meetings.add_attendees")
    assert operation.status == Operation.Status.SUCCEEDED
    assert operation.result["errors"] == []
    assert len(operation.result["attendees"]) == 150
    assert operation.parameters["existing_external_user_ids"] == ["alice", "bob"]
    assert len(_chime(sandbox).list_attendees(MeetingId=meeting.meeting_id, MaxResults=100)["Attendees"]) == 100
    assert Attendee.objects.filter(meeting=meeting).count() == 151  # alice, bob, carol and 148 guests
    assert Attendee.objects.get(external_user_id="guest-000").capabilities["Video"] == "Receive"
    page = client.get(f"/operations/{operation.pk}/").content.decode()
    assert "Already in the meeting, so AWS returned the existing attendee" in page
    assert "alice, bob" in page


def test_per_item_errors_of_a_batch_are_shown_per_row(created, sandbox, django_capture_on_commit_callbacks):
    client, meeting = created["client"], created["meeting"]  # MaxCount 10, 3 attendees
    for n in range(6):  # attendees made outside the portal: the registry does not know them
        _chime(sandbox).create_attendee(MeetingId=meeting.meeting_id, ExternalUserId=f"outside-{n}")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/meetings/{meeting.pk}/attendees/add/",
            {"attendee_lines": "dan\nerin\nfrank", "audio": "SendReceive", "video": "SendReceive", "content": "None"},
        )
    operation = Operation.objects.get(kind="meetings.add_attendees")
    assert [a["ExternalUserId"] for a in operation.result["attendees"]] == ["dan"]
    assert [e["ExternalUserId"] for e in operation.result["errors"]] == ["erin", "frank"]
    page = client.get(f"/operations/{operation.pk}/").content.decode()
    assert 'data-user="erin"' in page
    assert 'data-user="frank"' in page
    assert "LimitExceeded" in page


def test_add_form_checks_lines_and_the_meetings_limit(created):
    client, meeting = created["client"], created["meeting"]
    response = client.post(
        f"/meetings/{meeting.pk}/attendees/add/",
        {"attendee_lines": "\n".join(f"u-{n:02d}" for n in range(11)), "audio": "None", "video": "None",
         "content": "None"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "At most 10 attendees here; there are 11." in response.content.decode()
    refused = client.post(
        f"/meetings/{meeting.pk}/attendees/add/",
        {"attendee_lines": "\n".join(f"u-{n:02d}" for n in range(8)), "audio": "None", "video": "None",
         "content": "None"},
    )  # fmt: skip
    assert refused.status_code == 409
    assert "has 3 attendees and takes at most 10: 8 more would exceed it" in refused.content.decode()


def test_support_revokes_with_a_reason_and_the_audit_says_who_whom_why(
    created, support, sandbox, django_capture_on_commit_callbacks
):
    meeting = created["meeting"]
    alice = Attendee.objects.get(external_user_id="alice")
    client = login(support)
    assert client.post(f"/meetings/{meeting.pk}/attendees/{alice.pk}/revoke/", {"reason": ""}).status_code == 400
    token = _chime(sandbox).get_attendee(MeetingId=meeting.meeting_id, AttendeeId=alice.attendee_id)["Attendee"]
    sandbox.meeting_join(token["JoinToken"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/meetings/{meeting.pk}/attendees/{alice.pk}/revoke/", {"reason": "abusive chat"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.state == Attendee.State.DELETED
    outcome = AuditEntry.objects.get(kind="meetings.revoke_attendee", event="succeeded")
    assert outcome.actor_name == "sam"
    assert outcome.reason == "abusive chat"
    assert f"Revoke attendee alice ({alice.attendee_id}) from town-hall" == outcome.summary
    from rtc_sandbox.client import SandboxControlError

    with pytest.raises(SandboxControlError):
        sandbox.meeting_join(token["JoinToken"])


def test_viewer_cannot_revoke(created, viewer):
    alice = Attendee.objects.get(external_user_id="alice")
    assert login(viewer).get(f"/meetings/{alice.meeting_id}/attendees/{alice.pk}/revoke/").status_code == 403


def test_capabilities_change_and_everyone_except(created, sandbox, django_capture_on_commit_callbacks):
    client, meeting = created["client"], created["meeting"]
    alice, bob = Attendee.objects.get(external_user_id="alice"), Attendee.objects.get(external_user_id="bob")
    url = f"/meetings/{meeting.pk}/attendees/{alice.pk}/capabilities/"
    refused = client.post(url, {"audio": "SendReceive", "video": "Send", "content": "SendReceive"})
    assert refused.status_code == 400
    assert "Content SendReceive or Receive needs Video SendReceive or Receive" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"audio": "Receive", "video": "Receive", "content": "None"})
    alice.refresh_from_db()
    assert alice.capabilities == {"Audio": "Receive", "Video": "Receive", "Content": "None"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/meetings/{meeting.pk}/capabilities/",
            {"keep": [bob.pk], "audio": "SendReceive", "video": "None", "content": "None"},
        )
    assert response.status_code == 303
    aws = {
        a["ExternalUserId"]: a["Capabilities"]["Video"]
        for a in _chime(sandbox).list_attendees(MeetingId=meeting.meeting_id)["Attendees"]
    }
    assert aws == {"alice": "None", "bob": "Receive", "carol": "None"}  # every camera off but bob's
    assert Attendee.objects.get(external_user_id="carol").capabilities["Video"] == "None"
    assert Attendee.objects.get(external_user_id="bob").capabilities == {
        "Audio": "SendReceive", "Video": "Receive", "Content": "None",
    }  # fmt: skip
    none_kept = client.post(
        f"/meetings/{meeting.pk}/capabilities/", {"audio": "None", "video": "None", "content": "None"}
    )
    assert "Choose at least one attendee to leave unchanged" in none_kept.content.decode()
