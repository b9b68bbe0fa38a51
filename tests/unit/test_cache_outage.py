"""The shared cache is best effort: with its Redis down, the pages that read it render, and what it counts allows.
The one use that fails closed is the SMA handler's replay guard."""

from __future__ import annotations

import json
import socket

import pytest
from django.test import Client

from portal.core.refresh import refresh_watch, refresh_watch_scopes
from portal.core.throttle import request_allowed
from portal.pipelines.selectors import sink_buckets
from portal.pstn.models import PhoneCall
from portal.pstn.signature import signed_headers
from tests.conftest import login
from tests.factories import ChannelFactory, ParticipantFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def cache_down(settings) -> None:
    """The cache is a Redis on a port where nothing listens, as when the portal's Redis has stopped."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0"}
    }
    settings.CAPTURE_SINK_BUCKETS = []


def test_an_open_stage_page_and_its_participants_panel_render_without_the_cache(viewer, cache_down):
    participant = ParticipantFactory(user_id="speaker")
    stage = participant.session.stage
    client = login(viewer)
    page = client.get(f"/stages/{stage.pk}/")
    assert page.status_code == 200
    assert 'id="stage-heading"' in page.content.decode()
    panel = client.get(f"/stages/{stage.pk}/", {"panel": "participants"}, headers=HTMX)
    assert panel.status_code == 200
    assert "speaker" in panel.content.decode()


def test_a_channel_page_renders_without_the_cache(viewer, cache_down):
    channel = ChannelFactory()
    assert login(viewer).get(f"/channels/{channel.pk}/").status_code == 200


def test_watches_and_counts_are_best_effort_without_the_cache(cache_down):
    refresh_watch(refresher="stages", key=1)
    assert refresh_watch_scopes(refresher="stages", key=1) == set()  # nothing is watched: each stage in its turn
    assert all(request_allowed(scope="sma", key="203.0.113.7", per_second=1) for _ in range(3))
    assert sink_buckets() == []


def test_without_the_cache_the_sma_handler_refuses_503_as_it_cannot_tell_a_replay(settings, cache_down):
    """The replay guard fails closed: a signed invocation whose signature cannot be claimed runs nothing."""
    settings.SMA_HANDLER_SECRET = "outage-secret"
    body = json.dumps({"InvocationEventType": "NEW_INBOUND_CALL", "CallDetails": {"TransactionId": "tx-1"}}).encode()
    signed = signed_headers("outage-secret", body)
    headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed.items()}
    response = Client().post("/pstn/sma/", body, content_type="application/json", **headers)
    assert response.status_code == 503
    assert not PhoneCall.objects.exists()
