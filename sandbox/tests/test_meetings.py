"""Chime SDK meetings in the sandbox behave as AWS-FACTS.md and the API reference say."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from rtc_sandbox.client import SandboxControlError

REGION = "us-east-1"


def _meeting(chime, **extra):
    kwargs = {"ClientRequestToken": uuid.uuid4().hex, "MediaRegion": REGION, "ExternalMeetingId": "behaviour"}
    return chime.create_meeting(**{**kwargs, **extra})["Meeting"]


def _code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return raised.value.response["Error"]["Code"]


@pytest.fixture
def chime(boto_client):
    return boto_client("chime-sdk-meetings")


def test_create_meeting_is_idempotent_on_client_request_token(chime):
    first = _meeting(chime, ClientRequestToken="same-token")
    again = _meeting(chime, ClientRequestToken="same-token")
    assert first == again
    assert _meeting(chime)["MeetingId"] != first["MeetingId"]


def test_meeting_ids_urls_and_arn_are_well_formed(chime):
    meeting = _meeting(chime, MediaRegion="eu-west-2")
    assert uuid.UUID(meeting["MeetingId"]).version == 4
    assert meeting["MeetingArn"] == f"arn:aws:chime:us-east-1:123456789012:meeting/{meeting['MeetingId']}"
    placement = meeting["MediaPlacement"]
    assert placement["SignalingUrl"].startswith("wss://signal.m3.ew2.app.chime.aws/control/")
    assert placement["AudioFallbackUrl"].endswith(meeting["MeetingId"])
    assert set(placement) == {
        "AudioHostUrl", "AudioFallbackUrl", "SignalingUrl", "TurnControlUrl",
        "ScreenDataUrl", "ScreenViewingUrl", "ScreenSharingUrl", "EventIngestionUrl",
    }  # fmt: skip


def test_unknown_media_region_is_a_bad_request(chime):
    with pytest.raises(ClientError) as raised:
        _meeting(chime, MediaRegion="mars-north-1")
    assert _code(raised) == "BadRequestException"


def test_external_user_id_is_an_idempotency_token(chime):
    meeting = _meeting(chime)
    first = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="same-person")["Attendee"]
    again = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="same-person")["Attendee"]
    assert first == again
    batch = chime.batch_create_attendee(
        MeetingId=meeting["MeetingId"], Attendees=[{"ExternalUserId": "same-person"}, {"ExternalUserId": "other"}]
    )
    assert batch["Attendees"][0]["AttendeeId"] == first["AttendeeId"]
    assert len(chime.list_attendees(MeetingId=meeting["MeetingId"])["Attendees"]) == 2


BAD_CAPABILITIES = {"Audio": "SendReceive", "Video": "Send", "Content": "Receive"}


def test_content_receive_requires_video_receive(chime):
    meeting = _meeting(chime)
    with pytest.raises(ClientError) as raised:
        chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="p-1", Capabilities=BAD_CAPABILITIES)
    assert _code(raised) == "BadRequestException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="p-2")["Attendee"]
    with pytest.raises(ClientError):
        chime.update_attendee_capabilities(
            MeetingId=meeting["MeetingId"], AttendeeId=attendee["AttendeeId"], Capabilities=BAD_CAPABILITIES
        )
    assert chime.get_attendee(MeetingId=meeting["MeetingId"], AttendeeId=attendee["AttendeeId"])["Attendee"][
        "Capabilities"
    ] == {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}


def test_batch_create_reports_errors_per_attendee(chime):
    meeting = _meeting(chime)
    result = chime.batch_create_attendee(
        MeetingId=meeting["MeetingId"],
        Attendees=[{"ExternalUserId": "good"}, {"ExternalUserId": "bad", "Capabilities": BAD_CAPABILITIES}],
    )
    assert [a["ExternalUserId"] for a in result["Attendees"]] == ["good"]
    assert result["Errors"] == [
        {"ExternalUserId": "bad", "ErrorCode": "BadRequest", "ErrorMessage": result["Errors"][0]["ErrorMessage"]}
    ]


def test_batch_update_capabilities_spares_the_excluded(chime):
    meeting = _meeting(chime)
    kept = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="kept")["Attendee"]
    changed = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="changed")["Attendee"]
    muted = {"Audio": "Receive", "Video": "Receive", "Content": "Receive"}
    chime.batch_update_attendee_capabilities_except(
        MeetingId=meeting["MeetingId"], ExcludedAttendeeIds=[{"AttendeeId": kept["AttendeeId"]}], Capabilities=muted
    )
    get = chime.get_attendee
    assert get(MeetingId=meeting["MeetingId"], AttendeeId=changed["AttendeeId"])["Attendee"]["Capabilities"] == muted
    assert get(MeetingId=meeting["MeetingId"], AttendeeId=kept["AttendeeId"])["Attendee"]["Capabilities"] != muted


def test_max_count_limits_attendees(chime):
    meeting = _meeting(chime, MeetingFeatures={"Attendee": {"MaxCount": 2}})
    for person in ("a1", "a2"):
        chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId=person)
    with pytest.raises(ClientError) as raised:
        chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="a3")
    assert _code(raised) == "LimitExceededException"


def test_list_attendees_paginates(chime):
    meeting = _meeting(chime)
    chime.batch_create_attendee(
        MeetingId=meeting["MeetingId"], Attendees=[{"ExternalUserId": f"person-{n}"} for n in range(7)]
    )
    first = chime.list_attendees(MeetingId=meeting["MeetingId"], MaxResults=3)
    assert len(first["Attendees"]) == 3
    assert first["NextToken"]
    seen = [a["ExternalUserId"] for a in first["Attendees"]]
    token = first["NextToken"]
    while token:
        page = chime.list_attendees(MeetingId=meeting["MeetingId"], MaxResults=3, NextToken=token)
        seen += [a["ExternalUserId"] for a in page["Attendees"]]
        token = page.get("NextToken")
    assert sorted(seen) == sorted(f"person-{n}" for n in range(7))
    with pytest.raises(ClientError) as raised:
        chime.list_attendees(MeetingId=meeting["MeetingId"], NextToken="bogus!!")
    assert _code(raised) == "BadRequestException"


def test_tags(chime):
    meeting = _meeting(chime, Tags=[{"Key": "team", "Value": "rtc"}])
    arn = meeting["MeetingArn"]
    chime.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    chime.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert chime.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as raised:
        chime.tag_resource(ResourceARN=arn, Tags=[{"Key": "aws:reserved", "Value": "x"}])
    assert _code(raised) == "BadRequestException"
    with pytest.raises(ClientError) as raised:
        chime.tag_resource(ResourceARN=arn, Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(50)])
    assert _code(raised) == "TooManyTagsException"


def test_delete_meeting_ends_it_and_its_attendees(chime, sandbox):
    meeting = _meeting(chime)
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="person")["Attendee"]
    chime.delete_meeting(MeetingId=meeting["MeetingId"])
    for call in (
        lambda: chime.get_meeting(MeetingId=meeting["MeetingId"]),
        lambda: chime.list_attendees(MeetingId=meeting["MeetingId"]),
        lambda: chime.get_attendee(MeetingId=meeting["MeetingId"], AttendeeId=attendee["AttendeeId"]),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert _code(raised) == "NotFoundException"
    with pytest.raises(SandboxControlError) as refused:
        sandbox.meeting_join(attendee["JoinToken"])
    assert refused.value.status == 403


def test_delete_attendee_revokes_the_join_token(chime, sandbox):
    meeting = _meeting(chime)
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="person")["Attendee"]
    sandbox.meeting_join(attendee["JoinToken"])
    chime.delete_attendee(MeetingId=meeting["MeetingId"], AttendeeId=attendee["AttendeeId"])
    with pytest.raises(SandboxControlError) as refused:
        sandbox.meeting_join(attendee["JoinToken"])
    assert refused.value.code == "InvalidJoinToken"


def test_a_meeting_nobody_is_in_ends_after_five_minutes(chime, sandbox):
    meeting = _meeting(chime)
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="person")["Attendee"]
    sandbox.meeting_join(attendee["JoinToken"])
    sandbox.advance(600)
    assert chime.get_meeting(MeetingId=meeting["MeetingId"])  # someone is connected: it goes on
    sandbox.meeting_leave(meeting["MeetingId"], attendee["AttendeeId"])
    sandbox.advance(299)
    assert chime.get_meeting(MeetingId=meeting["MeetingId"])
    sandbox.advance(2)
    with pytest.raises(ClientError) as raised:
        chime.get_meeting(MeetingId=meeting["MeetingId"])
    assert _code(raised) == "NotFoundException"


def test_a_meeting_ends_24_hours_after_creation(chime, sandbox):
    meeting = _meeting(chime)
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="person")["Attendee"]
    sandbox.meeting_join(attendee["JoinToken"])
    sandbox.advance(24 * 3600 + 1)
    with pytest.raises(ClientError):
        chime.get_meeting(MeetingId=meeting["MeetingId"])


def test_replicas_end_with_their_primary(chime):
    primary = _meeting(chime)
    replica = _meeting(chime, PrimaryMeetingId=primary["MeetingId"])
    assert replica["PrimaryMeetingId"] == primary["MeetingId"]
    chime.delete_meeting(MeetingId=primary["MeetingId"])
    with pytest.raises(ClientError):
        chime.get_meeting(MeetingId=replica["MeetingId"])


def test_events_are_delivered_to_sqs_and_sns(boto_client, chime, sandbox):
    sqs, sns = boto_client("sqs"), boto_client("sns")
    queue = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=f"events-{uuid.uuid4().hex[:8]}")["TopicArn"]
    topic_queue = sqs.create_queue(QueueName=f"topic-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    topic_queue_arn = sqs.get_queue_attributes(QueueUrl=topic_queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=topic_queue_arn, Attributes={"RawMessageDelivery": "true"})
    meeting = _meeting(chime, NotificationsConfiguration={"SqsQueueArn": queue_arn, "SnsTopicArn": topic})
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="caller")["Attendee"]
    sandbox.meeting_join(attendee["JoinToken"])
    sandbox.meeting_leave(meeting["MeetingId"], attendee["AttendeeId"])
    chime.delete_attendee(MeetingId=meeting["MeetingId"], AttendeeId=attendee["AttendeeId"])
    chime.delete_meeting(MeetingId=meeting["MeetingId"])

    def received(url: str) -> list[dict]:
        messages = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            messages += [json.loads(m["Body"]) for m in batch]
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)]
            )
        return messages

    expected = ["chime:MeetingStarted", "chime:AttendeeAdded", "chime:AttendeeJoined", "chime:AttendeeLeft",
                "chime:AttendeeDeleted", "chime:MeetingEnded"]  # fmt: skip
    for url in (queue, topic_queue):
        events = received(url)
        assert [e["detail"]["eventType"] for e in events] == expected
        joined = events[2]
        assert joined["detail-type"] == "Chime Meeting State Change"
        assert joined["source"] == "aws.chime"
        assert joined["account"] == "123456789012"
        assert joined["detail"]["meetingId"] == meeting["MeetingId"]
        assert joined["detail"]["attendeeId"] == attendee["AttendeeId"]
        assert joined["detail"]["externalUserId"] == "caller"


def test_video_is_refused_when_the_meetings_video_resolution_is_none(chime):
    meeting = _meeting(chime, MeetingFeatures={"Video": {"MaxResolution": "None"}})
    sending = {"Audio": "SendReceive", "Video": "Send", "Content": "None"}
    with pytest.raises(ClientError) as raised:
        chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="camera", Capabilities=sending)
    assert _code(raised) == "BadRequestException"
    quiet = {"Audio": "SendReceive", "Video": "None", "Content": "None"}
    attendee = chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="voice", Capabilities=quiet)
    with pytest.raises(ClientError):
        chime.update_attendee_capabilities(
            MeetingId=meeting["MeetingId"], AttendeeId=attendee["Attendee"]["AttendeeId"], Capabilities=sending
        )


def test_transcription_start_and_stop(chime):
    meeting = _meeting(chime)
    with pytest.raises(ClientError) as raised:
        chime.stop_meeting_transcription(MeetingId=meeting["MeetingId"])
    assert _code(raised) == "UnprocessableEntityException"
    chime.start_meeting_transcription(
        MeetingId=meeting["MeetingId"],
        TranscriptionConfiguration={"EngineTranscribeSettings": {"LanguageCode": "en-US"}},
    )
    chime.stop_meeting_transcription(MeetingId=meeting["MeetingId"])


def test_meeting_ids_in_paths_are_validated(boto_client):
    chime = boto_client("chime-sdk-meetings", validate=False)
    with pytest.raises(ClientError) as raised:
        chime.get_meeting(MeetingId="not-a-guid")
    assert _code(raised) == "BadRequestException"
    assert "MeetingId" in raised.value.response["Error"]["Message"]
