"""A signaling channel end to end: views → Operation → a real Celery worker over Redis → the sandbox, with the
channels refresher (run by the same worker) following CREATING → ACTIVE, an update, and DELETING → gone."""

from __future__ import annotations

import pytest

from portal.channels.models import Channel
from portal.core.models import Operation
from portal.core.tasks import refresh_run
from tests.backing_services import wait_until
from tests.conftest import login, sandbox_boto

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

HTMX = {"HX-Request": "true"}


def _finished(operation_id: int) -> Operation:
    wait_until(lambda: Operation.objects.get(pk=operation_id).is_settled)
    return Operation.objects.get(pk=operation_id)


def _heading_shows(client, channel_id: int, status: str) -> bool:
    refresh_run.delay("channels")  # beat's tick, as the worker would get it
    heading = client.get(f"/channels/{channel_id}/?panel=heading", headers=HTMX)
    return f'data-status="{status}"' in heading.content.decode()


def test_create_active_update_delete_gone(admin, aws_endpoint, sandbox, real_worker, redis_broker):
    real_worker(redis_broker)
    kvs = sandbox_boto(sandbox.endpoint, "kinesisvideo")
    client = login(admin)
    client.post("/channels/new/", {"name": "porch", "channel_type": "SINGLE_MASTER", "message_ttl": "20", "tags": ""})
    created = _finished(Operation.objects.get(kind="channels.create").pk)
    assert created.status == Operation.Status.SUCCEEDED, created.error_message
    channel = Channel.objects.get()
    first = client.get(f"/channels/{channel.pk}/?panel=heading", headers=HTMX)
    assert 'data-status="creating"' in first.content.decode()
    assert first.status_code == 200  # still polling
    sandbox.advance(2)  # CREATING lasts 2 s of the sandbox's clock: no need to wait them out

    wait_until(lambda: _heading_shows(client, channel.pk, "active"), timeout=20)
    wait_until(lambda: Channel.objects.get().endpoints, timeout=20)
    channel = Channel.objects.get()
    endpoints = client.get(f"/channels/{channel.pk}/?panel=endpoints", headers=HTMX)
    assert endpoints.status_code == 286  # settled: it stops polling
    assert channel.endpoints["VIEWER"]["WSS"] in endpoints.content.decode()

    client.post(f"/channels/{channel.pk}/ttl/", {"message_ttl": "100", "version": channel.version})
    updated = _finished(Operation.objects.get(kind="channels.update_ttl").pk)
    assert updated.status == Operation.Status.SUCCEEDED, updated.error_message
    aws = kvs.describe_signaling_channel(ChannelARN=channel.arn)["ChannelInfo"]
    assert aws["SingleMasterConfiguration"]["MessageTtlSeconds"] == 100
    wait_until(lambda: _heading_shows(client, channel.pk, "active"), timeout=20)
    assert (
        Channel.objects.get().version
        == kvs.describe_signaling_channel(ChannelARN=channel.arn)["ChannelInfo"]["Version"]
    )

    client.post(f"/channels/{channel.pk}/delete/", {"confirm": "porch"})
    deleted = _finished(Operation.objects.get(kind="channels.delete").pk)
    assert deleted.status == Operation.Status.SUCCEEDED, deleted.error_message
    sandbox.advance(2)  # and so does DELETING
    wait_until(lambda: _heading_shows(client, channel.pk, "deleted"), timeout=20)
    assert kvs.list_signaling_channels()["ChannelInfoList"] == []
    assert Channel.objects.get().deleted_at is not None
