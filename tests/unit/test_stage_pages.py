"""The stage pages as a new user meets them: post/redirect/get, panels that refresh, plain refusals, token rows that
issue what they show, times in UTC, long values kept in their place."""

from __future__ import annotations

import html
import re

import pytest
from django.utils import timezone

from portal.core.models import Operation
from portal.stages.models import ParticipantToken, Stage
from tests.conftest import login, sandbox_boto
from tests.factories import OperationFactory, ParticipantFactory, StageFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _token_rows(*rows: dict[str, object]) -> dict[str, object]:
    """Token rows as a browser posts them: each row's checkboxes and duration as the form rendered them."""
    data: dict[str, object] = {"tokens-TOTAL_FORMS": str(len(rows)), "tokens-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        posted = {"user_id": "", "capabilities": ["PUBLISH", "SUBSCRIBE"], "duration": "720", "attributes": ""} | row
        data |= {f"tokens-{index}-{key}": value for key, value in posted.items()}
    return data


@pytest.fixture
def live(admin, aws_endpoint, sandbox):
    """A stage that exists in the sandbox and in the portal, and the admin's client."""
    sandbox.quotas(enabled=False)
    made = sandbox_boto(sandbox.endpoint, "ivs-realtime").create_stage(name="town-hall")["stage"]
    stage = StageFactory(name="town-hall", arn=made["arn"])
    return {"stage": stage, "client": login(admin), "sandbox": sandbox}


def test_issuing_tokens_redirects_to_the_operation_and_a_reload_issues_nothing(
    live, django_capture_on_commit_callbacks
):
    client, stage = live["client"], live["stage"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/stages/{stage.pk}/tokens/", _token_rows({}, {"user_id": "host"}))
    operation = Operation.objects.get(kind="stages.issue_token")
    assert (response.status_code, response["Location"]) == (303, f"/operations/{operation.pk}/")
    for _ in range(2):  # the person reloads the page they landed on
        assert client.get(response["Location"]).status_code == 200
    assert Operation.objects.filter(kind="stages.issue_token").count() == 1
    assert sorted(ParticipantToken.objects.values_list("user_id", flat=True)) == ["", "host"]
    assert operation.audit_entries.get(event="requested").summary == (
        "Issue 2 tokens on town-hall: no user id (PUBLISH, SUBSCRIBE, 12 hours); host (PUBLISH, SUBSCRIBE, 12 hours)"
    )
    page = client.post(f"/operations/{operation.pk}/secrets/", headers=HTMX).content.decode()
    assert page.count('class="token"') == 2  # one reveal for every token asked, with one "Copy all as JSON"
    assert page.count("Copy all as JSON") == 1


def test_an_untouched_token_row_is_a_token_with_the_defaults(live, django_capture_on_commit_callbacks):
    client, stage = live["client"], live["stage"]
    form = client.get(f"/stages/{stage.pk}/tokens/").content.decode()
    assert "1 participant token will be issued: one per row, each with the values it shows." in form
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/stages/{stage.pk}/tokens/", _token_rows({})).status_code == 303
    token = ParticipantToken.objects.get()
    assert (token.user_id, token.capabilities, token.duration_minutes) == ("", ["PUBLISH", "SUBSCRIBE"], 720)
    none = client.post(f"/stages/{stage.pk}/tokens/", _token_rows())
    assert none.status_code == 400
    assert "Add a token: this form issues one token per row." in none.content.decode()
    assert "Please submit" not in none.content.decode()


def test_creating_a_stage_issues_exactly_the_token_rows_it_shows(admin, django_capture_on_commit_callbacks):
    client = login(admin)
    form = client.get("/stages/new/").content.decode()
    assert 'name="tokens-TOTAL_FORMS" value="0"' in form  # no token unless a row is added
    assert "No participant token will be issued: the stage is created without one." in form
    assert form.count("data-remove-row") == 3  # the tag row, and the templates new rows are made from
    data = {"name": "no-tokens", "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0"} | _token_rows()
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post("/stages/new/", data).status_code == 303
    assert Operation.objects.get().parameters["tokens"] == []
    data = {"name": "one-token", "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0"} | _token_rows({})
    with django_capture_on_commit_callbacks(execute=False):
        client.post("/stages/new/", data)
    assert Operation.objects.get(parameters__name="one-token").parameters["tokens"] == [
        {"capabilities": ["PUBLISH", "SUBSCRIBE"], "duration": 720}
    ]


def test_form_errors_sit_by_their_field_and_nothing_is_cut_by_the_browser(admin):
    client = login(admin)
    form = client.get("/stages/new/").content.decode()
    assert "maxlength" not in form
    data = {"name": "n" * 130, "tags-TOTAL_FORMS": "49", "tags-INITIAL_FORMS": "0"}
    data |= {f"tags-{n}-key": f"k{n}" for n in range(49)} | _token_rows({"duration": "0"}, {"user_id": "ok"})
    page = client.post("/stages/new/", data).content.decode()
    name = page.split('name="name"', 1)[1].split("</span>", 1)[0]
    assert 'aria-invalid="true"' in name
    assert "Ensure this value has at most 128 characters (it has 130)." in name
    first_row = page.split('name="tokens-0-duration"', 1)[1].split("</label>", 1)[0]
    assert 'aria-invalid="true"' not in page.split('name="tokens-1-duration"', 1)[1].split("</label>", 1)[0]
    assert "Ensure this value is greater than or equal to 1." in first_row
    assert "data-add-row disabled>Add tag" in page  # 49 rows: the most a stage takes here
    assert '<span class="muted" data-row-limit>49 tags: the most a stage takes here.</span>' in page


def test_a_stage_deleted_outside_the_portal_says_so_by_the_action_and_offers_sync(
    live, support, django_capture_on_commit_callbacks
):
    client, stage = live["client"], live["stage"]
    sandbox_boto(live["sandbox"].endpoint, "ivs-realtime").delete_stage(arn=stage.arn)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/stages/{stage.pk}/rename/", {"name": "rescued"}, headers=HTMX)
    assert response.status_code == 303
    assert Stage.objects.get(pk=stage.pk).status == Stage.Status.GONE
    progress = client.get(response["Location"], headers=HTMX).content.decode()
    assert '<span class="error-code">ResourceNotFoundException</span>' in progress
    assert "This stage no longer exists in AWS: it was deleted outside the portal." in progress
    assert 'hx-post="/stages/sync/" hx-target="closest .refusal"' in progress
    assert "try again" not in progress.lower()
    assert "data-retry" not in progress  # the refusal says it all
    viewer_sees = login(support).get(response["Location"].replace("?", ""), headers=HTMX).content.decode()
    assert "Sync from AWS" in viewer_sees  # Support may sync


def test_a_viewer_is_told_why_but_offered_no_button(viewer):
    stage = StageFactory(status=Stage.Status.GONE)
    operation = OperationFactory(
        kind="stages.rename", resource=stage, status=Operation.Status.FAILED, error_code="ResourceNotFoundException",
        parameters={"stage_id": stage.pk},
    )  # fmt: skip
    page = login(viewer).get(f"/operations/{operation.pk}/").content.decode()
    assert "This stage no longer exists in AWS" in page
    assert "Sync from AWS" not in page


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        ("AccessDeniedException", "The portal's AWS credentials may not do this"),
        ("ServiceQuotaExceededException", "An AWS limit is reached"),
        ("ConflictException", "because of the resource's state now"),
        ("ValidationException", "does not accept the request as it was made"),
        ("ResourceNotFoundException", "AWS no longer has what this was about"),
        ("ThrottlingException", "This error is temporary"),
    ],
)
def test_advice_after_a_failure_says_whether_asking_again_can_help(viewer, code, advice):
    operation = OperationFactory(kind="aws.check_connection", status=Operation.Status.FAILED, error_code=code)
    page = html.unescape(login(viewer).get(f"/operations/{operation.pk}/").content.decode())
    assert advice in page
    assert "try again" not in page.lower()


