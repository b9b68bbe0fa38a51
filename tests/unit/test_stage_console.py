"""What the IVS console offers, on the stage pages: endpoints, participant filters read through ListParticipants,
sessions beyond the first 50, several stages deleted at once, and what GetParticipant says about each client."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from portal.core.models import AuditEntry, Operation, OperationBatch
from portal.stages.models import Participant, Stage
from portal.stages.refresh import stages_refresh
from tests.conftest import login, sandbox_boto
from tests.factories import ParticipantFactory, StageFactory, StageSessionFactory

pytestmark = pytest.mark.django_db
STORAGE = "arn:aws:ivs:us-east-1:123456789012:storage-configuration/AbCdEfGh1234"
FIREFOX = {"browserName": "Firefox", "browserVersion": "128", "osName": "macOS", "osVersion": "14.5",
           "sdkVersion": "1.27.0", "ispName": "Example Telecom", "protocol": "WHIP"}  # fmt: skip


@pytest.fixture
def ivs(aws_endpoint, sandbox):
    sandbox.quotas(enabled=False)
    cache.clear()  # no watch left by another test
    return sandbox_boto(sandbox.endpoint, "ivs-realtime")


def _stage_in_aws(ivs, name: str, users: list[str], **options) -> tuple[Stage, dict[str, dict]]:
    created = ivs.create_stage(name=name, participantTokenConfigurations=[{"userId": u} for u in users], **options)
    stage = Stage.objects.create(arn=created["stage"]["arn"], name=name, region="us-east-1", status="active")
    return stage, {token["userId"]: token for token in created["participantTokens"]}


# --- endpoints ------------------------------------------------------------------------------------------------------


def test_the_refresh_keeps_the_endpoints_getstage_returns_and_the_page_offers_to_copy_them(ivs, viewer):
    stage, _ = _stage_in_aws(ivs, "endpoints", [])
    client = login(viewer)
    assert "Read from IVS (GetStage) with the next refresh" in client.get(f"/stages/{stage.pk}/").content.decode()
    stages_refresh()
    stage.refresh_from_db()
    assert stage.endpoints == ivs.get_stage(arn=stage.arn)["stage"]["endpoints"]
    page = client.get(f"/stages/{stage.pk}/").content.decode()
    for name, label in (("whip", "WHIP"), ("rtmps", "RTMPS"), ("rtmp", "RTMP"), ("events", "Events")):
        assert f'<dt>{label}</dt>\n    <dd><code id="endpoint-{name}">{stage.endpoints[name]}</code>' in page
        assert f'data-copy="#endpoint-{name}"' in page


def test_an_endpoint_aws_did_not_return_is_not_shown(viewer):
    stage = StageFactory(endpoints={"events": "wss://global.events.live-video.net", "whip": ""})
    page = login(viewer).get(f"/stages/{stage.pk}/").content.decode()
    assert 'id="endpoint-events"' in page
    assert 'id="endpoint-whip"' not in page
    assert 'id="endpoint-rtmp"' not in page


# --- participant filters --------------------------------------------------------------------------------------------


def test_participant_filters_narrow_the_panel(viewer):
    session = StageSessionFactory()
    ParticipantFactory(session=session, user_id="alice", published=True)
    ParticipantFactory(session=session, user_id="bob", state=Participant.State.DISCONNECTED)
    ParticipantFactory(session=session, user_id="carol")
    client = login(viewer)
    url = f"/stages/{session.stage.pk}/"

    def users(**query: str) -> list[str]:
        page = client.get(url, {"session": session.session_id, **query}).content.decode()
        return re.findall(r'data-state="\w+">\s*<td[^>]*>([^<]+)</td>', page)

    assert users() == ["alice", "bob", "carol"]
    assert users(user_id="alice") == ["alice"]
    assert users(state="DISCONNECTED") == ["bob"]
    assert users(published="true") == ["alice"]
    assert users(published="false", state="CONNECTED") == ["carol"]
    assert "No participant of this session matches the filter." in client.get(url, {"user_id": "zed"}).content.decode()


def test_the_refresh_reads_ivs_through_the_filter_of_whoever_watches(ivs, sandbox, viewer, support):
    stage, tokens = _stage_in_aws(ivs, "big-room", ["alice", "bob", "carol"])
    for token in tokens.values():
        sandbox.stage_join(token["token"])
    login(viewer).get(f"/stages/{stage.pk}/", {"user_id": "alice"})  # one viewer, one filter
    stages_refresh()
    assert list(Participant.objects.values_list("user_id", flat=True)) == ["alice"]  # only alice was listed
    stage.refresh_from_db()
    assert stage.refreshed_at is None  # a partial read keeps the stage's turn for a full one

    login(support).get(f"/stages/{stage.pk}/")  # a second viewer wants everyone
    stages_refresh()
    assert sorted(Participant.objects.values_list("user_id", flat=True)) == ["alice", "bob", "carol"]
    stage.refresh_from_db()
    assert (stage.connected_count, stage.refreshed_at is not None) == (3, True)


# --- sessions beyond the first 50 -----------------------------------------------------------------------------------


def test_sessions_page_fifty_at_a_time_and_filter_by_start_date(viewer):
    stage = StageFactory()
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    sessions = [
        StageSessionFactory(
            stage=stage,
            session_id=f"st-{n:03d}",
            started_at=start + timedelta(days=n),
            ended_at=start + timedelta(days=n, hours=1),
        )
        for n in range(60)
    ]
    client = login(viewer)

    def tabs(page: str) -> list[str]:
        tabs = page.split('aria-label="Sessions"', 1)[1].split("</nav>", 1)[0]
        return re.findall(r'<span class="mono">(st-\d{3})</span>', tabs)

    first = client.get(f"/stages/{stage.pk}/").content.decode()
    assert tabs(first) == [f"st-{n:03d}" for n in range(59, 9, -1)]
    assert "Sessions 1\N{EN DASH}50 of 60" in first
    assert "sessions_page=2" in first
    second = client.get(f"/stages/{stage.pk}/", {"sessions_page": 2}).content.decode()
    assert tabs(second) == [f"st-{n:03d}" for n in range(9, -1, -1)]
    assert 'Participants in <span class="mono">st-009</span>' in second  # the page's newest, not the first page's
    dated = client.get(f"/stages/{stage.pk}/", {"started_from": "2026-03-03", "started_to": "2026-03-05"})
    assert tabs(dated.content.decode()) == ["st-004", "st-003", "st-002"]
    one = client.get(f"/stages/{stage.pk}/", {"session": sessions[0].session_id}).content.decode()
    assert 'Participants in <span class="mono">st-000</span>' in one  # a session beyond the first page


# --- several stages deleted at once ---------------------------------------------------------------------------------


def test_admin_deletes_several_stages_with_one_typed_confirmation(
    ivs, sandbox, admin, django_capture_on_commit_callbacks
):
    doomed = [_stage_in_aws(ivs, f"old-{n}", [])[0] for n in range(3)]
    kept, _ = _stage_in_aws(ivs, "keep-me", [])
    gone = StageFactory(status=Stage.Status.GONE)
    client = login(admin)
    chosen = {"stages": [s.pk for s in doomed] + [gone.pk]}
    confirm_page = client.get("/stages/delete/", chosen).content.decode()
    assert "<h1>Delete 3 stages</h1>" in confirm_page
    assert 'Type <span class="mono">delete 3 stages</span> to confirm' in confirm_page
    assert f"{gone.name} — gone from aws" in confirm_page

    wrong = client.post("/stages/delete/", {"stages": [s.pk for s in doomed], "confirm": "delete 2 stages"})
    assert wrong.status_code == 400
    assert "Type &#x27;delete 3 stages&#x27; exactly" in wrong.content.decode()
    assert not Operation.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/stages/delete/", {"stages": [s.pk for s in doomed], "confirm": "delete 3 stages"})
    batch = OperationBatch.objects.get()
    assert done["Location"] == f"/operations/batches/{batch.pk}/"
    assert batch.label == "Delete 3 stages"
    operations = list(batch.operations.all())
    assert sorted(o.resource_id for o in operations) == sorted(s.pk for s in doomed)
    assert {(o.kind, o.status) for o in operations} == {("stages.delete", "succeeded")}
    assert AuditEntry.objects.filter(kind="stages.delete", event="requested").count() == 3
    assert [s["name"] for s in ivs.list_stages()["stages"]] == ["keep-me"]
    assert set(Stage.objects.filter(pk__in=[s.pk for s in doomed]).values_list("status", flat=True)) == {"deleted"}
    assert Stage.objects.get(pk=kept.pk).status == "active"
    assert "3 of 3 done" in client.get(done["Location"]).content.decode()


def test_a_stage_that_changed_since_the_choice_refuses_the_whole_deletion(admin):
    stages = StageFactory.create_batch(2)
    Stage.objects.filter(pk=stages[1].pk).update(status=Stage.Status.DELETING)
    response = login(admin).post("/stages/delete/", {"stages": [s.pk for s in stages], "confirm": "delete 2 stages"})
    assert response.status_code == 400
    assert "can no longer be deleted" in response.content.decode()
    assert not Operation.objects.exists()


@pytest.mark.parametrize("role", ["support", "viewer"])
def test_only_admins_delete_stages(role, request):
    stage = StageFactory()
    client = login(request.getfixturevalue(role))
    assert client.get("/stages/delete/", {"stages": [stage.pk]}).status_code == 403
    assert client.post("/stages/delete/", {"stages": [stage.pk], "confirm": "delete 1 stage"}).status_code == 403
    assert 'name="stages"' not in client.get("/stages/").content.decode()
    assert not Operation.objects.exists()


def test_the_list_offers_a_checkbox_for_each_stage_that_can_be_deleted(admin):
    usable, gone = StageFactory(), StageFactory(status=Stage.Status.GONE)
    page = login(admin).get("/stages/").content.decode()
    assert f'name="stages" value="{usable.pk}" form="bulk-delete"' in page
    assert f'value="{gone.pk}" form="bulk-delete"' not in page
    assert 'data-select-all="bulk-delete"' in page


# --- what GetParticipant says about each client ---------------------------------------------------------------------


def test_the_refresh_keeps_each_participants_client_and_the_row_and_timeline_show_it(ivs, sandbox, viewer):
    stage, tokens = _stage_in_aws(
        ivs,
        "recorded",
        ["host", "guest"],
        autoParticipantRecordingConfiguration={"storageConfigurationArn": STORAGE, "mediaTypes": ["AUDIO_VIDEO"]},
    )
    sandbox.stage_join(tokens["host"]["token"], publish=True, client=FIREFOX)
    sandbox.stage_join(tokens["guest"]["token"])
    stages_refresh()
    host, guest = Participant.objects.get(user_id="host"), Participant.objects.get(user_id="guest")
    assert (host.browser_name, host.browser_version, host.os_name, host.os_version, host.sdk_version,
            host.isp_name, host.protocol, host.recording_state) == (
        "Firefox", "128", "macOS", "14.5", "1.27.0", "Example Telecom", "WHIP", "ACTIVE"
    )  # fmt: skip
    assert (guest.browser_name, guest.protocol, guest.recording_state) == ("Chromium", "UNKNOWN", "DISABLED")

    client = login(viewer)
    row = client.get(f"/stages/{stage.pk}/").content.decode().split(f'id="participant-{host.pk}"', 1)[1]
    row = row.split("</tr>", 1)[0]
    assert "Firefox 128" in row
    assert "macOS 14.5" in row
    assert "SDK 1.27.0 · WHIP" in row
    assert 'data-recording="ACTIVE"' in row
    timeline = client.get(f"/stages/{stage.pk}/participants/{host.pk}/timeline/").content.decode()
    for fact in ("<dt>ISP</dt><dd>Example Telecom</dd>", "<dt>Protocol</dt><dd>WHIP</dd>",
                 "<dt>Recording</dt><dd>active</dd>", "<dt>SDK version</dt><dd>1.27.0</dd>"):  # fmt: skip
        assert fact in timeline

    sandbox.stage_publish(stage.arn, host.participant_id, published=False)
    stages_refresh()
    host.refresh_from_db()
    assert host.recording_state == "STOPPED"
