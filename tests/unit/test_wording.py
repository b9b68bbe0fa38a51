"""Issue 20 items 15 and 16: durations in words from one helper, Django's pluralisation instead of "(s)", states and
outcomes in words, and a cleanup policy that makes the person choose its kind and confirm selecting everything."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from portal.channels.models import Channel
from portal.cleanup.forms import CleanupPolicyForm
from portal.cleanup.models import CleanupItem, CleanupPolicy, CleanupRun
from portal.core.drift import drift_changed
from portal.core.durations import duration_in_words, minutes_in_words
from portal.core.models import Operation, OperationBatch
from portal.core.protection import PROTECTION_TAG
from portal.core.templatetags.operations import operation_summary
from portal.meetings.models import Attendee, Meeting
from portal.pipelines.models import CapturePipeline
from portal.pipelines.services import capture_stop
from tests.conftest import login
from tests.factories import ChannelFactory, OperationFactory, ParticipantFactory, StageFactory

UNITS = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}
PART = re.compile(r"^(\d+) (day|hour|minute|second)(s?)$")


def _seconds_of(words: str) -> int:
    total = 0
    for part in words.split(" and "):
        match = PART.match(part)
        assert match, f"{part!r} in {words!r}"
        count, unit, plural = int(match[1]), match[2], match[3]
        assert plural == ("" if count == 1 else "s"), words  # "1 minute", "2 minutes", "0 seconds"
        total += count * UNITS[unit]
    return total


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (45, "45 seconds"),
        (59.6, "1 minute"),
        (60, "1 minute"),
        (61, "1 minute"),
        (155, "3 minutes"),
        (3599.7, "1 hour"),
        (90 * 60, "1 hour and 30 minutes"),
        (600 * 60 - 2, "10 hours"),  # a 600-minute token, a second after it was issued
        (9 * 3600 + 59 * 60, "9 hours and 59 minutes"),
        (86400, "1 day"),
        (2 * 86400 + 3 * 3600 + 1200, "2 days and 3 hours"),
        (-300, "5 minutes"),
    ],
)
def test_a_duration_in_words(seconds, words):
    assert duration_in_words(seconds) == words
    assert duration_in_words(timedelta(seconds=seconds)) == words


@given(st.floats(min_value=0, max_value=3650 * 86400, allow_nan=False))
def test_a_duration_in_words_is_at_most_two_units_and_close_to_the_duration(seconds):
    words = duration_in_words(seconds)
    assert len(words.split(" and ")) <= 2
    step = 1 if seconds < 59.5 else 60 if seconds < 86400 - 30 else 3600
    assert abs(_seconds_of(words) - seconds) <= step / 2 + 1e-6


@given(st.integers(min_value=1, max_value=3650 * 1440))
def test_whole_minutes_below_a_day_read_exactly(minutes):
    words = minutes_in_words(minutes)
    if minutes < 1440:
        assert _seconds_of(words) == minutes * 60
    assert "(s)" not in words


def test_ago_says_a_600_minute_token_expires_in_10_hours():
    template = Template(
        "{% load display %}{{ soon|ago }} · {{ then|ago }} · {{ now|ago }} · {{ span|duration:'minutes' }}"
    )
    now = timezone.now()
    soon, then = now + timedelta(minutes=600) - timedelta(seconds=3), now - timedelta(minutes=1, seconds=1)
    text = template.render(Context({"soon": soon, "then": then, "now": now, "span": 90}))
    assert ">in 10 hours</time>" in text
    assert ">1 minute ago</time>" in text
    assert ">just now</time>" in text
    assert "1 hour and 30 minutes" in text


# Item 15: each phrase where it renders.


@pytest.mark.django_db
def test_a_policy_older_than_1_minute_says_minute(admin):
    policy = CleanupPolicy.objects.create(name="quick", kind="stage", name_pattern="t-*", condition="older_than",
                                          amount=1, unit="minutes", max_actions=5)  # fmt: skip
    assert policy.condition_words == "Older than 1 minute"
    page = login(admin).get("/cleanup/").content.decode()
    assert "Older than 1 minute<" in page
    assert "1 minutes" not in page


def _run_with_items(policy: CleanupPolicy, *statuses: str) -> CleanupRun:
    batch = OperationBatch.objects.create(label="run", actor_name="ada")
    run = CleanupRun.objects.create(policy=policy, trigger="manual", actor_name="ada", started_at=timezone.now(),
                                    outcome="requested", matched=len(statuses), batch=batch)  # fmt: skip
    for number, status in enumerate(statuses):
        stage = StageFactory(name=f"t-{number}")
        operation = OperationFactory(kind="stages.delete", status=status)
        batch.operations.add(operation)
        CleanupItem.objects.create(run=run, resource=stage, label=stage.name, outcome="acted", why="old",
                                   operation=operation)  # fmt: skip
    return run


@pytest.mark.django_db
def test_a_run_with_failed_items_says_so_and_in_progress_is_two_words(admin):
    policy = CleanupPolicy.objects.create(name="old", kind="stage", name_pattern="t-*", condition="older_than",
                                          amount=1, unit="days", max_actions=5)  # fmt: skip
    failed = _run_with_items(policy, Operation.Status.SUCCEEDED, Operation.Status.FAILED)
    client = login(admin)
    policies = client.get("/cleanup/").content.decode()
    assert '<span class="status status-failed">Failed items</span>' in policies
    assert "Operations requested" not in policies
    report = client.get(f"/cleanup/runs/{failed.pk}/").content.decode()
    assert 'Report <span class="status status-failed">Failed items</span>' in report
    running = _run_with_items(policy, Operation.Status.RUNNING)
    report = client.get(f"/cleanup/runs/{running.pk}/").content.decode()
    assert "Inprogress" not in report
    assert report.count(">In progress</span>") == 2  # the report's badge and its item's


@pytest.mark.django_db
def test_a_cron_field_out_of_range_is_named_and_ends_with_one_period():
    form = CleanupPolicyForm({"schedule": "61 3 * * *"})
    form.is_valid()
    [message] = form.errors["schedule"]
    assert "its minute field takes 0 to 59" in message
    assert "“61”" in message
    assert ".." not in message
    assert message.endswith(".")


@pytest.mark.django_db
def test_a_succeeded_channel_deletion_is_not_summed_up_as_deleting():
    operation = OperationFactory(kind="channels.delete", status=Operation.Status.SUCCEEDED, result={})
    assert operation_summary(operation) == "deletion accepted: KVS removes the channel within seconds"


@pytest.mark.django_db
def test_the_drift_page_names_the_field_by_its_label(admin):
    channel = ChannelFactory(message_ttl=60)
    drift_changed(channel, "message_ttl", portal=60, aws=77)
    drift_changed(channel, "tags", portal={}, aws={"team": "a"})
    page = login(admin).get("/drift/").content.decode()
    assert "Message TTL" in page
    assert "message_ttl" not in page
    assert "Changed outside the portal</span> Tags" in page
    assert Channel.objects.count() == 1


@pytest.mark.django_db
def test_meeting_summaries_count_attendees_in_words():
    made = OperationFactory(kind="meetings.create", status=Operation.Status.SUCCEEDED,
                            result={"meeting": {"MeetingId": "m-1"}, "attendees": [{}, {}]})  # fmt: skip
    added = OperationFactory(kind="meetings.add_attendees", status=Operation.Status.SUCCEEDED,
                             result={"attendees": [{}], "errors": []})  # fmt: skip
    assert operation_summary(made) == "m-1 with 2 attendees"
    assert operation_summary(added) == "1 attendee, 0 errors"


@pytest.mark.django_db
def test_a_stopped_capture_says_who_asked(admin, django_capture_on_commit_callbacks):
    meeting = Meeting.objects.create(meeting_id=str(uuid.uuid4()), external_meeting_id="standup",
                                     media_region="us-east-1", status="active")  # fmt: skip
    capture = CapturePipeline.objects.create(meeting=meeting, status="InProgress", sink_bucket="recordings",
                                             media_pipeline_id=str(uuid.uuid4()), max_duration_minutes=90)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        capture_stop(actor=admin, capture=capture)
    ended = timezone.now()
    CapturePipeline.objects.filter(pk=capture.pk).update(status="Stopped", started_at=ended - timedelta(seconds=3725),
                                                         ended_at=ended)  # fmt: skip
    client = login(admin)
    page = client.get(f"/pipelines/{capture.pk}/").content.decode()
    assert "(asked by ada)" in page
    assert "(asked)" not in page
    assert "stop after 1 hour and 30 minutes" in page
    assert "<dt>Duration</dt><dd>1 hour and 2 minutes</dd>" in page
    assert "<td>1 hour and 2 minutes</td>" in client.get("/pipelines/").content.decode()


def _meeting_presence(user_id: str) -> None:
    meeting = Meeting.objects.create(meeting_id=str(uuid.uuid4()), external_meeting_id="walk-standup",
                                     media_region="us-east-1", status="active")  # fmt: skip
    Attendee.objects.create(meeting=meeting, attendee_id=str(uuid.uuid4()), external_user_id=user_id,
                            state=Attendee.State.CONNECTED, joined_at=timezone.now())  # fmt: skip


@pytest.mark.django_db
def test_the_reason_goes_to_ivs_only_when_a_stage_is_among_the_places(support):
    _meeting_presence("carol")
    client = login(support)
    page = client.get("/people/", {"user_id": "carol"}).content.decode()
    assert "Sent to IVS" not in page
    assert "Kept in the audit log." in page
    assert "One operation for the place above:" in page
    assert "each of the 1 place" not in page
    ParticipantFactory(session__stage=StageFactory(), user_id="carol")
    page = client.get("/people/", {"user_id": "carol"}).content.decode()
    assert "Sent to IVS and kept in the audit log." in page
    assert "One operation for each of the 2 places above:" in page


# Item 16: the policy form.

POLICY = {"name": "every old stage", "kind": "stage", "name_pattern": "", "tag_key": "", "tag_value": "", "origin": "",
          "condition": "older_than", "amount": "3", "unit": "days", "schedule": "", "max_actions": "5",
          "enabled": "on"}  # fmt: skip


@pytest.mark.django_db
def test_a_new_policy_has_no_kind_until_one_is_chosen(admin):
    client = login(admin)
    page = client.get("/cleanup/new/").content.decode()
    kind = re.search(r'<select name="kind"[^>]*>(.*?)</select>', page, re.S)[1]
    assert re.match(r'\s*<option value="" selected>Choose the resources and the action</option>', kind)
    response = client.post("/cleanup/new/", POLICY | {"kind": "", "name_pattern": "test-*"})
    assert response.status_code == 400
    assert 'id="error-kind"' in response.content.decode()
    assert not CleanupPolicy.objects.exists()


@pytest.mark.django_db
def test_selecting_every_resource_of_a_kind_needs_a_confirmation_and_keeps_the_input(admin):
    client = login(admin)
    response = client.post("/cleanup/new/", POLICY)
    page = response.content.decode()
    assert response.status_code == 400
    assert "this policy selects every one of the stages" in page
    assert 'id="error-select_everything"' in page
    assert 'value="every old stage"' in page  # the input is kept
    assert 'value="3"' in page
    assert not CleanupPolicy.objects.exists()
    assert client.post("/cleanup/new/", POLICY | {"select_everything": "on"}).status_code == 303
    policy = CleanupPolicy.objects.get()
    assert policy.selects_everything
    page = client.get(f"/cleanup/{policy.pk}/").content.decode()
    assert 'id="selects-everything"' in page
    assert "every resource of its kind" in page
    edit = client.get(f"/cleanup/{policy.pk}/edit/").content.decode()
    assert re.search(r'<input type="checkbox" name="select_everything"[^>]* checked>', edit)


@pytest.mark.django_db
def test_a_narrowed_selection_needs_no_confirmation(admin):
    client = login(admin)
    for narrowing in ({"name_pattern": "test-*"}, {"tag_key": "team"}, {"origin": "found"}):
        name = f"narrow {next(iter(narrowing))}"
        assert client.post("/cleanup/new/", POLICY | narrowing | {"name": name}).status_code == 303
    assert not any(policy.selects_everything for policy in CleanupPolicy.objects.all())


@pytest.mark.django_db
def test_the_protection_tag_as_key_gets_only_its_own_error(admin):
    response = login(admin).post("/cleanup/new/", POLICY | {"tag_key": PROTECTION_TAG, "tag_value": "yes"})
    page = response.content.decode()
    assert response.status_code == 400
    assert f"{PROTECTION_TAG} protects resources: no policy selects by it." in page
    assert "A tag value needs its key." not in page
    assert 'id="error-select_everything"' not in page  # a tag key was given, even a refused one
    assert f'value="{PROTECTION_TAG}"' in page