def test_each_panel_of_the_stage_page_follows_the_stage(viewer):
    stage = StageFactory(tags={"team": "rtc"})
    client = login(viewer)
    page = client.get(f"/stages/{stage.pk}/").content.decode()
    panels = re.findall(r'hx-get="/stages/\d+/\?panel=(\w+)[^"]*" hx-trigger="[^"]*resource-changed" '
                        rf'data-follows="stages.stage:{stage.pk}"', page)  # fmt: skip
    assert panels == ["heading", "summary", "tags", "participants", "tokens", "operations"]
    for panel, marker in (("heading", 'id="stage-heading"'), ("summary", 'id="stage-summary"'),
                          ("tags", 'id="stage-tags"'), ("tokens", 'id="stage-tokens"'),
                          ("operations", 'id="stage-operations"')):  # fmt: skip
        response = client.get(f"/stages/{stage.pk}/", {"panel": panel}, headers=HTMX)
        assert response.status_code == 200
        assert marker in response.content.decode().split(">", 2)[1] or marker in response.content.decode()[:300]
        assert "<html" not in response.content.decode()
    assert "<title>" in client.get(f"/stages/{stage.pk}/", {"panel": "heading"}, headers=HTMX).content.decode()
    assert client.get(f"/stages/{stage.pk}/", {"panel": "nope"}, headers=HTMX).status_code == 400
    assert client.get(f"/stages/{stage.pk}/", {"panel": "row", "participant": "abc"}, headers=HTMX).status_code == 400


