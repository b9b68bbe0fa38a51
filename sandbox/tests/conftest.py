from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aioboto3
import pytest

from rtc_sandbox.client import SandboxControl
from rtc_sandbox.testing import CREDENTIALS, REGION


@pytest.fixture(scope="session")
def aioboto3_session() -> aioboto3.Session:
    """One session for every aioboto3 client: a new one loads the service models again (~0.25 s a test)."""
    return aioboto3.Session(**CREDENTIALS)


@pytest.fixture
def async_call(sandbox: SandboxControl, aioboto3_session: aioboto3.Session) -> Callable[..., dict[str, Any]]:
    """Run one operation through an aioboto3 client opened inside its own event loop."""

    def call(service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            async with aioboto3_session.client(service, endpoint_url=sandbox.endpoint) as made:
                return await getattr(made, operation)(**kwargs)

        return asyncio.run(run())

    return call


SMA_LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:conformance"


@pytest.fixture
def world(boto_client: Callable[..., Any], sandbox: SandboxControl) -> dict[str, Any]:
    """One of everything: a meeting with a connected attendee, a live stage, an ACTIVE channel, a pipeline, a SIP media
    application with a SIP rule on one of the seeded numbers."""
    import uuid

    s3 = boto_client("s3")
    bucket = f"capture-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    chime = boto_client("chime-sdk-meetings")
    meeting = chime.create_meeting(
        ClientRequestToken=uuid.uuid4().hex,
        MediaRegion=REGION,
        ExternalMeetingId="conformance",
        Tags=[{"Key": "a", "Value": "b"}],
    )["Meeting"]
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="person-1")["Attendee"]
    sandbox.meeting_join(attendee["JoinToken"])
    ivs = boto_client("ivs-realtime")
    created = ivs.create_stage(name="conformance", tags={"a": "b"}, participantTokenConfigurations=[{"userId": "u-1"}])
    token = created["participantTokens"][0]
    joined = sandbox.stage_join(token["token"], publish=True)
    kvs = boto_client("kinesisvideo")
    channel_arn = kvs.create_signaling_channel(
        ChannelName=f"ch-{uuid.uuid4().hex[:8]}", Tags=[{"Key": "a", "Value": "b"}]
    )["ChannelARN"]
    sandbox.advance(5)
    version = kvs.describe_signaling_channel(ChannelARN=channel_arn)["ChannelInfo"]["Version"]
    pipelines = boto_client("chime-sdk-media-pipelines")
    pipeline = pipelines.create_media_capture_pipeline(
        SourceType="ChimeSdkMeeting",
        SourceArn=f"arn:aws:chime::123456789012:meeting:{meeting['MeetingId']}",
        SinkType="S3Bucket",
        SinkArn=f"arn:aws:s3:::{bucket}",
        Tags=[{"Key": "a", "Value": "b"}],
    )["MediaCapturePipeline"]
    voice = boto_client("chime-sdk-voice")
    sma = voice.create_sip_media_application(
        AwsRegion=REGION, Name=f"sma-{uuid.uuid4().hex[:8]}", Endpoints=[{"LambdaArn": SMA_LAMBDA}]
    )["SipMediaApplication"]
    rule = voice.create_sip_rule(
        Name=f"rule-{uuid.uuid4().hex[:8]}",
        TriggerType="ToPhoneNumber",
        TriggerValue="+12065550101",
        TargetApplications=[
            {"SipMediaApplicationId": sma["SipMediaApplicationId"], "Priority": 1, "AwsRegion": REGION}
        ],
    )["SipRule"]
    return {
        "sma": sma,
        "rule": rule,
        "bucket": bucket,
        "meeting": meeting,
        "attendee": attendee,
        "stage_arn": created["stage"]["arn"],
        "token": token,
        "session_id": joined["sessionId"],
        "participant_id": joined["participantId"],
        "channel_arn": channel_arn,
        "channel_version": version,
        "pipeline": pipeline,
    }
