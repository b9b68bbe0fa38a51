"""IVS Real-Time stages in the sandbox: tokens, sessions, participants, revocation."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from rtc_sandbox.client import SandboxControlError


@pytest.fixture
def ivs(boto_client, sandbox):
    sandbox.quotas(enabled=False)  # these tests make more calls per second than the 5 TPS quota
    return boto_client("ivs-realtime")


def _code(raised) -> str:
    return raised.value.response["Error"]["Code"]


def test_create_stage_issues_its_tokens(ivs):
    created = ivs.create_stage(
        name="town-hall",
        tags={"team": "rtc"},
        participantTokenConfigurations=[
            {
                "userId": "host",
                "capabilities": ["PUBLISH", "SUBSCRIBE"],
                "duration": 60,
                "attributes": {"role": "host"},
            },
            {"userId": "viewer", "capabilities": ["SUBSCRIBE"]},
        ],
    )
    stage = created["stage"]
    assert stage["arn"].startswith("arn:aws:ivs:us-east-1:123456789012:stage/")
    assert stage["name"] == "town-hall"
    assert stage["tags"] == {"team": "rtc"}
    assert "activeSessionId" not in stage
    assert set(stage["endpoints"]) == {"events", "whip", "rtmp", "rtmps"}
    host, viewer = created["participantTokens"]
    assert host["userId"] == "host"
    assert host["duration"] == 60
    assert host["attributes"] == {"role": "host"}
    assert viewer["capabilities"] == ["SUBSCRIBE"]
    assert viewer["duration"] == 720
    assert host["participantId"] != viewer["participantId"]
    assert host["token"] != viewer["token"]


def test_token_defaults(ivs):
    stage = ivs.create_stage(name="defaults")["stage"]
    token = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    assert token["capabilities"] == ["PUBLISH", "SUBSCRIBE"]
    assert token["duration"] == 720
    remaining = token["expirationTime"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=719) < remaining <= dt.timedelta(minutes=720)


def test_attributes_are_limited_to_one_kilobyte(ivs):
    stage = ivs.create_stage(name="attrs")["stage"]
    ivs.create_participant_token(stageArn=stage["arn"], attributes={"a": "x" * 1000})
    with pytest.raises(ClientError) as raised:
        ivs.create_participant_token(stageArn=stage["arn"], attributes={"a": "x" * 1024})
    assert _code(raised) == "ValidationException"


def test_invalid_names_durations_and_token_counts_are_refused(boto_client, ivs):
    raw = boto_client("ivs-realtime", validate=False)
    for kwargs in (
        {"name": "has spaces"},
        {"name": "x" * 129},
        {"participantTokenConfigurations": [{"duration": 20161}]},
        {"participantTokenConfigurations": [{"userId": "u"}] * 13},
        {"tags": {"aws:reserved": "x"}},
    ):
        with pytest.raises(ClientError) as raised:
            raw.create_stage(**kwargs)
        assert _code(raised) == "ValidationException", kwargs
    assert ivs.list_stages()["stages"] == []


def test_list_stages_paginates(ivs):
    arns = [ivs.create_stage(name=f"s{n}")["stage"]["arn"] for n in range(5)]
    first = ivs.list_stages(maxResults=2)
    seen, token = [s["arn"] for s in first["stages"]], first["nextToken"]
    while token:
        page = ivs.list_stages(maxResults=2, nextToken=token)
        seen += [s["arn"] for s in page["stages"]]
        token = page.get("nextToken")
    assert seen == arns


def test_a_session_starts_with_the_first_join_and_ends_after_the_last_leaves(ivs, sandbox):
    created = ivs.create_stage(name="live", participantTokenConfigurations=[{"userId": "a"}, {"userId": "b"}])
    arn = created["stage"]["arn"]
    a, b = created["participantTokens"]
    joined = sandbox.stage_join(a["token"])
    session = ivs.get_stage(arn=arn)["stage"]["activeSessionId"]
    assert session == joined["sessionId"]
    assert len(session) == 16
    assert session.startswith("st-")
    sandbox.stage_join(b["token"])
    sandbox.stage_leave(arn, a["participantId"])
    sandbox.stage_leave(arn, b["participantId"])
    sandbox.advance(60)
    assert ivs.get_stage(arn=arn)["stage"]["activeSessionId"] == session
    sandbox.advance(200)
    assert "activeSessionId" not in ivs.get_stage(arn=arn)["stage"]
    ended = ivs.get_stage_session(stageArn=arn, sessionId=session)["stageSession"]
    assert ended["endTime"] > ended["startTime"]
    assert [s["sessionId"] for s in ivs.list_stage_sessions(stageArn=arn)["stageSessions"]] == [session]


def test_disconnect_drops_the_participant_and_revokes_the_token(ivs, sandbox):
    created = ivs.create_stage(name="support", participantTokenConfigurations=[{"userId": "troll"}])
    arn, token = created["stage"]["arn"], created["participantTokens"][0]
    joined = sandbox.stage_join(token["token"], publish=True)
    ivs.disconnect_participant(stageArn=arn, participantId=token["participantId"], reason="abuse")
    participant = ivs.get_participant(stageArn=arn, sessionId=joined["sessionId"], participantId=token["participantId"])
    assert participant["participant"]["state"] == "DISCONNECTED"
    assert participant["participant"]["published"] is False
    with pytest.raises(SandboxControlError) as refused:
        sandbox.stage_join(token["token"])
    assert (refused.value.status, refused.value.code) == (403, "TokenRevoked")
    events = ivs.list_participant_events(
        stageArn=arn, sessionId=joined["sessionId"], participantId=token["participantId"]
    )
    assert [e["name"] for e in events["events"]] == ["JOINED", "PUBLISH_STARTED", "PUBLISH_STOPPED", "LEFT"]


def test_a_participant_who_left_may_rejoin_with_the_same_token(ivs, sandbox):
    created = ivs.create_stage(name="rejoin", participantTokenConfigurations=[{"userId": "u"}])
    arn, token = created["stage"]["arn"], created["participantTokens"][0]
    sandbox.stage_join(token["token"])
    sandbox.stage_leave(arn, token["participantId"])
    again = sandbox.stage_join(token["token"])
    participants = ivs.list_participants(stageArn=arn, sessionId=again["sessionId"])["participants"]
    assert [(p["participantId"], p["state"]) for p in participants] == [(token["participantId"], "CONNECTED")]


def test_unknown_and_expired_tokens_cannot_join(ivs, sandbox):
    stage = ivs.create_stage(name="expiry")["stage"]
    token = ivs.create_participant_token(stageArn=stage["arn"], duration=1)["participantToken"]
    with pytest.raises(SandboxControlError) as refused:
        sandbox.stage_join("not-a-token")
    assert refused.value.code == "UnknownToken"
    sandbox.advance(61)
    with pytest.raises(SandboxControlError) as refused:
        sandbox.stage_join(token["token"])
    assert refused.value.code == "TokenExpired"


def test_disconnecting_an_unknown_participant_is_not_found(ivs):
    stage = ivs.create_stage(name="nobody")["stage"]
    with pytest.raises(ClientError) as raised:
        ivs.disconnect_participant(stageArn=stage["arn"], participantId="nobody")
    assert _code(raised) == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_deleting_a_stage_disconnects_everyone(ivs, sandbox):
    created = ivs.create_stage(name="doomed", participantTokenConfigurations=[{"userId": "a"}])
    arn, token = created["stage"]["arn"], created["participantTokens"][0]
    joined = sandbox.stage_join(token["token"])
    ivs.delete_stage(arn=arn)
    with pytest.raises(ClientError) as raised:
        ivs.get_stage(arn=arn)
    assert _code(raised) == "ResourceNotFoundException"
    with pytest.raises(SandboxControlError):
        sandbox.stage_join(token["token"])
    state = sandbox.state()["state"]["ivs.participants"]
    assert state[f"{joined['sessionId']}/{token['participantId']}"]["state"] == "DISCONNECTED"


def test_list_participants_filters_one_at_a_time(ivs, sandbox):
    created = ivs.create_stage(
        name="filters",
        participantTokenConfigurations=[{"userId": "pub"}, {"userId": "sub", "capabilities": ["SUBSCRIBE"]}],
    )
    arn = created["stage"]["arn"]
    pub, sub = created["participantTokens"]
    session = sandbox.stage_join(pub["token"], publish=True)["sessionId"]
    sandbox.stage_join(sub["token"], publish=True)  # no PUBLISH capability: a PUBLISH_ERROR, not published
    sandbox.stage_leave(arn, sub["participantId"])

    def ids(**filters):
        return [p["userId"] for p in ivs.list_participants(stageArn=arn, sessionId=session, **filters)["participants"]]

    assert ids() == ["pub", "sub"]
    assert ids(filterByUserId="sub") == ["sub"]
    assert ids(filterByPublished=True) == ["pub"]
    assert ids(filterByState="DISCONNECTED") == ["sub"]
    with pytest.raises(ClientError) as raised:
        ids(filterByUserId="pub", filterByState="CONNECTED")
    assert _code(raised) == "ValidationException"
    events = ivs.list_participant_events(stageArn=arn, sessionId=session, participantId=sub["participantId"])["events"]
    assert {"name": "PUBLISH_ERROR", "errorCode": "INSUFFICIENT_CAPABILITIES"}.items() <= events[1].items()


def test_update_stage_and_tags(ivs):
    arn = ivs.create_stage(name="before", tags={"a": "1"})["stage"]["arn"]
    assert ivs.update_stage(arn=arn, name="after")["stage"]["name"] == "after"
    ivs.tag_resource(resourceArn=arn, tags={"b": "2"})
    ivs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert ivs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    assert ivs.get_stage(arn=arn)["stage"]["tags"] == {"b": "2"}
    with pytest.raises(ClientError) as raised:
        ivs.tag_resource(resourceArn=arn, tags={f"k{n}": "v" for n in range(50)})
    assert _code(raised) == "ValidationException"


def test_stage_quota_per_region(ivs, sandbox, monkeypatch):
    from rtc_sandbox import stages

    monkeypatch.setattr(stages, "MAX_STAGES_PER_REGION", 3)
    for n in range(3):
        ivs.create_stage(name=f"q{n}")
    with pytest.raises(ClientError) as raised:
        ivs.create_stage(name="one-too-many")
    assert _code(raised) == "ServiceQuotaExceededException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402


def test_get_participant_describes_the_client_the_join_named(ivs, sandbox):
    created = ivs.create_stage(name="clients", participantTokenConfigurations=[{"userId": "a"}, {"userId": "b"}])
    arn, (a, b) = created["stage"]["arn"], created["participantTokens"]
    client = {"browserName": "Firefox", "browserVersion": "128", "osName": "macOS", "osVersion": "14.5",
              "sdkVersion": "1.27.0", "ispName": "Example Telecom", "protocol": "WHIP"}  # fmt: skip
    joined = sandbox.stage_join(a["token"], client=client)
    sandbox.stage_join(b["token"])
    described = ivs.get_participant(stageArn=arn, sessionId=joined["sessionId"], participantId=a["participantId"])
    assert {key: described["participant"][key] for key in client} == client
    default = ivs.get_participant(stageArn=arn, sessionId=joined["sessionId"], participantId=b["participantId"])
    assert (default["participant"]["browserName"], default["participant"]["protocol"]) == ("Chromium", "UNKNOWN")
    summary = ivs.list_participants(stageArn=arn, sessionId=joined["sessionId"])["participants"][0]
    assert "browserName" not in summary  # ListParticipants' summaries carry no client details, as in the model


@pytest.mark.parametrize("client", [{"protocol": "SRT"}, {"browserName": 5}], ids=["protocol", "type"])
def test_client_details_the_model_cannot_hold_are_refused(ivs, sandbox, client):
    created = ivs.create_stage(name="bad-client", participantTokenConfigurations=[{"userId": "a"}])
    with pytest.raises(SandboxControlError) as refused:
        sandbox.stage_join(created["participantTokens"][0]["token"], client=client)
    assert (refused.value.status, refused.value.code) == (400, "InvalidRequest")
    assert not sandbox.state()["state"].get("ivs.participants")


def test_recording_state_follows_auto_recording_and_publishing(ivs, sandbox):
    storage = "arn:aws:ivs:us-east-1:123456789012:storage-configuration/AbCdEfGh1234"
    created = ivs.create_stage(
        name="recorded",
        participantTokenConfigurations=[{"userId": "host"}, {"userId": "guest"}],
        autoParticipantRecordingConfiguration={"storageConfigurationArn": storage, "mediaTypes": ["AUDIO_VIDEO"]},
    )
    arn, (host, guest) = created["stage"]["arn"], created["participantTokens"]
    joined = sandbox.stage_join(host["token"], publish=True)
    sandbox.stage_join(guest["token"])
    session = joined["sessionId"]

    def states() -> dict[str, str]:
        listed = ivs.list_participants(stageArn=arn, sessionId=session)["participants"]
        return {p["userId"]: p["recordingState"] for p in listed}

    assert states() == {"host": "ACTIVE", "guest": "DISABLED"}
    active = ivs.list_participants(stageArn=arn, sessionId=session, filterByRecordingState="ACTIVE")
    assert [p["userId"] for p in active["participants"]] == ["host"]
    sandbox.stage_publish(arn, host["participantId"], published=False)
    assert states() == {"host": "STOPPED", "guest": "DISABLED"}
