from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from django_htmx.http import HttpResponseStopPolling

from portal.channels.models import Channel
from portal.core.models import AuditEntry, Operation, OperationBatch
from portal.core.operation_kinds import operation_kinds
from portal.core.roles import Role
from portal.core.sections import sections
from portal.core.services import operation_request
from portal.meetings.models import Meeting
from portal.pstn.models import PhoneCall
from tests.conftest import login
from tests.factories import ChannelFactory, OperationFactory

pytestmark = pytest.mark.django_db


def _queued(actor, **kwargs) -> Operation:
    return operation_request(kind="aws.check_connection", actor=actor, **kwargs)


def test_operations_page_polls_while_work_is_in_flight(admin):
    operation = OperationFactory(actor=admin)
    client = login(admin)

    page = client.get("/operations/")
    assert page.status_code == 200
    assert b'hx-trigger="every 2s, resource-changed" data-follows="*"' in page.content
    assert f'id="operation-{operation.pk}"'.encode() in page.content
    assert b'<td title="aws.check_connection">Check AWS connection</td>' in page.content

    partial = client.get("/operations/", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert partial.content.lstrip().startswith(b'<div id="operation-table"')
    assert b"<html" not in partial.content
    assert "HX-Request" in partial["Vary"]


def test_with_nothing_in_flight_the_first_page_still_watches_for_what_others_ask(admin):
    OperationFactory(actor=admin, status=Operation.Status.FAILED, error_code="Boom")
    client = login(admin)
    partial = client.get("/operations/", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert b'hx-trigger="every 10s, resource-changed"' in partial.content
    assert b"Boom" in partial.content
    OperationFactory.create_batch(60, actor=admin, status=Operation.Status.SUCCEEDED)
    later_page = client.get("/operations/", {"page": 2}, headers={"HX-Request": "true"})
    assert isinstance(later_page, HttpResponseStopPolling)  # a later page stays put while the person reads it
    assert b'hx-trigger="resource-changed"' in later_page.content


def test_the_audit_log_watches_for_new_entries_on_its_first_page(admin, viewer, django_capture_on_commit_callbacks):
    client = login(viewer)
    page = client.get("/audit/").content.decode()
    assert 'id="audit-table" hx-get="/audit/" hx-trigger="every 10s"' in page
    with django_capture_on_commit_callbacks(execute=False):
        _queued(admin, target="arn:stage/asked-meanwhile")
    partial = client.get("/audit/", headers={"HX-Request": "true"})
    assert partial.content.lstrip().startswith(b'<div id="audit-table"')
    assert b"asked-meanwhile" in partial.content
    assert "HX-Request" in partial["Vary"]


def test_operations_filter_by_status_and_kind_and_keep_the_filter_in_the_poll(admin):
    first = OperationFactory(actor=admin, target="first")
    second = OperationFactory(actor=admin, target="second", status=Operation.Status.SUCCEEDED)
    third = OperationFactory(actor=admin, kind="stages.sync", target="third")
    client = login(admin)
    queued = client.get("/operations/", {"status": "queued", "kind": "aws.check_connection"}).content.decode()
    assert f'<tr id="operation-{first.pk}">' in queued
    assert f'<tr id="operation-{second.pk}">' not in queued
    assert f'<tr id="operation-{third.pk}">' not in queued
    assert 'hx-get="/operations/?status=queued&amp;kind=aws.check_connection"' in queued
    assert '<option value="stages.sync">Sync stages from AWS</option>' in queued
    assert re.search(r'<label>Status <select name="status"', queued)
    assert re.search(r'<label>Kind <select name="kind"', queued)


def test_check_connection_queues_an_operation_and_redirects_to_it(client, admin, aws_endpoint):
    client = login(admin)
    response = client.post("/operations/check-connection/", headers={"HX-Request": "true"})
    operation = Operation.objects.get()
    assert (response.status_code, response["Location"]) == (303, f"/operations/{operation.pk}/")
    assert operation.kind == "aws.check_connection"
    assert operation.actor == admin
    page = client.get("/operations/").content.decode()
    assert 'hx-post="/operations/check-connection/" hx-target="#check-progress"' in page


def test_support_cannot_check_the_connection(client, support):
    client = login(support)
    assert client.post("/operations/check-connection/").status_code == 403
    assert not Operation.objects.exists()


def test_operation_detail_shows_the_aws_error_and_stops_polling(admin):
    operation = OperationFactory(
        actor=admin,
        reason="because",
        status=Operation.Status.FAILED,
        error_code="ThrottlingException",
        error_message="Rate exceeded",
        request_id="r-1",
    )
    client = login(admin)
    page = client.get(f"/operations/{operation.pk}/")
    assert b"ThrottlingException" in page.content
    assert b"Rate exceeded" in page.content
    assert b"r-1" in page.content
    assert client.get(f"/operations/{operation.pk}/", headers={"HX-Request": "true"}).status_code == 286
    assert client.get("/operations/999999/").status_code == 404


def test_buttons_follow_the_role(client, admin, viewer):
    assert b">Check AWS connection</button>" in login(admin).get("/operations/").content
    client.logout()
    assert b">Check AWS connection</button>" not in login(viewer).get("/operations/").content


def test_navigation_per_role(admin, support, viewer, make_user):
    root = make_user("root", Role.ADMIN)
    root.is_superuser = True
    root.save()
    for user, sees_users, sees_people in (
        (root, True, True), (admin, True, True), (support, False, True), (viewer, False, False),
    ):  # fmt: skip
        page = login(user).get("/").content.decode()
        for label in ("Meetings", "Stages", "Channels", "Pipelines", "Operations", "Audit"):
            assert f">{label}</a>" in page
        assert (">Users</a>" in page) is sees_users  # the portal's own users page, for those who manage users
        assert (">People</a>" in page) is sees_people


def test_navigation_and_tiles_come_from_the_app_configs(viewer):
    assert [(s.label, s.url_name) for s in sections()] == [
        ("Meetings", "meetings"), ("Stages", "stages"), ("Channels", "channels"),
        ("Pipelines", "pipelines"), ("Calls", "pstn_calls"), ("Cleanup", "cleanup"), ("People", "people"),
        ("Operations", "operations"), ("Drift", "drift"), ("Audit", "audit"), ("Users", "users"),
    ]  # fmt: skip
    assert apps.get_app_config("stages").sections[0].url_name == "stages"
    page = login(viewer).get("/").content.decode()
    tiles = re.findall(r'data-section="(\w+)">\s*<h2>([^<]*)</h2>', page)
    assert tiles == [
        ("meetings", "Meetings"),
        ("stages", "Stages"),
        ("channels", "Signaling channels"),
        ("pipelines", "Capture pipelines"),
        ("pstn_calls", "Phone calls"),
        ("cleanup", "Cleanup"),
    ]


def test_operation_kinds_are_discovered_from_every_app():
    names = {kind.name for kind in operation_kinds()}
    assert {"aws.check_connection", "stages.create", "stages.sync"} <= names


def _audit_fixture(admin, support, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        _queued(admin, target="arn:stage/alpha", reason="first")
        _queued(admin, target="arn:stage/beta", reason="second")


def test_audit_filters(client, admin, support, viewer, django_capture_on_commit_callbacks):
    _audit_fixture(admin, support, django_capture_on_commit_callbacks)
    client = login(viewer)
    page = client.get("/audit/", {"target": "alpha"}).content.decode()
    assert "arn:stage/alpha" in page
    assert "arn:stage/beta" not in page
    assert "arn:stage/beta" in client.get("/audit/", {"actor": "ada", "event": "requested"}).content.decode()
    assert "No audit entries match" in client.get("/audit/", {"actor": "nobody"}).content.decode()
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert "No audit entries match" in client.get("/audit/", {"date_from": tomorrow}).content.decode()
    bad = client.get("/audit/", {"date_from": "2026-05-02", "date_to": "2026-05-01"}).content.decode()
    assert "The end date is before the start date." in bad
    assert 'value="2026-05-02"' in bad  # what the user typed is kept


def test_audit_paginates_and_the_links_keep_the_filters(client, admin, viewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        for number in range(55):
            _queued(admin, target=f"t-{number}")
    client = login(viewer)
    first = client.get("/audit/").content.decode()
    assert "Page 1 of 2 (56 in all)" in first  # and the viewer's login
    filtered = client.get("/audit/", {"actor": "ada", "page": "1"}).content.decode()
    assert 'href="?actor=ada&amp;page=2">Next</a>' in filtered
    assert 'href="/audit/export.csv?actor=ada"' in filtered
    second = client.get("/audit/", {"page": 2}).content.decode()
    assert "t-0<" in second
    assert "t-54<" not in second


def test_audit_exports_csv_with_the_filters(client, admin, support, viewer, django_capture_on_commit_callbacks):
    _audit_fixture(admin, support, django_capture_on_commit_callbacks)
    response = login(viewer).get("/audit/export.csv", {"target": "beta"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["actor"], row["target"], row["reason"], row["outcome"]) for row in rows] == [
        ("ada", "arn:stage/beta", "second", "requested")
    ]
    assert AuditEntry.objects.filter(operation__isnull=False).count() == 2


def test_login_keeps_the_username_on_error(client, admin):
    page = client.post("/login/", {"username": "ada", "password": "wrong"}).content.decode()
    assert 'value="ada"' in page
    assert "Please enter a correct username and password" in page


def _highlighted(page: str) -> list[str]:
    return re.findall(r'aria-current="page">([^<]*)</a>', page)


def test_an_operations_page_highlights_the_section_of_what_it_is_about(admin):
    meeting = Meeting.objects.create(meeting_id="m-1", external_meeting_id="walk-standup", media_region="us-east-1")
    created = OperationFactory(kind="meetings.create", target="walk-standup", resource=meeting)
    call = PhoneCall.objects.create(direction="inbound", transaction_id="tx", state="in_meeting")
    hangup = OperationFactory(kind="pstn.hangup", target="tx", resource=call)
    search = OperationFactory(kind="pstn.search_numbers", target="available phone numbers")  # no resource: its kind
    check = OperationFactory()  # aws.check_connection: no section of its own
    client = login(admin)
    assert _highlighted(client.get(f"/operations/{created.pk}/").content.decode()) == ["Meetings"]
    assert _highlighted(client.get(f"/operations/{hangup.pk}/").content.decode()) == ["Calls"]
    assert _highlighted(client.get(f"/operations/{search.pk}/").content.decode()) == ["Calls"]
    assert _highlighted(client.get(f"/operations/{check.pk}/").content.decode()) == ["Operations"]
    assert _highlighted(client.get("/operations/").content.decode()) == ["Operations"]

    fleet = OperationBatch.objects.create(label="Create 2 channels", actor_name="ada")
    fleet.operations.set(
        OperationFactory(kind="channels.create", target=channel.name, resource=channel)
        for channel in ChannelFactory.create_batch(2)
    )
    assert Channel.objects.count() == 2
    assert _highlighted(client.get(f"/operations/batches/{fleet.pk}/").content.decode()) == ["Channels"]
