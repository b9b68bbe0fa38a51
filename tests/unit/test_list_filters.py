"""A filter the form cannot read lists nothing and says why beside the field, on every filtered list; with htmx, the
table's answer carries the errors too (swapped out of band into the form), so the table never reads as every row."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from portal.cleanup.models import CleanupPolicy, CleanupRun
from portal.core.models import AuditEntry
from portal.meetings.models import Meeting
from portal.pipelines.models import CapturePipeline
from tests.conftest import login
from tests.factories import ChannelFactory, OperationFactory, ParticipantFactory, StageFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
NOTHING = "Nothing is listed until the filter above is corrected."


def _rows() -> None:
    """One row of each list, each showing the marker `row-marker` in its name or target."""
    ChannelFactory(name="row-marker", tags={"team": "media"})
    StageFactory(name="row-marker", tags={"team": "media"})
    meeting = Meeting.objects.create(meeting_id=str(uuid.uuid4()), external_meeting_id="row-marker",
                                     media_region="us-east-1", status="active", tags={"team": "media"})  # fmt: skip
    CapturePipeline.objects.create(meeting=meeting, status="InProgress", sink_bucket="recordings",
                                   media_pipeline_id=str(uuid.uuid4()))  # fmt: skip
    OperationFactory(target="row-marker")
    AuditEntry.objects.create(actor_name="ada", kind="aws.check_connection", target="row-marker", event="requested")
    policy = CleanupPolicy.objects.create(name="row-marker", kind="stage", name_pattern="test-*",
                                          condition="older_than", amount=1, unit="days", max_actions=10)  # fmt: skip
    CleanupRun.objects.create(policy=policy, trigger="manual", actor_name="ada", started_at=timezone.now(),
                              outcome="nothing")  # fmt: skip


LISTS = [
    ("/channels/", {"tag": "team"}, "tag"),
    ("/stages/", {"tag": "team"}, "tag"),
    ("/meetings/", {"tag": "team"}, "tag"),
    ("/pipelines/", {"since": "yesterday"}, "since"),
    ("/operations/", {"status": "bogus"}, "status"),
    ("/audit/", {"date_from": "not-a-date"}, "date_from"),
]


@pytest.mark.parametrize(("url", "query", "field"), LISTS)
def test_a_bad_filter_lists_nothing_and_says_why_beside_the_field(admin, url, query, field):
    _rows()
    client = login(admin)
    assert "row-marker" in client.get(url).content.decode()  # the row is listed without the filter
    page = client.get(url, query).content.decode()
    assert page.count(f'data-filter="{field}"') == 1
    assert NOTHING in page
    assert "row-marker" not in page


@pytest.mark.parametrize(("url", "query", "field"), LISTS)
def test_with_htmx_the_table_brings_the_filter_errors_with_it(admin, url, query, field):
    _rows()
    response = login(admin).get(url, query, headers=HTMX)
    page = response.content.decode()
    assert response.status_code in (200, 286)
    assert 'id="filter-errors"' in page
    assert 'hx-swap-oob="true"' in page
    assert page.count(f'data-filter="{field}"') == 1
    assert NOTHING in page
    assert "row-marker" not in page
    good = login(admin).get(url, headers=HTMX).content.decode()
    assert "row-marker" in good
    assert 'id="filter-errors"' in good  # and a corrected filter clears them
    assert "data-filter=" not in good


def test_cleanup_runs_with_a_bad_filter_list_nothing(admin):
    _rows()
    client = login(admin)
    assert "row-marker" in client.get("/cleanup/runs/").content.decode()
    page = client.get("/cleanup/runs/", {"outcome": "bogus"}).content.decode()
    assert page.count('data-filter="outcome"') == 1
    assert NOTHING in page
    assert "cleanup-runs" not in page


def test_a_stage_page_with_bad_session_or_participant_filters_lists_none(admin):
    participant = ParticipantFactory(user_id="row-marker")
    stage = participant.session.stage
    client = login(admin)
    url = f"/stages/{stage.pk}/"
    session = participant.session.session_id
    assert 'id="participant-' in client.get(url, {"session": session}).content.decode()
    bad_user = client.get(url, {"session": session, "user_id": "u" * 129}).content.decode()
    assert bad_user.count('data-filter="user_id"') == 1
    assert "No participant is listed until the filter above is corrected." in bad_user
    assert f'id="participant-{participant.pk}"' not in bad_user
    bad_dates = client.get(url, {"started_from": "not-a-date"}).content.decode()
    assert bad_dates.count('data-filter="started_from"') == 1
    assert "No session is listed until the dates above are corrected." in bad_dates
