"""Cleanup of signaling channels against the sandbox: old ones deleted in AWS, protected ones kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.channels.models import Channel
from portal.cleanup.models import CleanupPolicy, CleanupRun
from portal.cleanup.services import cleanup_plan, cleanup_run
from portal.core.protection import PROTECTION_TAG
from tests.conftest import sandbox_boto

pytestmark = pytest.mark.django_db


def test_old_channels_are_deleted_in_aws_and_protected_ones_kept(
    admin, aws_endpoint, sandbox, django_capture_on_commit_callbacks
):
    sandbox.quotas(enabled=False)
    kvs = sandbox_boto(sandbox.endpoint, "kinesisvideo")
    for name, tags in (("test-cam", []), ("test-kept", [{"Key": PROTECTION_TAG, "Value": "1"}]), ("prod-cam", [])):
        arn = kvs.create_signaling_channel(ChannelName=name, **({"Tags": tags} if tags else {}))["ChannelARN"]
        info = kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]
        Channel.objects.create(name=name, arn=arn, region="us-east-1", status="active", version=info["Version"],
                               tags={tag["Key"]: tag["Value"] for tag in tags},
                               aws_created_at=timezone.now() - timedelta(days=3))  # fmt: skip
    sandbox.advance(30)  # the channels leave CREATING: AWS refuses to delete one before it is ACTIVE
    policy = CleanupPolicy.objects.create(name="old cams", kind="channel", name_pattern="test-*",
                                          condition="older_than", amount=2, unit="days", max_actions=5)  # fmt: skip
    now = timezone.now()
    plan = cleanup_plan(policy=policy, now=now)
    assert [(entry.label, entry.why) for entry in plan.act] == [("test-cam", "created 3 days ago")]
    assert [entry.label for entry in plan.skip] == ["test-kept"]
    with django_capture_on_commit_callbacks(execute=True):
        run = cleanup_run(policy=policy, actor=admin, trigger=CleanupRun.Trigger.MANUAL, now=now)
    items = list(run.items.select_related("operation"))
    assert [(item.label, item.state) for item in items] == [
        ("test-cam", "acted"), ("test-kept", "skipped")
    ]  # fmt: skip
    names = {
        c["ChannelName"] for c in kvs.list_signaling_channels()["ChannelInfoList"] if c["ChannelStatus"] != "DELETING"
    }
    assert names == {"test-kept", "prod-cam"}