def test_after_a_rename_the_heading_panel_shows_the_new_name(live, django_capture_on_commit_callbacks):
    client, stage = live["client"], live["stage"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/stages/{stage.pk}/rename/", {"name": "renamed"}, headers=HTMX)
    heading = client.get(f"/stages/{stage.pk}/", {"panel": "heading"}, headers=HTMX).content.decode()
    assert "<title>renamed · RTC Portal</title>" in heading
    assert '<h1 class="stage-name">renamed ' in heading


def test_the_list_follows_every_stage_operation_and_polls_while_a_stage_changes(viewer):
    StageFactory(status=Stage.Status.CREATING)
    partial = login(viewer).get("/stages/", headers=HTMX)
    assert partial.status_code == 200
    assert b'hx-trigger="every 2s, resource-changed" data-follows="stages"' in partial.content
    Stage.objects.update(status=Stage.Status.ACTIVE)
    settled = login(viewer).get("/stages/", headers=HTMX)
    assert settled.status_code == 286
    assert b'hx-trigger="resource-changed" data-follows="stages"' in settled.content


def test_found_stages_say_when_they_were_found_not_created(viewer):
    stage = StageFactory(origin=Stage.Origin.FOUND, name="made-elsewhere")
    client = login(viewer)
    row = client.get("/stages/").content.decode().split(f'id="stage-{stage.pk}"', 1)[1].split("</tr>", 1)[0]
    assert ">found <time" in row
    detail = client.get(f"/stages/{stage.pk}/").content.decode()
    assert "<dt>Found</dt>" in detail
    assert "IVS does not say when it was created" in detail
    assert "<dt>Created</dt>" not in detail


def test_times_say_utc_and_just_now_and_parameters_read_as_facts(viewer):
    stage = StageFactory()
    participant = ParticipantFactory(session__stage=stage, first_join_at=timezone.now())
    Stage.objects.filter(pk=stage.pk).update(active_session_id=participant.session.session_id)
    operation = OperationFactory(
        kind="stages.create", resource=stage, status=Operation.Status.SUCCEEDED,
        parameters={"stage_id": stage.pk, "name": "x", "tags": {"team": "rtc"},
                    "tokens": [{"userId": "host", "capabilities": ["PUBLISH"], "duration": 60}]},
    )  # fmt: skip
    client = login(viewer)
    detail = client.get(f"/stages/{stage.pk}/").content.decode()
    assert "0 minutes" not in detail
    assert ">just now</time>" in detail
    assert re.search(r">\d\d:\d\d:\d\d UTC</time>", detail)  # a participant's first join
    page = client.get(f"/operations/{operation.pk}/").content.decode()
    assert "{'" not in page
    assert "<dt>Tags</dt><dd><div>team: rtc</div></dd>" in page
    tokens = page.split("<dt>Tokens</dt><dd><div>", 1)[1].split("</div>", 1)[0]
    assert sorted(tokens.split(" · ")) == ["capabilities: PUBLISH", "duration: 60", "userId: host"]
    assert re.search(r"<dt>Requested</dt><dd><time [^>]+>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>", page)


def test_long_identifiers_are_shortened_with_the_whole_value_on_hover_and_copy(viewer):
    arn = "arn:aws:ivs:us-east-1:123456789012:stage/abcdefghijkl"
    OperationFactory(kind="stages.rename", target=arn)
    page = login(viewer).get("/operations/").content.decode()
    cell = page.split('<span class="identifier mono"', 1)[1].split("</span></span>", 1)[0]
    assert f'title="{arn}"' in cell
    assert f'data-copy-text="{arn}"' in cell
    shown = cell.split('class="identifier-text">', 1)[1].split("<", 1)[0]
    assert shown == "arn:aws:i…stage/abcdefghijkl"  # 28 characters: the start, and the distinctive end
