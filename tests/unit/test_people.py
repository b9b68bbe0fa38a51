"""Find a person everywhere, and disconnect and revoke them everywhere in one action (sandbox, eager tasks)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.core.identities import REASON_MAX_LENGTH, identity_end_everywhere, identity_sources
from portal.core.models import AuditEntry, Operation, OperationBatch
from portal.stages import identities as stage_identities
from portal.stages.models import Participant, ParticipantToken, Stage
from portal.stages.refresh import stages_refresh
from rtc_sandbox.client import SandboxControlError
from tests.conftest import login, sandbox_boto
from tests.factories import (
    OperationFactory,
    ParticipantFactory,
    ParticipantTokenFactory,
    StageFactory,
    StageSessionFactory,
)

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def _token_row(stage: Stage, token: dict, actor) -> ParticipantToken:
    return ParticipantTokenFactory(
        stage=stage, participant_id=token["participantId"], user_id=token["userId"], issued_by=actor
    )


@pytest.fixture
def alice_everywhere(aws_endpoint, sandbox, admin):
    """alice is connected on two stages (one token issued here, one issued outside the portal) and holds an unused
    token issued here on a third; bob is connected beside her."""
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    made = {}
    for name, users in (("town-hall", ["alice", "bob"]), ("backstage", ["alice"]), ("outside", ["alice"])):
        created = ivs.create_stage(name=name, participantTokenConfigurations=[{"userId": u} for u in users])
        stage = Stage.objects.create(
            arn=created["stage"]["arn"], name=name, region="us-east-1", status=Stage.Status.ACTIVE
        )
        made[name] = {"stage": stage, "tokens": {t["userId"]: t for t in created["participantTokens"]}}
    for name in ("town-hall", "backstage"):
        for token in made[name]["tokens"].values():
            _token_row(made[name]["stage"], token, admin)
    for name, user in (("town-hall", "alice"), ("town-hall", "bob"), ("outside", "alice")):
        sandbox.stage_join(made[name]["tokens"][user]["token"], publish=True)
    stages_refresh()
    assert Participant.objects.filter(state="CONNECTED").count() == 3
    return made


def test_stages_declare_where_an_identity_can_be_found():
    assert [source.name for source in identity_sources()] == ["meetings", "stages"]
    assert stage_identities.STAGES.label == "Stages"


def test_support_sees_every_stage_where_the_user_id_is(alice_everywhere, support):
    page = login(support).get("/people/", {"user_id": "alice"}).content.decode()
    assert "3 places for" in page
    town_hall, backstage = alice_everywhere["town-hall"], alice_everywhere["backstage"]
    for name in ("town-hall", "backstage", "outside"):
        assert f'href="/stages/{alice_everywhere[name]["stage"].pk}/' in page
    connected = f'data-reference="{town_hall["stage"].pk}/{town_hall["tokens"]["alice"]["participantId"]}" '
    assert connected + 'data-connected="true"' in page
    unused = f'data-reference="{backstage["stage"].pk}/{backstage["tokens"]["alice"]["participantId"]}" '
    assert unused + 'data-connected="false"' in page
    assert town_hall["tokens"]["bob"]["participantId"] not in page
    assert "Disconnect and revoke in all 3 places" in page
    assert (
        login(support)
        .get("/people/", {"user_id": "alice"}, headers=HTMX)
        .content.lstrip()
        .startswith(b'<div id="results">')
    )


def test_expired_revoked_and_departed_are_not_places(support):
    stage = StageFactory()
    ParticipantTokenFactory(stage=stage, user_id="alice", expires_at=timezone.now() - timedelta(minutes=1))
    ParticipantTokenFactory(stage=stage, user_id="alice", revoked_at=timezone.now())
    ParticipantTokenFactory(stage=StageFactory(status=Stage.Status.DELETED), user_id="alice")
    ParticipantFactory(session__stage=stage, user_id="alice", state=Participant.State.DISCONNECTED)
    ParticipantFactory(session=StageSessionFactory(stage=stage, ended_at=timezone.now()), user_id="alice")
    ParticipantFactory(session__stage=stage, user_id="Alice")  # user ids are exact
    page = login(support).get("/people/", {"user_id": "alice"}).content.decode()
    assert "Nowhere for" in page
    assert 'id="end-form"' not in page
    assert "no unexpired token issued here" in page


def test_finding_a_person_costs_the_same_queries_with_many_places(support):
    client = login(support)
    client.get("/people/", {"user_id": "alice"})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/people/", {"user_id": "alice"}).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(20):
        stage = StageFactory()
        ParticipantFactory(session__stage=stage, user_id="alice")
        ParticipantTokenFactory(stage=stage, user_id="alice")
    assert queries() == few


def test_only_support_and_admin_may_find_or_end(alice_everywhere, viewer, admin):
    client = login(viewer)
    assert client.get("/people/", {"user_id": "alice"}).status_code == 403
    assert client.post("/people/end/", {"user_id": "alice", "reason": "spam"}).status_code == 403
    assert ">People</a>" not in client.get("/").content.decode()
    assert login(admin).get("/people/", {"user_id": "alice"}).status_code == 200
    assert not Operation.objects.filter(kind="stages.disconnect_participant").exists()


def test_one_action_disconnects_and_revokes_everywhere(
    alice_everywhere, support, sandbox, django_capture_on_commit_callbacks
):
    client = login(support)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/people/end/", {"user_id": "alice", "reason": "harassing other participants"})
    batch = OperationBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/operations/batches/{batch.pk}/"

    operations = list(batch.operations.order_by("pk"))
    assert len(operations) == 3
    assert {o.kind for o in operations} == {"stages.disconnect_participant"}
    assert all(o.status == Operation.Status.SUCCEEDED for o in operations), [o.error_message for o in operations]
    assert {o.reason for o in operations} == {"harassing other participants"}
    assert (batch.actor, batch.reason) == (support, "harassing other participants")

    in_aws = {(p["stageArn"], p["userId"]): p["state"] for p in sandbox.state()["state"]["ivs.participants"].values()}
    stages = {name: alice_everywhere[name]["stage"] for name in alice_everywhere}
    assert in_aws[(stages["town-hall"].arn, "alice")] == "DISCONNECTED"
    assert in_aws[(stages["outside"].arn, "alice")] == "DISCONNECTED"
    assert in_aws[(stages["town-hall"].arn, "bob")] == "CONNECTED"
    for name in ("town-hall", "backstage", "outside"):
        with pytest.raises(SandboxControlError) as refused:
            sandbox.stage_join(alice_everywhere[name]["tokens"]["alice"]["token"])
        assert refused.value.code == "TokenRevoked"

    assert ParticipantToken.objects.filter(user_id="alice", revoked_at__isnull=True).count() == 0
    assert set(ParticipantToken.objects.filter(user_id="alice").values_list("revoked_by", flat=True)) == {support.pk}
    assert ParticipantToken.objects.get(user_id="bob").revoked_at is None
    assert set(Participant.objects.filter(user_id="alice").values_list("state", flat=True)) == {"DISCONNECTED"}
    assert Participant.objects.get(user_id="bob").state == "CONNECTED"

    audited = AuditEntry.objects.filter(operation__in=operations)
    assert audited.filter(event="requested", actor_name=support.get_username()).count() == 3
    assert audited.filter(event="succeeded").count() == 3
    assert set(audited.values_list("reason", flat=True)) == {"harassing other participants"}

    page = client.get(f"/operations/batches/{batch.pk}/").content.decode()
    assert "Disconnect and revoke alice everywhere" in page
    assert "3 of 3 done" in page
    town_hall = alice_everywhere["town-hall"]["tokens"]["alice"]["participantId"]
    assert f"Disconnect participant alice ({town_hall}) from town-hall, token revoked" in page
    outside = alice_everywhere["outside"]["tokens"]["alice"]["participantId"]
    assert f"Disconnect participant alice ({outside}) from outside, token not revoked" in page  # none issued here
    assert 'data-done="true"' in page
    assert client.get(f"/operations/batches/{batch.pk}/", headers=HTMX).status_code == 286
    assert "Nowhere for" in client.get("/people/", {"user_id": "alice"}).content.decode()


def test_the_operations_are_requested_together_or_not_at_all(alice_everywhere, support, monkeypatch):
    calls = []
    real = stage_identities.stage_disconnect_participant_id

    def fail_on_the_third(**kwargs):
        calls.append(kwargs["participant_id"])
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr(stage_identities, "stage_disconnect_participant_id", fail_on_the_third)
    with pytest.raises(RuntimeError):
        identity_end_everywhere(actor=support, user_id="alice", reason="spam")
    assert len(calls) == 3
    assert not Operation.objects.exists()
    assert not OperationBatch.objects.exists()
    assert not AuditEntry.objects.exists()
    assert not Participant.objects.filter(disconnect_operation__isnull=False).exists()


def test_nothing_to_end_is_refused_next_to_the_action(support):
    client = login(support)
    response = client.post("/people/end/", {"user_id": "nobody", "reason": "spam"}, headers=HTMX)
    assert response.status_code == 409
    assert "&#x27;nobody&#x27; is not connected anywhere and holds no unexpired token" in response.content.decode()
    assert not OperationBatch.objects.exists()


def test_a_reason_is_required(alice_everywhere, support):
    response = login(support).post("/people/end/", {"user_id": "alice", "reason": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert "3 places for" in response.content.decode()
    assert not Operation.objects.exists()


def test_a_refused_reason_re_renders_only_the_form_in_its_place(alice_everywhere, support):
    """With htmx, a reason one character too long answers the form alone, swapped over itself: one reason field
    with the text as typed and its error, one button, and not the results a second time inside the form."""
    reason = "x" * (REASON_MAX_LENGTH + 1)
    response = login(support).post("/people/end/", {"user_id": "alice", "reason": reason}, headers=HTMX)
    assert response.status_code == 400
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#end-form", "outerHTML")
    page = response.content.decode()
    assert page.count('id="id_reason"') == 1
    assert page.count('id="end-form"') == 1
    assert page.count('type="submit"') == 1
    assert f'value="{reason}"' in page
    assert f"at most {REASON_MAX_LENGTH} characters" in page
    assert "places for" not in page
    assert 'id="results"' not in page
    assert not Operation.objects.exists()


def test_a_presence_already_being_disconnected_is_not_asked_twice(support):
    stage = StageFactory()
    busy = ParticipantFactory(session__stage=stage, user_id="alice")
    ParticipantFactory(session__stage=StageFactory(), user_id="alice")
    Participant.objects.filter(pk=busy.pk).update(disconnect_operation=OperationFactory(kind="stages.rename"))
    page = login(support).get("/people/", {"user_id": "alice"}).content.decode()
    assert "disconnecting…" in page
    assert "Disconnect and revoke in the one place" in page


def test_the_batch_page_polls_until_every_operation_ends(support, viewer):
    operations = [OperationFactory(kind="stages.disconnect_participant") for _ in range(3)]
    batch = OperationBatch.objects.create(label="Disconnect and revoke alice everywhere", actor_name="sam")
    batch.operations.set(operations)
    client = login(viewer)
    page = client.get(f"/operations/batches/{batch.pk}/").content.decode()
    assert f'hx-get="/operations/batches/{batch.pk}/" hx-trigger="every 1s"' in page
    assert "0 of 3 done" in page
    Operation.objects.filter(pk=operations[0].pk).update(status="succeeded")
    Operation.objects.filter(pk=operations[1].pk).update(status="failed", error_code="ResourceNotFoundException")
    partial = client.get(f"/operations/batches/{batch.pk}/", headers=HTMX)
    assert partial.status_code == 200
    assert "2 of 3 done" in partial.content.decode()
    assert "ResourceNotFoundException" in partial.content.decode()
    assert "HX-Request" in partial["Vary"]
    Operation.objects.filter(pk=operations[2].pk).update(status="succeeded")
    assert client.get(f"/operations/batches/{batch.pk}/", headers=HTMX).status_code == 286

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(f"/operations/batches/{batch.pk}/")
        return len(captured)

    few = queries()
    batch.operations.add(*[OperationFactory(kind="stages.disconnect_participant") for _ in range(30)])
    assert queries() == few
