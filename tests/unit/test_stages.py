"""Stages through the portal's views and services, against the sandbox (tasks run eagerly here)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.core.models import AuditEntry, OneTimeSecret, Operation
from portal.core.services import operation_execute
from portal.stages.models import Participant, ParticipantToken, Stage
from portal.stages.operations import MARKER
from portal.stages.refresh import stages_refresh
from tests.conftest import login, sandbox_boto
from tests.factories import ParticipantFactory, ParticipantTokenFactory, StageFactory, StageSessionFactory

pytestmark = pytest.mark.django_db


def _create_form(name: str = "town-hall", **extra: str) -> dict[str, str]:
    data = {
        "name": name,
        "tags-TOTAL_FORMS": "1",
        "tags-INITIAL_FORMS": "0",
        "tags-0-key": "team",
        "tags-0-value": "rtc",
        "tokens-TOTAL_FORMS": "1",
        "tokens-INITIAL_FORMS": "0",
        "tokens-0-user_id": "host",
        "tokens-0-capabilities": ["PUBLISH", "SUBSCRIBE"],
        "tokens-0-duration": "60",
        "tokens-0-attributes": "role=host",
    }
    return {**data, **extra}


@pytest.fixture
def quotas_off(sandbox):
    sandbox.quotas(enabled=False)


@pytest.fixture
def created(admin, aws_endpoint, quotas_off, django_capture_on_commit_callbacks):
    """A stage created through the form, its operation run, and the admin's client."""
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/stages/new/", _create_form())
    operation = Operation.objects.get(kind="stages.create")
    assert (response.status_code, response["Location"]) == (303, f"/operations/{operation.pk}/")
    return {"client": client, "operation": operation, "stage": Stage.objects.get()}


def test_create_stage_end_to_end(created, sandbox):
    stage, operation = created["stage"], created["operation"]
    assert stage.status == Stage.Status.ACTIVE
    assert stage.arn.startswith("arn:aws:ivs:us-east-1:123456789012:stage/")
    assert stage.tags == {"team": "rtc"}
    aws = sandbox_boto(sandbox.endpoint, "ivs-realtime").get_stage(arn=stage.arn)["stage"]
    assert aws["name"] == "town-hall"
    assert aws["tags"] == {"team": "rtc"}  # the creation marker was removed once the creation was recorded
    cleanup = Operation.objects.get(kind="stages.untag")
    assert (cleanup.actor_name, cleanup.status, cleanup.parameters["keys"]) == ("scheduler", "succeeded", [MARKER])
    token = ParticipantToken.objects.get()
    assert (token.user_id, token.capabilities, token.duration_minutes, token.attributes) == (
        "host", ["PUBLISH", "SUBSCRIBE"], 60, {"role": "host"},
    )  # fmt: skip
    assert token.issued_by == operation.actor


