"""The overview tells the state of the estate: counts linking to filtered lists, and the refresh's API budget."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.core.models import Operation, RefresherState
from tests.conftest import login
from tests.factories import ChannelFactory, OperationFactory, StageFactory

pytestmark = pytest.mark.django_db


def _figures(page: str) -> dict[str, tuple[str, int]]:
    found = re.findall(r'href="([^"]+)" data-figure="([\w-]+)">\s*<span class="figure-value">(\d+)</span>', page)
    return {name: (url.replace("&amp;", "&"), int(value)) for url, name, value in found}


def _estate() -> None:
    StageFactory.create_batch(2)
    StageFactory(active_session_id="st-A", connected_count=4)
    StageFactory(active_session_id="st-B", connected_count=3)
    StageFactory(status="deleted")
    StageFactory(status="gone")
    ChannelFactory.create_batch(2)
    ChannelFactory(status="creating")
    ChannelFactory(status="gone")
    OperationFactory.create_batch(2, status=Operation.Status.QUEUED)
    OperationFactory(status=Operation.Status.RUNNING)
    OperationFactory(status=Operation.Status.SUCCEEDED)
    OperationFactory(status=Operation.Status.FAILED, error_code="ThrottlingException")
    old = OperationFactory(status=Operation.Status.FAILED, error_code="ValidationException")
    Operation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))


def _rows(page: str, prefix: str) -> int:
    return len(re.findall(rf'<tr id="{prefix}-\d+"', page))


def test_the_overview_counts_the_estate_and_each_count_links_to_its_list(viewer):
    _estate()
    client = login(viewer)
    figures = _figures(client.get("/").content.decode())
    assert {name: value for name, (_, value) in figures.items()} == {
        "stages": 4,
        "live-sessions": 2,
        "connected-participants": 7,
        "active-signaling-channels": 2,
        "channels-being-created": 1,
        "channels-gone-from-aws": 1,
        "operations-in-flight": 3,
        "failed-in-the-last-24-h": 1,
        "recording-now": 0,
        "active-captures-of-100-allowed": 0,
        "captures-failed": 0,
        "cleanup-runs-failed-in-the-last-24-h": 0,
        "open-drift": 0,
    }
    assert _rows(client.get(figures["stages"][0]).content.decode(), "stage") == 4
    assert _rows(client.get(figures["live-sessions"][0]).content.decode(), "stage") == 2
    assert _rows(client.get(figures["active-signaling-channels"][0]).content.decode(), "channel") == 2
    assert _rows(client.get(figures["channels-being-created"][0]).content.decode(), "channel") == 1
    assert _rows(client.get(figures["channels-gone-from-aws"][0]).content.decode(), "channel") == 1
    assert _rows(client.get(figures["operations-in-flight"][0]).content.decode(), "operation") == 3
    failed = client.get(figures["failed-in-the-last-24-h"][0]).content.decode()
    assert _rows(failed, "operation") == 1
    assert "ThrottlingException" in failed


def test_failures_are_marked_for_attention(viewer):
    client = login(viewer)
    assert 'class="card figure attention"' not in client.get("/").content.decode()
    OperationFactory(status=Operation.Status.FAILED)
    assert 'class="card figure attention" href="/operations/?status=failed&amp;within=24h"' in (
        client.get("/").content.decode()
    )


def test_the_refresh_budget_compares_the_last_cycle_with_the_quota(viewer, settings):
    settings.REFRESH_TICK_SECONDS = 1
    RefresherState.objects.create(
        name="stages", last_calls=8, last_duration_seconds=2.0, last_started_at=timezone.now()
    )
    page = login(viewer).get("/").content.decode()
    row = page.split('data-refresher="stages"', 1)[1].split("</tr>", 1)[0]
    assert "ivs-realtime" in row
    assert "2.0 s" in row
    assert "<td>8</td>" in row
    assert "<td>4.0</td>" in row  # 8 calls in 2 s, against IVS's 5 a second for each API
    assert "cycles run back to back" in row  # 2 s is longer than the 1 s tick
    assert "5/s per API" in row
    assert "CreateParticipantToken 50/s" in row  # the exceptions, on hover


def test_a_refresher_that_never_ran_says_so(viewer):
    assert "not run yet" in login(viewer).get("/").content.decode()


def _home_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    return len(captured)


@pytest.mark.parametrize("role", ["viewer", "support"])
def test_the_overview_costs_the_same_queries_whatever_the_estate(role, request):
    client = login(request.getfixturevalue(role))
    client.get("/")
    empty = _home_queries(client)
    _estate()
    StageFactory.create_batch(30, active_session_id="st-X", connected_count=2)
    OperationFactory.create_batch(30, status=Operation.Status.FAILED)
    RefresherState.objects.create(name="stages", last_calls=12, last_started_at=timezone.now())
    assert _home_queries(client) == empty


def test_support_can_look_a_person_up_from_the_overview(support, viewer):
    assert 'action="/people/" role="search"' in login(support).get("/").content.decode()
    assert 'action="/people/" role="search"' not in login(viewer).get("/").content.decode()
