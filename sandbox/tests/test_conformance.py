"""Every implemented operation, through boto3 and aioboto3, checked against botocore's model."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from shapes import parsed_problems, raw_json, wire_problems

from rtc_sandbox import app as _registers_handlers  # noqa: F401
from rtc_sandbox.client import SandboxControl
from rtc_sandbox.testing import sandbox_boto
from rtc_sandbox.world import HANDLERS

MODELS = botocore.session.get_session()
CAPABILITIES = {"Audio": "SendReceive", "Video": "Receive", "Content": "None"}
MISSING_MEETING = "00000000-0000-4000-8000-000000000000"
MISSING_STAGE = "arn:aws:ivs:us-east-1:123456789012:stage/AAAAAAAAAAAA"
MISSING_CHANNEL = "arn:aws:kinesisvideo:us-east-1:123456789012:channel/missing/1700000000000"
VALIDATION = {
    "chime-sdk-meetings": "BadRequestException",
    "chime-sdk-media-pipelines": "BadRequestException",
    "ivs-realtime": "ValidationException",
    "kinesisvideo": "InvalidArgumentException",
    "kinesis-video-signaling": "InvalidArgumentException",
    "chime-sdk-voice": "BadRequestException",
}

Kwargs = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    service: str
    operation: str
    kwargs: Kwargs
    missing: Kwargs | None = None  # the same call aimed at a resource that does not exist
    before: Callable[[Any, dict[str, Any]], None] = field(default=lambda boto_client, w: None)

    @property
    def id(self) -> str:
        return f"{self.service}:{self.operation}"

    @property
    def method(self) -> str:
        return botocore.xform_name(self.operation)


def _meeting(w: dict[str, Any]) -> str:
    return w["meeting"]["MeetingId"]


def _new_meeting(w: dict[str, Any]) -> dict[str, Any]:
    return {"ClientRequestToken": uuid.uuid4().hex, "MediaRegion": "us-east-1", "ExternalMeetingId": "conformance-2"}


def _start_transcription(chime: Any, w: dict[str, Any]) -> None:
    chime.start_meeting_transcription(MeetingId=_meeting(w), TranscriptionConfiguration=TRANSCRIPTION)


TRANSCRIPTION = {"EngineTranscribeSettings": {"LanguageCode": "en-US"}}
CONCATENATED = {"Audio": {"State": "Enabled"}} | {
    name: {"State": "Disabled"}
    for name in ("Video", "Content", "DataChannel", "TranscriptionMessages", "MeetingEvents", "CompositedVideo")
}
CHIME = "chime-sdk-meetings"
IVS = "ivs-realtime"
KVS = "kinesisvideo"
SIGNALING = "kinesis-video-signaling"
PIPES = "chime-sdk-media-pipelines"
VOICE = "chime-sdk-voice"
MISSING_SMA = "00000000-0000-4000-8000-00000000000a"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:conformance"


def _sma(w: dict[str, Any]) -> str:
    return w["sma"]["SipMediaApplicationId"]


def _sma_arn(w: dict[str, Any]) -> str:
    return w["sma"]["SipMediaApplicationArn"]


def _missing_sma_arn() -> str:
    return f"arn:aws:chime:us-east-1:123456789012:sma/{MISSING_SMA}"


def _rule(w: dict[str, Any]) -> str:
    return w["rule"]["SipRuleId"]


def _second_sma(voice: Any, w: dict[str, Any]) -> None:
    w["spare_sma"] = voice.create_sip_media_application(
        AwsRegion="us-east-1", Name=f"spare-{uuid.uuid4().hex[:8]}", Endpoints=[{"LambdaArn": LAMBDA}]
    )["SipMediaApplication"]["SipMediaApplicationId"]


def _rule_disabled(voice: Any, w: dict[str, Any]) -> None:
    voice.update_sip_rule(SipRuleId=_rule(w), Name=w["rule"]["Name"], Disabled=True)


class _QuietHandler(BaseHTTPRequestHandler):
    """An SMA handler that answers every invocation with no actions: the call stays as it is."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        answer = json.dumps({"SchemaVersion": "1.0", "Actions": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        return


