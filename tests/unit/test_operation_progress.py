"""One progress view and partial for every operation kind, the poll helper, and one-time secrets shown once."""

from __future__ import annotations

import json
import re

import pytest
from django.template import Context, Template
from django_htmx.http import HttpResponseStopPolling

from portal.core.models import OneTimeSecret, Operation
from portal.core.polling import poll_trigger
from portal.core.roles import Role
from portal.core.secrets import secrets_store
from tests.conftest import login
from tests.factories import OperationFactory, StageFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
TOKENS = [
    {"participantId": "pA", "userId": "host", "capabilities": ["PUBLISH", "SUBSCRIBE"], "duration": 60,
     "attributes": {}, "expirationTime": "2026-12-01T10:00:00+00:00"},
    {"participantId": "pB", "userId": "guest", "capabilities": ["SUBSCRIBE"], "duration": 60,
     "attributes": {}, "expirationTime": "2026-12-01T11:00:00+00:00"},
]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "expected"),
    [('{% poll "rapid" %}', 'hx-trigger="every 500ms"'), ('{% poll "slow" %}', 'hx-trigger="every 10s"'),
     ("{% poll interval %}", "")],
)  # fmt: skip
def test_the_poll_tag_writes_a_named_interval(source, expected):
    assert Template("{% load polling %}" + source).render(Context({"interval": None})) == expected


def test_an_unknown_interval_is_an_error():
    with pytest.raises(ValueError, match="use one of rapid, fast, normal, slow"):
        poll_trigger("sometimes")


def test_the_page_heading_says_the_kind_label(viewer):
    operation = OperationFactory(kind="stages.create", target="stage town-hall")
    page = login(viewer).get(f"/operations/{operation.pk}/").content.decode()
    assert re.search(r"<h1>Create stage <small", page)
    assert "<h1>stages.create" not in page
    assert "<strong>Create stage</strong>" in page


def test_progress_polls_until_the_operation_ends_then_answers_286(viewer):
    operation = OperationFactory(kind="stages.rename")
    client = login(viewer)
    page = client.get(f"/operations/{operation.pk}/").content.decode()
    assert f'hx-get="/operations/{operation.pk}/?history=1" hx-trigger="every 1s"' in page
    partial = client.get(f"/operations/{operation.pk}/", headers=HTMX)
    assert partial.status_code == 200
    assert partial.content.lstrip().startswith(
        f'<div class="card progress" id="operation-{operation.pk}-progress"'.encode()
    )
    assert b"<html" not in partial.content
    assert "HX-Request" in partial["Vary"]

    Operation.objects.filter(pk=operation.pk).update(status=Operation.Status.SUCCEEDED)
    settled = client.get(f"/operations/{operation.pk}/", headers=HTMX, query_params={"history": "1"})
    assert isinstance(settled, HttpResponseStopPolling)
    assert b"hx-trigger" not in settled.content
    assert b'data-status="succeeded"' in settled.content
    assert b"<h2>History</h2>" in settled.content


@pytest.mark.parametrize(
    ("code", "advice"),
    [("ThrottlingException", "helps"), ("InternalServerException", "helps"), ("WorkerLost", "helps"),
     ("ValidationException", "futile"), ("ServiceQuotaExceededException", "futile"), ("SomethingNew", None)],
)  # fmt: skip
def test_a_failure_says_whether_asking_again_can_help(viewer, code, advice):
    operation = OperationFactory(status=Operation.Status.FAILED, error_code=code, error_message="AWS said no")
    page = login(viewer).get(f"/operations/{operation.pk}/").content.decode()
    assert f'<span class="error-code">{code}</span> AWS said no' in page
    assert re.findall(r'data-retry="(\w+)"', page) == ([advice] if advice else [])


def test_a_local_effect_that_failed_is_shown(viewer):
    operation = OperationFactory(
        kind="stages.tag",
        status=Operation.Status.SUCCEEDED,
        effect_status=Operation.Effect.FAILED,
        effect_error="IntegrityError: boom",
        effect_attempts=2,
    )
    page = login(viewer).get(f"/operations/{operation.pk}/").content.decode()
    assert 'data-effect="failed"' in page
    assert "IntegrityError: boom" in page