def test_a_token_is_shown_once_and_never_stored_in_clear(created, sandbox, make_user):
    from portal.core.roles import Role

    operation = created["operation"]
    secret = OneTimeSecret.objects.get()
    assert secret.owner == operation.actor
    secret_prefix = b"eyJhbGciOiJLTVMi"
    assert secret_prefix not in bytes(secret.ciphertext)
    assert "token" not in str(operation.result).replace("tokens", "")
    assert not AuditEntry.objects.filter(detail__contains="eyJ").exists()

    other_admin = login(make_user("other-admin", Role.ADMIN))
    assert other_admin.post(f"/operations/{operation.pk}/secrets/").status_code == 403

    first = created["client"].post(f"/operations/{operation.pk}/secrets/").content.decode()
    assert "eyJhbGciOiJLTVMi" in first
    revealed = first.split('readonly rows="3"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert sandbox.stage_join(revealed)["stageArn"] == created["stage"].arn
    second = created["client"].post(f"/operations/{operation.pk}/secrets/").content.decode()
    assert "eyJ" not in second
    assert "already shown" in second
    assert not OneTimeSecret.objects.exists()


def test_form_errors_keep_the_input_and_queue_nothing(admin, aws_endpoint):
    client = login(admin)
    response = client.post("/stages/new/", _create_form(name="bad name", **{"tags-0-key": "aws:x"}))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'value="bad name"' in page
    assert 'value="aws:x"' in page
    assert "role=host" in page
    assert "Use only letters, digits, hyphens and underscores." in page
    assert "reserved by AWS" in page
    assert not Operation.objects.exists()
    assert not Stage.objects.exists()


def test_a_retried_creation_does_not_make_a_second_stage(
    admin, aws_endpoint, sandbox, quotas_off, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        login(admin).post("/stages/new/", _create_form())
    operation = Operation.objects.get(kind="stages.create")
    with django_capture_on_commit_callbacks(execute=False):  # the first attempt creates the stage...
        operation_execute(operation_id=operation.pk)
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    (made,) = ivs.list_stages()["stages"]
    assert made["tags"][MARKER] == str(operation.idempotency_token)
    Operation.objects.filter(pk=operation.pk).update(status=Operation.Status.QUEUED)  # ...but its outcome is lost
    with django_capture_on_commit_callbacks(execute=True):
        operation_execute(operation_id=operation.pk)
    assert [s["arn"] for s in ivs.list_stages()["stages"]] == [made["arn"]]
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == (Operation.Status.SUCCEEDED, 2)
    assert Stage.objects.get().arn == made["arn"]


def test_a_stage_with_forty_nine_tags_keeps_the_markers_slot(
    admin, aws_endpoint, sandbox, quotas_off, django_capture_on_commit_callbacks
):
    tags = {"tags-TOTAL_FORMS": "49"} | {f"tags-{n}-key": f"k{n}" for n in range(49)}
    tags |= {f"tags-{n}-value": "v" for n in range(49)}
    with django_capture_on_commit_callbacks(execute=True):
        response = login(admin).post("/stages/new/", _create_form(**tags))
    assert response.status_code == 303
    stage = Stage.objects.get()
    assert len(stage.tags) == 49
    assert sandbox_boto(sandbox.endpoint, "ivs-realtime").get_stage(arn=stage.arn)["stage"]["tags"] == stage.tags
    assert Operation.objects.get(kind="stages.untag").status == Operation.Status.SUCCEEDED


def test_a_fiftieth_tag_is_refused_before_anything_is_queued(admin, aws_endpoint):
    tags = {"tags-TOTAL_FORMS": "50"} | {f"tags-{n}-key": f"k{n}" for n in range(50)}
    tags |= {f"tags-{n}-value": "v" for n in range(50)}
    response = login(admin).post("/stages/new/", _create_form(**tags))
    assert response.status_code == 400
    assert "at most 49 tags here: IVS allows 50, and the portal keeps one for itself" in response.content.decode()
    assert not Operation.objects.exists()


def test_aws_refusal_is_recorded_and_shown(
    admin, aws_endpoint, quotas_off, monkeypatch, django_capture_on_commit_callbacks
):
    from rtc_sandbox import stages as sandbox_stages

    monkeypatch.setattr(sandbox_stages, "MAX_STAGES_PER_REGION", 0)
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/stages/new/", _create_form())
    operation = Operation.objects.get()
    assert operation.status == Operation.Status.FAILED
    assert operation.error_code == "ServiceQuotaExceededException"
    assert Stage.objects.get().status == Stage.Status.FAILED
    page = client.get(f"/operations/{operation.pk}/").content.decode()
    assert "ServiceQuotaExceededException" in page
    assert "Limit of 0 stages per region reached." in page


def _join_and_refresh(created, sandbox) -> Participant:
    token = created["client"].post(f"/operations/{created['operation'].pk}/secrets/").content.decode()
    secret = token.split('readonly rows="3"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    sandbox.stage_join(secret, publish=True)
    stages_refresh()
    return Participant.objects.get()


def test_the_refresh_brings_sessions_participants_and_events(created, sandbox):
    participant = _join_and_refresh(created, sandbox)
    stage = Stage.objects.get()
    assert stage.active_session_id == participant.session.session_id
    assert stage.connected_count == 1
    assert stage.active_session_since is not None
    assert (participant.user_id, participant.state, participant.published) == ("host", "CONNECTED", True)
    assert [e.name for e in participant.events.all()] == ["JOINED", "PUBLISH_STARTED"]
    page = created["client"].get(f"/stages/{stage.pk}/").content.decode()
    assert f'id="participant-{participant.pk}" data-state="CONNECTED"' in page
    sandbox.stage_leave(stage.arn, participant.participant_id)
    stages_refresh()
    participant.refresh_from_db()
    assert participant.state == "DISCONNECTED"
    assert Stage.objects.get().connected_count == 0


def test_support_disconnects_a_participant(created, sandbox, support, django_capture_on_commit_callbacks):
    participant = _join_and_refresh(created, sandbox)
    stage = Stage.objects.get()
    client = login(support)
    form = client.get(f"/stages/{stage.pk}/participants/{participant.pk}/disconnect/", headers={"HX-Request": "true"})
    wording = form.content.decode()
    assert "revokes the token they joined with: that token can never join this stage again" in wording
    assert 'its record under "Tokens issued here" is marked revoked' in wording
    assert 'type="checkbox"' not in wording  # IVS always revokes: there is nothing to choose
    missing_reason = client.post(
        f"/stages/{stage.pk}/participants/{participant.pk}/disconnect/", {"reason": ""}, headers={"HX-Request": "true"}
    )
    assert missing_reason.status_code == 400
    assert missing_reason["HX-Retarget"] == "#dialog"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/stages/{stage.pk}/participants/{participant.pk}/disconnect/",
            {"reason": "abusive chat"},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 303
    assert response["Location"] == f"/stages/{stage.pk}/?panel=row&participant={participant.pk}&close_dialog=1"
    participant.refresh_from_db()
    assert participant.state == "DISCONNECTED"
    aws = sandbox_boto(sandbox.endpoint, "ivs-realtime").get_participant(
        stageArn=stage.arn, sessionId=participant.session.session_id, participantId=participant.participant_id
    )
    assert aws["participant"]["state"] == "DISCONNECTED"
    token = ParticipantToken.objects.get()
    assert token.revoked_at is not None
    assert token.revoked_by == support
    entry = AuditEntry.objects.get(kind="stages.disconnect_participant", event="succeeded")
    assert (entry.actor_name, entry.reason) == ("sam", "abusive chat")
    assert participant.participant_id in entry.target
    assert entry.summary == (
        f"Disconnect participant host ({participant.participant_id}) from town-hall, token revoked"
    )
    assert entry.resource_name == "town-hall"


def test_roles_on_stage_actions(created, support, viewer):
    stage = created["stage"]
    for user, path in (
        (support, "/stages/new/"),
        (support, f"/stages/{stage.pk}/delete/"),
        (support, f"/stages/{stage.pk}/rename/"),
        (viewer, "/stages/sync/"),
    ):
        assert login(user).post(path, {"name": "x", "confirm": stage.name}).status_code == 403
    assert login(viewer).get(f"/stages/{stage.pk}/").status_code == 200
    page = login(viewer).get(f"/stages/{stage.pk}/").content.decode()
    assert "Delete stage" not in page
    assert "Rename" not in page


def test_rename_and_tags(created, sandbox, django_capture_on_commit_callbacks):
    client, stage = created["client"], created["stage"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/stages/{stage.pk}/rename/", {"name": "renamed"}, headers={"HX-Request": "true"})
        client.post(f"/stages/{stage.pk}/tags/add/", {"key": "env", "value": "prod"}, headers={"HX-Request": "true"})
        client.post(f"/stages/{stage.pk}/tags/remove/", {"key": "team"}, headers={"HX-Request": "true"})
    stage.refresh_from_db()
    assert stage.name == "renamed"
    assert stage.tags == {"env": "prod"}
    aws = sandbox_boto(sandbox.endpoint, "ivs-realtime").get_stage(arn=stage.arn)["stage"]
    assert aws["name"] == "renamed"
    assert aws["tags"] == {"env": "prod"}
    bad = client.post(f"/stages/{stage.pk}/tags/add/", {"key": "aws:x"}, headers={"HX-Request": "true"})
    assert bad.status_code == 400
    assert "reserved by AWS" in bad.content.decode()


def test_delete_keeps_the_row_and_disconnects_everyone(created, sandbox, django_capture_on_commit_callbacks):
    participant = _join_and_refresh(created, sandbox)
    client, stage = created["client"], Stage.objects.get()
    wrong = client.post(f"/stages/{stage.pk}/delete/", {"confirm": "nope"})
    assert wrong.status_code == 400
    assert "Type 'town-hall' exactly" in wrong.content.decode().replace("&#x27;", "'")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/stages/{stage.pk}/delete/", {"confirm": "town-hall"})
    stage.refresh_from_db()
    assert stage.status == Stage.Status.DELETED
    assert stage.deleted_at is not None
    participant.refresh_from_db()
    assert participant.state == "DISCONNECTED"
    assert sandbox_boto(sandbox.endpoint, "ivs-realtime").list_stages()["stages"] == []


def test_sync_finds_new_stages_and_marks_gone_ones(created, sandbox, support, django_capture_on_commit_callbacks):
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    outside = ivs.create_stage(name="made-elsewhere", tags={"owner": "cli"})["stage"]
    ivs.delete_stage(arn=created["stage"].arn)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(support).post("/stages/sync/", headers={"HX-Request": "true"})
    assert response.status_code == 303
    found = Stage.objects.get(arn=outside["arn"])
    assert (found.origin, found.status, found.name, found.tags) == (
        "found",
        "active",
        "made-elsewhere",
        {"owner": "cli"},
    )
    assert Stage.objects.get(pk=created["stage"].pk).status == Stage.Status.GONE
    operation = Operation.objects.get(kind="stages.sync")
    assert (operation.result["found"], operation.result["gone"]) == (1, 1)


def _stages(count: int) -> None:
    Stage.objects.bulk_create(
        StageFactory.build(
            name=f"stage-{n}",
            tags={"team": "a" if n % 2 else "b"},
            active_session_id=f"st-{n:013d}" if n % 3 == 0 else "",
        )
        for n in range(count)
    )


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_stage_list_queries_do_not_grow_with_rows(viewer):
    client = login(viewer)
    _stages(3)
    few = _queries(client, "/stages/")
    Stage.objects.all().delete()
    _stages(300)
    assert _queries(client, "/stages/") == few


def test_stage_list_filters_and_pages(viewer):
    _stages(120)
    client = login(viewer)
    page = client.get("/stages/").content.decode()
    assert "Page 1 of 3 (120 in all)" in page
    assert "stage-7<" in client.get("/stages/", {"q": "stage-7"}).content.decode()
    tagged = client.get("/stages/", {"tag": "team=a", "q": "stage-1"}).content.decode()
    assert "stage-11<" in tagged
    assert "stage-10<" not in tagged
    live = client.get("/stages/", {"live": "on", "q": "stage-1"}).content.decode()
    assert "stage-12<" in live
    assert "stage-11<" not in live
    assert "No stage matches these filters." in client.get("/stages/", {"q": "zzz"}).content.decode()
    partial = client.get("/stages/", headers={"HX-Request": "true"})
    assert partial.content.lstrip().startswith(b'<div id="stage-table"')
    assert "HX-Request" in partial["Vary"]


def test_empty_stage_list_says_what_to_do(admin):
    page = login(admin).get("/stages/").content.decode()
    assert "The portal knows no stages yet." in page
    assert "Create one" in page
    assert "Sync from AWS" in page


def test_stage_detail_queries_do_not_grow_with_participants(created, viewer):
    stage = created["stage"]
    session = StageSessionFactory(stage=stage)
    Stage.objects.filter(pk=stage.pk).update(active_session_id=session.session_id)
    client = login(viewer)

    def participants(count: int) -> None:
        Participant.objects.filter(session=session).delete()
        ParticipantFactory.create_batch(count, session=session)

    participants(2)
    few = _queries(client, f"/stages/{stage.pk}/")
    participants(200)
    assert _queries(client, f"/stages/{stage.pk}/") == few
    panel = client.get(f"/stages/{stage.pk}/?panel=participants", headers={"HX-Request": "true"})
    assert panel.content.lstrip().startswith(b'<div id="participants"')
    assert b'hx-trigger="every 2s, resource-changed"' in panel.content


def test_a_disconnecting_row_polls_itself_until_it_settles(
    created, sandbox, support, django_capture_on_commit_callbacks
):
    participant = _join_and_refresh(created, sandbox)
    stage = Stage.objects.get()
    client = login(support)
    with django_capture_on_commit_callbacks(execute=False):
        answer = client.post(
            f"/stages/{stage.pk}/participants/{participant.pk}/disconnect/",
            {"reason": "testing"},
            headers={"HX-Request": "true"},
        )
    row = client.get(answer["Location"], headers={"HX-Request": "true"}).content.decode()
    assert 'data-state="disconnecting"' in row
    assert 'hx-trigger="every 500ms"' in row
    assert 'id="dialog"' in row
    assert 'hx-swap-oob="true"' in row
    path = f"/stages/{stage.pk}/?panel=row&participant={participant.pk}"
    assert client.get(path, headers={"HX-Request": "true"}).status_code == 200
    operation = Operation.objects.get(kind="stages.disconnect_participant")
    operation_execute(operation_id=operation.pk)
    settled = client.get(path, headers={"HX-Request": "true"})
    assert settled.status_code == 286
    assert 'data-state="DISCONNECTED"' in settled.content.decode()


def test_the_refresh_reads_attributes_and_sessions_it_never_saw_live(created, sandbox):
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    stage = created["stage"]
    token = ivs.create_participant_token(stageArn=stage.arn, userId="guest", attributes={"seat": "12"})
    joined = sandbox.stage_join(token["participantToken"]["token"])
    sandbox.stage_leave(stage.arn, joined["participantId"])
    sandbox.advance(400)  # the session ends while the portal is not looking
    stages_refresh()
    participant = Participant.objects.get(participant_id=joined["participantId"])
    assert participant.attributes == {"seat": "12"}
    assert participant.state == "DISCONNECTED"
    assert participant.session.ended_at is not None
    assert Stage.objects.get().active_session_id == ""


def test_creating_a_stage_leads_to_its_operations_progress(created):
    operation = created["operation"]
    page = created["client"].get(f"/operations/{operation.pk}/").content.decode()
    assert "<h1>Create stage" in page
    assert f'href="/stages/{created["stage"].pk}/">Open town-hall</a>' in page
    assert "Show the participant token once" in page


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (Stage.Status.GONE, "This stage no longer exists in AWS"),
        (Stage.Status.DELETED, "This stage was deleted; it cannot be changed."),
        (Stage.Status.CREATING, "This stage is still being created"),
    ],
)
def test_changing_a_stage_that_is_not_active_is_refused_next_to_the_action(admin, status, message):
    stage = StageFactory(status=status)
    client = login(admin)
    refused = client.post(f"/stages/{stage.pk}/rename/", {"name": "new-name"}, headers={"HX-Request": "true"})
    assert refused.status_code == 409
    fragment = refused.content.decode()
    assert fragment.lstrip().startswith('<div class="refusal error" role="alert" data-refusal="not-allowed-in-state">')
    assert message in fragment
    offers_sync = 'hx-post="/stages/sync/" hx-target="closest .refusal"' in fragment
    assert offers_sync is (status == Stage.Status.GONE)
    assert ('<button type="submit">Sync from AWS</button>' in fragment) is offers_sync
    page = client.get(f"/stages/{stage.pk}/delete/", headers={"Referer": f"http://testserver/stages/{stage.pk}/"})
    assert page.status_code == 409
    assert message in page.content.decode()
    assert f'href="http://testserver/stages/{stage.pk}/">Go back</a>' in page.content.decode()
    elsewhere = client.get(f"/stages/{stage.pk}/delete/", headers={"Referer": "https://elsewhere.example/"})
    assert 'href="https://elsewhere.example/"' not in elsewhere.content.decode()
    assert ">Back to the overview</a>" in elsewhere.content.decode()
    assert client.post(f"/stages/{stage.pk}/tags/add/", {"key": "a"}).status_code == 409
    assert client.get(f"/stages/{stage.pk}/tokens/").status_code == 409
    assert not Operation.objects.exists()


def test_a_fiftieth_tag_is_a_conflict_shown_by_the_tag_field(admin):
    stage = StageFactory(tags={f"k{n}": "v" for n in range(49)})
    client = login(admin)
    refused = client.post(f"/stages/{stage.pk}/tags/add/", {"key": "k49", "value": "v"}, headers={"HX-Request": "true"})
    assert refused.status_code == 409
    assert 'data-refusal="conflict"' in refused.content.decode()
    assert "This stage already has 49 tags; the portal can add up to 49" in refused.content.decode()
    assert not Operation.objects.exists()
    detail = client.get(f"/stages/{stage.pk}/").content.decode()
    assert f'hx-post="/stages/{stage.pk}/tags/add/"' not in detail  # the page says so instead of offering Add tag
    assert "This stage has 49 tags, the most the portal can add" in detail
    changed = client.post(f"/stages/{stage.pk}/tags/add/", {"key": "k1", "value": "w"}, headers={"HX-Request": "true"})
    assert changed.status_code == 303  # a new value for a key it has is not one more tag
    assert Operation.objects.get().kind == "stages.tag"


def test_support_may_sync_and_a_viewer_may_not(support, viewer):
    assert 'id="sync"' in login(support).get("/stages/").content.decode()
    assert 'id="sync"' not in login(viewer).get("/stages/").content.decode()
    assert login(viewer).post("/stages/sync/").status_code == 403


def test_the_detail_page_says_which_participants_hold_a_token_issued_here(viewer):
    holder = ParticipantFactory()
    stage = holder.session.stage
    Stage.objects.filter(pk=stage.pk).update(active_session_id=holder.session.session_id)
    ParticipantTokenFactory(stage=stage, participant_id=holder.participant_id, user_id=holder.user_id)
    stranger = ParticipantFactory(session=holder.session)
    page = login(viewer).get(f"/stages/{stage.pk}/").content.decode()

    def row(participant: Participant) -> str:
        return page.split(f'id="participant-{participant.pk}"', 1)[1].split("</tr>", 1)[0]

    assert "<td>issued here</td>" in row(holder)
    assert "<td>—</td>" in row(stranger)
    assert "<td>PUBLISH, SUBSCRIBE</td>" in page.split("Tokens issued here", 1)[1]


def test_the_participants_panel_stops_polling_once_its_session_ended(viewer):
    session = StageSessionFactory(ended_at=timezone.now())
    client = login(viewer)
    path = f"/stages/{session.stage.pk}/?panel=participants&session={session.session_id}"
    panel = client.get(path, headers={"HX-Request": "true"})
    assert panel.status_code == 286
    assert b'hx-trigger="resource-changed"' in panel.content  # still, it refreshes when an operation on it ends
    waiting = client.get(f"/stages/{StageFactory().pk}/?panel=participants", headers={"HX-Request": "true"})
    assert waiting.status_code == 200  # an active stage with no session yet waits for the first one
    assert b'hx-trigger="every 2s, resource-changed"' in waiting.content