def _call_placed(voice: Any, w: dict[str, Any]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SandboxControl(w["endpoint"]).sma_endpoint(LAMBDA, f"http://127.0.0.1:{server.server_port}/")
    w["transaction"] = voice.create_sip_media_application_call(
        FromPhoneNumber="+12065550101", ToPhoneNumber="+14155550123", SipMediaApplicationId=_sma(w)
    )["SipMediaApplicationCall"]["TransactionId"]


def _order_placed(voice: Any, w: dict[str, Any]) -> None:
    w["order"] = voice.create_phone_number_order(
        ProductType="SipMediaApplicationDialIn", E164PhoneNumbers=["+14155550101"]
    )["PhoneNumberOrder"]["PhoneNumberOrderId"]


def _number_deleted(voice: Any, w: dict[str, Any]) -> None:
    voice.delete_phone_number(PhoneNumberId="+12065550104")


def _targets(sma_id: str) -> list[dict[str, Any]]:
    return [{"SipMediaApplicationId": sma_id, "Priority": 1, "AwsRegion": "us-east-1"}]


CASES = [
    Case(CHIME, "CreateMeeting", _new_meeting),
    Case(CHIME, "CreateMeetingWithAttendees", lambda w: {**_new_meeting(w), "Attendees": [{"ExternalUserId": "a-1"}]}),
    Case(CHIME, "GetMeeting", lambda w: {"MeetingId": _meeting(w)}, lambda w: {"MeetingId": MISSING_MEETING}),
    Case(
        CHIME,
        "CreateAttendee",
        lambda w: {"MeetingId": _meeting(w), "ExternalUserId": "person-2"},
        lambda w: {"MeetingId": MISSING_MEETING, "ExternalUserId": "person-2"},
    ),
    Case(
        CHIME,
        "BatchCreateAttendee",
        lambda w: {"MeetingId": _meeting(w), "Attendees": [{"ExternalUserId": "p-3"}, {"ExternalUserId": "p-4"}]},
        lambda w: {"MeetingId": MISSING_MEETING, "Attendees": [{"ExternalUserId": "p-3"}]},
    ),
    Case(
        CHIME,
        "GetAttendee",
        lambda w: {"MeetingId": _meeting(w), "AttendeeId": w["attendee"]["AttendeeId"]},
        lambda w: {"MeetingId": _meeting(w), "AttendeeId": MISSING_MEETING},
    ),
    Case(CHIME, "ListAttendees", lambda w: {"MeetingId": _meeting(w)}, lambda w: {"MeetingId": MISSING_MEETING}),
    Case(
        CHIME,
        "UpdateAttendeeCapabilities",
        lambda w: {"MeetingId": _meeting(w), "AttendeeId": w["attendee"]["AttendeeId"], "Capabilities": CAPABILITIES},
        lambda w: {"MeetingId": _meeting(w), "AttendeeId": MISSING_MEETING, "Capabilities": CAPABILITIES},
    ),
    Case(
        CHIME,
        "BatchUpdateAttendeeCapabilitiesExcept",
        lambda w: {
            "MeetingId": _meeting(w),
            "ExcludedAttendeeIds": [{"AttendeeId": w["attendee"]["AttendeeId"]}],
            "Capabilities": CAPABILITIES,
        },
        lambda w: {
            "MeetingId": MISSING_MEETING,
            "ExcludedAttendeeIds": [{"AttendeeId": MISSING_MEETING}],
            "Capabilities": CAPABILITIES,
        },
    ),
    Case(
        CHIME,
        "StartMeetingTranscription",
        lambda w: {"MeetingId": _meeting(w), "TranscriptionConfiguration": TRANSCRIPTION},
        lambda w: {"MeetingId": MISSING_MEETING, "TranscriptionConfiguration": TRANSCRIPTION},
    ),
    Case(
        CHIME,
        "StopMeetingTranscription",
        lambda w: {"MeetingId": _meeting(w)},
        lambda w: {"MeetingId": MISSING_MEETING},
        before=_start_transcription,
    ),
    Case(
        CHIME,
        "TagResource",
        lambda w: {"ResourceARN": w["meeting"]["MeetingArn"], "Tags": [{"Key": "k", "Value": "v"}]},
        lambda w: {"ResourceARN": f"arn:aws:chime:us-east-1:123456789012:meeting/{MISSING_MEETING}", "Tags": []},
    ),
    Case(
        CHIME,
        "UntagResource",
        lambda w: {"ResourceARN": w["meeting"]["MeetingArn"], "TagKeys": ["a"]},
        lambda w: {"ResourceARN": f"arn:aws:chime:us-east-1:123456789012:meeting/{MISSING_MEETING}", "TagKeys": ["a"]},
    ),
    Case(
        CHIME,
        "ListTagsForResource",
        lambda w: {"ResourceARN": w["meeting"]["MeetingArn"]},
        lambda w: {"ResourceARN": f"arn:aws:chime:us-east-1:123456789012:meeting/{MISSING_MEETING}"},
    ),
    Case(
        CHIME,
        "DeleteAttendee",
        lambda w: {"MeetingId": _meeting(w), "AttendeeId": w["attendee"]["AttendeeId"]},
        lambda w: {"MeetingId": _meeting(w), "AttendeeId": MISSING_MEETING},
    ),
    Case(CHIME, "DeleteMeeting", lambda w: {"MeetingId": _meeting(w)}, lambda w: {"MeetingId": MISSING_MEETING}),
    Case(IVS, "CreateStage", lambda w: {"name": "made", "participantTokenConfigurations": [{"userId": "x"}]}),
    Case(IVS, "GetStage", lambda w: {"arn": w["stage_arn"]}, lambda w: {"arn": MISSING_STAGE}),
    Case(IVS, "ListStages", lambda w: {"maxResults": 10}),
    Case(IVS, "UpdateStage", lambda w: {"arn": w["stage_arn"], "name": "renamed"}, lambda w: {"arn": MISSING_STAGE}),
    Case(IVS, "DeleteStage", lambda w: {"arn": w["stage_arn"]}, lambda w: {"arn": MISSING_STAGE}),
    Case(
        IVS,
        "CreateParticipantToken",
        lambda w: {"stageArn": w["stage_arn"], "userId": "u-2", "duration": 60, "attributes": {"role": "guest"}},
        lambda w: {"stageArn": MISSING_STAGE},
    ),
    Case(
        IVS,
        "DisconnectParticipant",
        lambda w: {"stageArn": w["stage_arn"], "participantId": w["participant_id"], "reason": "conformance"},
        lambda w: {"stageArn": w["stage_arn"], "participantId": "nobody"},
    ),
    Case(IVS, "ListStageSessions", lambda w: {"stageArn": w["stage_arn"]}),
    Case(
        IVS,
        "GetStageSession",
        lambda w: {"stageArn": w["stage_arn"], "sessionId": w["session_id"]},
        lambda w: {"stageArn": w["stage_arn"], "sessionId": "st-AAAAAAAAAAAAA"},
    ),
    Case(IVS, "ListParticipants", lambda w: {"stageArn": w["stage_arn"], "sessionId": w["session_id"]}),
    Case(
        IVS,
        "GetParticipant",
        lambda w: {"stageArn": w["stage_arn"], "sessionId": w["session_id"], "participantId": w["participant_id"]},
        lambda w: {"stageArn": w["stage_arn"], "sessionId": w["session_id"], "participantId": "nobody"},
    ),
    Case(
        IVS,
        "ListParticipantEvents",
        lambda w: {"stageArn": w["stage_arn"], "sessionId": w["session_id"], "participantId": w["participant_id"]},
    ),
    Case(
        IVS,
        "TagResource",
        lambda w: {"resourceArn": w["stage_arn"], "tags": {"k": "v"}},
        lambda w: {"resourceArn": MISSING_STAGE, "tags": {"k": "v"}},
    ),
    Case(
        IVS,
        "UntagResource",
        lambda w: {"resourceArn": w["stage_arn"], "tagKeys": ["a"]},
        lambda w: {"resourceArn": MISSING_STAGE, "tagKeys": ["a"]},
    ),
    Case(
        IVS,
        "ListTagsForResource",
        lambda w: {"resourceArn": w["stage_arn"]},
        lambda w: {"resourceArn": MISSING_STAGE},
    ),
    Case(KVS, "CreateSignalingChannel", lambda w: {"ChannelName": f"new-{uuid.uuid4().hex[:8]}"}),
    Case(
        KVS,
        "DescribeSignalingChannel",
        lambda w: {"ChannelARN": w["channel_arn"]},
        lambda w: {"ChannelARN": MISSING_CHANNEL},
    ),
    Case(
        KVS,
        "ListSignalingChannels",
        lambda w: {"ChannelNameCondition": {"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "ch-"}},
    ),
    Case(
        KVS,
        "UpdateSignalingChannel",
        lambda w: {
            "ChannelARN": w["channel_arn"],
            "CurrentVersion": w["channel_version"],
            "SingleMasterConfiguration": {"MessageTtlSeconds": 30},
        },
        lambda w: {"ChannelARN": MISSING_CHANNEL, "CurrentVersion": "1"},
    ),
    Case(
        KVS,
        "DeleteSignalingChannel",
        lambda w: {"ChannelARN": w["channel_arn"], "CurrentVersion": w["channel_version"]},
        lambda w: {"ChannelARN": MISSING_CHANNEL},
    ),
    Case(
        KVS,
        "GetSignalingChannelEndpoint",
        lambda w: {
            "ChannelARN": w["channel_arn"],
            "SingleMasterChannelEndpointConfiguration": {"Protocols": ["WSS", "HTTPS", "WEBRTC"], "Role": "VIEWER"},
        },
        lambda w: {"ChannelARN": MISSING_CHANNEL},
    ),
    Case(
        KVS,
        "TagResource",
        lambda w: {"ResourceARN": w["channel_arn"], "Tags": [{"Key": "k", "Value": "v"}]},
        lambda w: {"ResourceARN": MISSING_CHANNEL, "Tags": [{"Key": "k", "Value": "v"}]},
    ),
    Case(
        KVS,
        "UntagResource",
        lambda w: {"ResourceARN": w["channel_arn"], "TagKeyList": ["a"]},
        lambda w: {"ResourceARN": MISSING_CHANNEL, "TagKeyList": ["a"]},
    ),
    Case(
        KVS,
        "ListTagsForResource",
        lambda w: {"ResourceARN": w["channel_arn"]},
        lambda w: {"ResourceARN": MISSING_CHANNEL},
    ),
    Case(
        SIGNALING,
        "GetIceServerConfig",
        lambda w: {"ChannelARN": w["channel_arn"], "ClientId": "viewer-1"},
        lambda w: {"ChannelARN": MISSING_CHANNEL},
    ),
    Case(
        PIPES,
        "CreateMediaCapturePipeline",
        lambda w: {
            "SourceType": "ChimeSdkMeeting",
            "SourceArn": w["second_meeting_arn"],
            "SinkType": "S3Bucket",
            "SinkArn": f"arn:aws:s3:::{w['bucket']}",
            "ChimeSdkMeetingConfiguration": {
                "ArtifactsConfiguration": {
                    "Audio": {"MuxType": "AudioOnly"},
                    "Video": {"State": "Enabled", "MuxType": "VideoOnly"},
                    "Content": {"State": "Disabled"},
                }
            },
        },
        lambda w: {
            "SourceType": "ChimeSdkMeeting",
            "SourceArn": f"arn:aws:chime::123456789012:meeting:{MISSING_MEETING}",
            "SinkType": "S3Bucket",
            "SinkArn": f"arn:aws:s3:::{w['bucket']}",
        },
        before=lambda boto_client, w: w.update(second_meeting_arn=_second_meeting(w)),
    ),
    Case(
        PIPES,
        "CreateMediaConcatenationPipeline",
        lambda w: {
            "Sources": [
                {
                    "Type": "MediaCapturePipeline",
                    "MediaCapturePipelineSourceConfiguration": {
                        "MediaPipelineArn": w["pipeline"]["MediaPipelineArn"],
                        "ChimeSdkMeetingConfiguration": {"ArtifactsConfiguration": CONCATENATED},
                    },
                }
            ],
            "Sinks": [
                {"Type": "S3Bucket", "S3BucketSinkConfiguration": {"Destination": f"arn:aws:s3:::{w['bucket']}"}}
            ],
        },
    ),
    Case(
        PIPES,
        "GetMediaCapturePipeline",
        lambda w: {"MediaPipelineId": w["pipeline"]["MediaPipelineId"]},
        lambda w: {"MediaPipelineId": MISSING_MEETING},
    ),
    Case(PIPES, "ListMediaCapturePipelines", lambda w: {"MaxResults": 10}),
    Case(
        PIPES,
        "DeleteMediaCapturePipeline",
        lambda w: {"MediaPipelineId": w["pipeline"]["MediaPipelineId"]},
        lambda w: {"MediaPipelineId": MISSING_MEETING},
    ),
    Case(
        PIPES,
        "GetMediaPipeline",
        lambda w: {"MediaPipelineId": w["pipeline"]["MediaPipelineId"]},
        lambda w: {"MediaPipelineId": MISSING_MEETING},
    ),
    Case(PIPES, "ListMediaPipelines", lambda w: {}),
    Case(
        PIPES,
        "DeleteMediaPipeline",
        lambda w: {"MediaPipelineId": w["pipeline"]["MediaPipelineId"]},
        lambda w: {"MediaPipelineId": MISSING_MEETING},
    ),
    Case(
        PIPES,
        "TagResource",
        lambda w: {"ResourceARN": w["pipeline"]["MediaPipelineArn"], "Tags": [{"Key": "k", "Value": "v"}]},
        lambda w: {"ResourceARN": _missing_pipeline_arn(), "Tags": [{"Key": "k", "Value": "v"}]},
    ),
    Case(
        PIPES,
        "UntagResource",
        lambda w: {"ResourceARN": w["pipeline"]["MediaPipelineArn"], "TagKeys": ["a"]},
        lambda w: {"ResourceARN": _missing_pipeline_arn(), "TagKeys": ["a"]},
    ),
    Case(
        PIPES,
        "ListTagsForResource",
        lambda w: {"ResourceARN": w["pipeline"]["MediaPipelineArn"]},
        lambda w: {"ResourceARN": _missing_pipeline_arn()},
    ),
    Case(
        VOICE,
        "CreateSipMediaApplication",
        lambda w: {
            "AwsRegion": "us-east-1",
            "Name": f"sma-{uuid.uuid4().hex[:6]}",
            "Endpoints": [{"LambdaArn": LAMBDA}],
        },
    ),
    Case(
        VOICE,
        "GetSipMediaApplication",
        lambda w: {"SipMediaApplicationId": _sma(w)},
        lambda w: {"SipMediaApplicationId": MISSING_SMA},
    ),
    Case(VOICE, "ListSipMediaApplications", lambda w: {"MaxResults": 10}),
    Case(
        VOICE,
        "UpdateSipMediaApplication",
        lambda w: {"SipMediaApplicationId": _sma(w), "Name": "renamed"},
        lambda w: {"SipMediaApplicationId": MISSING_SMA, "Name": "renamed"},
    ),
    Case(
        VOICE,
        "GetSipMediaApplicationLoggingConfiguration",
        lambda w: {"SipMediaApplicationId": _sma(w)},
        lambda w: {"SipMediaApplicationId": MISSING_SMA},
    ),
    Case(
        VOICE,
        "PutSipMediaApplicationLoggingConfiguration",
        lambda w: {
            "SipMediaApplicationId": _sma(w),
            "SipMediaApplicationLoggingConfiguration": {"EnableSipMediaApplicationMessageLogs": True},
        },
        lambda w: {"SipMediaApplicationId": MISSING_SMA},
    ),
    Case(
        VOICE,
        "TagResource",
        lambda w: {"ResourceARN": _sma_arn(w), "Tags": [{"Key": "k", "Value": "v"}]},
        lambda w: {"ResourceARN": _missing_sma_arn(), "Tags": [{"Key": "k", "Value": "v"}]},
    ),
    Case(
        VOICE,
        "UntagResource",
        lambda w: {"ResourceARN": _sma_arn(w), "TagKeys": ["a"]},
        lambda w: {"ResourceARN": _missing_sma_arn(), "TagKeys": ["a"]},
    ),
    Case(
        VOICE,
        "ListTagsForResource",
        lambda w: {"ResourceARN": _sma_arn(w)},
        lambda w: {"ResourceARN": _missing_sma_arn()},
    ),
    Case(
        VOICE,
        "DeleteSipMediaApplication",
        lambda w: {"SipMediaApplicationId": w["spare_sma"]},
        lambda w: {"SipMediaApplicationId": MISSING_SMA},
        before=_second_sma,
    ),
    Case(
        VOICE,
        "CreateSipRule",
        lambda w: {
            "Name": f"rule-{uuid.uuid4().hex[:6]}",
            "TriggerType": "ToPhoneNumber",
            "TriggerValue": "+12065550102",
            "TargetApplications": _targets(_sma(w)),
        },
    ),
    Case(VOICE, "GetSipRule", lambda w: {"SipRuleId": _rule(w)}, lambda w: {"SipRuleId": MISSING_SMA}),
    Case(VOICE, "ListSipRules", lambda w: {"SipMediaApplicationId": _sma(w)}),
    Case(
        VOICE,
        "UpdateSipRule",
        lambda w: {"SipRuleId": _rule(w), "Name": "renamed rule"},
        lambda w: {"SipRuleId": MISSING_SMA, "Name": "renamed rule"},
    ),
    Case(
        VOICE,
        "DeleteSipRule",
        lambda w: {"SipRuleId": _rule(w)},
        lambda w: {"SipRuleId": MISSING_SMA},
        before=_rule_disabled,
    ),
    Case(VOICE, "ListPhoneNumbers", lambda w: {"MaxResults": 10}),
    Case(
        VOICE,
        "GetPhoneNumber",
        lambda w: {"PhoneNumberId": "+12065550101"},
        lambda w: {"PhoneNumberId": "+19995550100"},
    ),
    Case(VOICE, "SearchAvailablePhoneNumbers", lambda w: {"AreaCode": "415", "MaxResults": 5}),
    Case(
        VOICE,
        "CreatePhoneNumberOrder",
        lambda w: {"ProductType": "SipMediaApplicationDialIn", "E164PhoneNumbers": ["+14155550100"]},
    ),
    Case(
        VOICE,
        "GetPhoneNumberOrder",
        lambda w: {"PhoneNumberOrderId": w["order"]},
        lambda w: {"PhoneNumberOrderId": MISSING_SMA},
        before=_order_placed,
    ),
    Case(VOICE, "ListPhoneNumberOrders", lambda w: {"MaxResults": 10}, before=_order_placed),
    Case(
        VOICE,
        "UpdatePhoneNumber",
        lambda w: {"PhoneNumberId": "+12065550103", "Name": "front desk"},
        lambda w: {"PhoneNumberId": "+19995550100", "Name": "front desk"},
    ),
    Case(
        VOICE,
        "DeletePhoneNumber",
        lambda w: {"PhoneNumberId": "+12065550103"},
        lambda w: {"PhoneNumberId": "+19995550100"},
    ),
    Case(
        VOICE,
        "RestorePhoneNumber",
        lambda w: {"PhoneNumberId": "+12065550104"},
        lambda w: {"PhoneNumberId": "+19995550100"},
        before=_number_deleted,
    ),
    Case(
        VOICE,
        "CreateSipMediaApplicationCall",
        lambda w: {
            "FromPhoneNumber": "+12065550101",
            "ToPhoneNumber": "+14155550123",
            "SipMediaApplicationId": _sma(w),
        },
        lambda w: {
            "FromPhoneNumber": "+12065550101",
            "ToPhoneNumber": "+14155550123",
            "SipMediaApplicationId": MISSING_SMA,
        },
    ),
    Case(
        VOICE,
        "UpdateSipMediaApplicationCall",
        lambda w: {"SipMediaApplicationId": _sma(w), "TransactionId": w["transaction"], "Arguments": {"k": "v"}},
        lambda w: {"SipMediaApplicationId": _sma(w), "TransactionId": MISSING_SMA, "Arguments": {"k": "v"}},
        before=_call_placed,
    ),
]


def _missing_pipeline_arn() -> str:
    return f"arn:aws:chime:us-east-1:123456789012:media-pipeline/{MISSING_MEETING}"


def _second_meeting(w: dict[str, Any]) -> str:
    chime = sandbox_boto(w["endpoint"], "chime-sdk-meetings")
    meeting = chime.create_meeting(**_new_meeting(w))["Meeting"]
    return f"arn:aws:chime::123456789012:meeting:{meeting['MeetingId']}"


def _operation(case: Case) -> Any:
    return MODELS.get_service_model(case.service).operation_model(case.operation)


def test_every_implemented_operation_has_a_case():
    assert {(case.service, case.operation) for case in CASES} == set(HANDLERS)


def test_operations_implemented_per_service():
    counts: dict[str, int] = {}
    for service, _ in HANDLERS:
        counts[service] = counts.get(service, 0) + 1
    assert counts == {CHIME: 16, IVS: 15, KVS: 9, SIGNALING: 1, PIPES: 11, VOICE: 26}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_boto3_response_matches_the_output_shape(case: Case, boto_client, world, sandbox):
    world["endpoint"] = sandbox.endpoint
    made = boto_client(case.service)
    case.before(made, world)
    response = getattr(made, case.method)(**case.kwargs(world))
    operation = _operation(case)
    name, status, body = made.raw_bodies[-1]
    assert name == case.operation
    assert status == int(operation.http.get("responseCode", 200))
    if operation.output_shape is None:
        assert raw_json(body) == {}
    else:
        assert wire_problems(operation.output_shape, raw_json(body)) == []
        assert parsed_problems(operation.output_shape, response) == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_aioboto3_response_matches_the_output_shape(case: Case, boto_client, async_call, world, sandbox):
    world["endpoint"] = sandbox.endpoint
    case.before(boto_client(case.service), world)
    response = async_call(case.service, case.method, **case.kwargs(world))
    operation = _operation(case)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == int(operation.http.get("responseCode", 200))
    if operation.output_shape is not None:
        assert parsed_problems(operation.output_shape, response) == []


@pytest.mark.parametrize("case", [c for c in CASES if c.missing], ids=lambda case: case.id)
def test_a_missing_resource_is_a_modelled_error(case: Case, boto_client, world, sandbox):
    world["endpoint"] = sandbox.endpoint
    made = boto_client(case.service, validate=False)
    with pytest.raises(ClientError) as raised:
        getattr(made, case.method)(**case.missing(world))  # type: ignore[misc]
    error = raised.value.response
    modelled = {shape.name: shape for shape in _operation(case).error_shapes}
    assert error["Error"]["Code"] in modelled
    shape = modelled[error["Error"]["Code"]]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == shape.metadata["error"]["httpStatusCode"]
    assert error["Error"]["Message"]
    assert error["ResponseMetadata"]["RequestId"]


def _body_required(case: Case) -> list[str]:
    shape = _operation(case).input_shape
    return [
        name
        for name in (shape.required_members if shape else [])
        if shape.members[name].serialization.get("location") is None
        and not shape.members[name].metadata.get("idempotencyToken")  # botocore fills these in itself
    ]


@pytest.mark.parametrize("case", [c for c in CASES if _body_required(c)], ids=lambda case: case.id)
def test_a_missing_required_member_is_the_services_validation_error(case: Case, boto_client, world, sandbox):
    world["endpoint"] = sandbox.endpoint
    member = _body_required(case)[0]
    made = boto_client(case.service, validate=False)
    case.before(made, world)
    kwargs = {key: value for key, value in case.kwargs(world).items() if key != member}
    with pytest.raises(ClientError) as raised:
        getattr(made, case.method)(**kwargs)
    error = raised.value.response
    assert error["Error"]["Code"] == VALIDATION[case.service]
    assert error["Error"]["Code"] in {shape.name for shape in _operation(case).error_shapes}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert f"'{member}'" in error["Error"]["Message"]


@pytest.mark.parametrize(
    ("operation", "kwargs", "code"),
    [
        ("get_sip_rule", {"SipRuleId": MISSING_SMA}, "NotFound"),
        (
            "create_phone_number_order",
            {"ProductType": "SipMediaApplicationDialIn", "E164PhoneNumbers": []},
            "BadRequest",
        ),
    ],
)
def test_a_voice_error_carries_the_code_and_message_of_awss_own_model(boto_client, operation, kwargs, code):
    """botocore's chime-sdk-voice error shapes have no members; AWS's model, which the AWS SDK for JavaScript v3 is
    generated from, gives each a Code (ErrorCode) and a Message, and a JavaScript client reads error.Code."""
    voice = boto_client("chime-sdk-voice")
    with pytest.raises(ClientError):
        getattr(voice, operation)(**kwargs)
    _, _, body = voice.raw_bodies[-1]
    document = raw_json(body)
    assert document["Code"] == code
    assert document["Message"] == document["message"]
    assert document["Message"]