def test_the_kinds_result_template_shows_once_the_operation_succeeded(viewer):
    result = {"listed": 3, "found": 1, "changed": 0, "gone": 2}
    operation = OperationFactory(kind="stages.sync", result=result)
    client = login(viewer)
    assert "Listed 3 stages" not in client.get(f"/operations/{operation.pk}/").content.decode()
    Operation.objects.filter(pk=operation.pk).update(status=Operation.Status.SUCCEEDED)
    page = client.get(f"/operations/{operation.pk}/").content.decode()
    assert "3 stages listed" in page  # the kind's summary
    assert "Listed 3 stages: 1 found, 0 changed outside the portal, 2 gone." in page


@pytest.fixture
def issued(admin):
    """A succeeded token operation with two one-time secrets waiting for the admin who asked."""
    stage = StageFactory(name="town-hall")
    operation = OperationFactory(
        kind="stages.create", actor=admin, status=Operation.Status.SUCCEEDED, result={"tokens": TOKENS},
        resource=stage,
    )  # fmt: skip
    secrets_store(operation=operation, secrets=[("pA", "secret-token-A"), ("pB", "secret-token-B")])
    return operation


def test_the_requester_sees_each_token_once_beside_its_details(issued, admin):
    client = login(admin)
    before = client.get(f"/operations/{issued.pk}/").content.decode()
    assert "Show the participant tokens once" in before
    assert "secret-token-A" not in before
    assert f'href="/stages/{issued.resource_id}/">Open town-hall</a>' in before

    revealed = client.post(f"/operations/{issued.pk}/secrets/", headers=HTMX)
    assert revealed.status_code == 200
    assert "no-store" in revealed["Cache-Control"]
    assert "HX-Request" in revealed["Vary"]
    page = revealed.content.decode()
    assert "<html" not in page
    host = page.split('data-participant="pA"', 1)[1].split("</div>", 1)[0]
    assert "<dd>host</dd>" in host
    assert "<dd>PUBLISH, SUBSCRIBE</dd>" in host
    assert '<time class="nowrap" datetime="2026-12-01T10:00:00+00:00">2026-12-01 10:00:00 UTC</time>' in host
    assert ">secret-token-A</textarea>" in host
    assert 'data-copy="#token-pA"' in host
    assert "<dd>SUBSCRIBE</dd>" in page.split('data-participant="pB"', 1)[1]
    assert f'data-copy="#operation-{issued.pk}-tokens-json script">Copy all as JSON' in page
    copied = json.loads(page.split('<script type="application/json">', 1)[1].split("</script>", 1)[0])
    assert [(t["participantId"], t["userId"], t["token"]) for t in copied] == [
        ("pA", "host", "secret-token-A"), ("pB", "guest", "secret-token-B"),
    ]  # fmt: skip
    assert not OneTimeSecret.objects.exists()

    again = client.post(f"/operations/{issued.pk}/secrets/", headers=HTMX).content.decode()
    assert "already shown" in again
    assert "secret-token" not in again
    assert "already shown" in client.get(f"/operations/{issued.pk}/").content.decode()


def test_without_htmx_the_tokens_show_on_the_operation_page(issued, admin):
    response = login(admin).post(f"/operations/{issued.pk}/secrets/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "<h1>Create stage" in page
    assert ">secret-token-B</textarea>" in page


def test_nobody_else_sees_the_tokens(issued, make_user, viewer):
    other_admin = login(make_user("other-admin", Role.ADMIN))
    page = other_admin.get(f"/operations/{issued.pk}/").content.decode()
    assert "only ada, who asked for them, can see them" in page
    assert "Show the participant tokens once" not in page
    assert other_admin.post(f"/operations/{issued.pk}/secrets/").status_code == 403
    assert login(viewer).post(f"/operations/{issued.pk}/secrets/").status_code == 403
    assert other_admin.get(f"/operations/{issued.pk}/secrets/").status_code == 405
    assert OneTimeSecret.objects.count() == 2
