"""Pages that follow what happens: an operation that settles tells its page which resource it changed, and the
panels that show that resource fetch themselves again (portal.core.polling)."""

from __future__ import annotations

import json

import pytest
from django.template import Context, Template

from portal.core.models import Operation
from portal.core.polling import operation_subjects
from tests.conftest import login
from tests.factories import OperationFactory, StageFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def test_a_settled_operation_tells_its_page_what_it_was_about(viewer):
    stage = StageFactory()
    operation = OperationFactory(kind="stages.rename", status=Operation.Status.SUCCEEDED, resource=stage)
    response = login(viewer).get(f"/operations/{operation.pk}/", headers=HTMX)
    assert response.status_code == 286
    event = json.loads(response["HX-Trigger"])["operation-finished"]
    assert event == {"id": operation.pk, "kind": "stages.rename", "status": "succeeded",
                     "subjects": ["stages", f"stages.stage:{stage.pk}"]}  # fmt: skip


def test_an_operation_without_a_resource_names_its_area():
    operation = OperationFactory(kind="stages.sync", status=Operation.Status.FAILED)
    assert operation_subjects(operation) == ["stages"]


def test_until_its_local_change_is_applied_the_operation_is_still_followed(viewer):
    operation = OperationFactory(
        kind="stages.rename", status=Operation.Status.SUCCEEDED, effect_status=Operation.Effect.PENDING
    )
    client = login(viewer)
    pending = client.get(f"/operations/{operation.pk}/", headers=HTMX)
    assert pending.status_code == 200  # the rename is recorded, not yet applied to the stage's row
    assert "HX-Trigger" not in pending
    assert b'hx-trigger="every 10s"' in pending.content
    Operation.objects.filter(pk=operation.pk).update(effect_status=Operation.Effect.FAILED, effect_attempts=2)
    retried = client.get(f"/operations/{operation.pk}/", headers=HTMX).content.decode()
    assert "It is applied again automatically after a short wait (attempt 2); this page follows it." in retried
    Operation.objects.filter(pk=operation.pk).update(effect_attempts=Operation.EFFECT_MAX_ATTEMPTS)
    given_up = client.get(f"/operations/{operation.pk}/", headers=HTMX)
    assert given_up.status_code == 286
    assert "is no longer retried" in given_up.content.decode()
    Operation.objects.filter(pk=operation.pk).update(effect_status=Operation.Effect.APPLIED)
    assert "operation-finished" in client.get(f"/operations/{operation.pk}/", headers=HTMX)["HX-Trigger"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{% poll None follows=stage %}', 'hx-trigger="resource-changed" data-follows="stages.stage:{pk}"'),
        ('{% poll "normal" follows=stage %}',
         'hx-trigger="every 2s, resource-changed" data-follows="stages.stage:{pk}"'),
        ('{% poll "slow" follows="stages" %}', 'hx-trigger="every 10s, resource-changed" data-follows="stages"'),
    ],
)  # fmt: skip
def test_a_panel_follows_a_row_or_an_area(source, expected):
    stage = StageFactory()
    rendered = Template("{% load polling %}" + source).render(Context({"stage": stage}))
    assert rendered == expected.format(pk=stage.pk)
