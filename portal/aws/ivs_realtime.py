"""Amazon IVS Real-Time, thin and typed: one coroutine per API call the portal makes."""

from __future__ import annotations

from typing import Any

from portal.aws.clients import aws_client

SERVICE = "ivs-realtime"


async def stage_create(*, name: str, tags: dict[str, str], tokens: list[dict[str, Any]]) -> dict[str, Any]:
    async with aws_client(SERVICE, mutating=True) as ivs:
        return await ivs.create_stage(name=name, tags=tags, participantTokenConfigurations=tokens)


async def stage_get(*, arn: str) -> dict[str, Any]:
    async with aws_client(SERVICE) as ivs:
        return (await ivs.get_stage(arn=arn))["stage"]


async def stage_update(*, arn: str, name: str) -> dict[str, Any]:
    async with aws_client(SERVICE, mutating=True) as ivs:
        return (await ivs.update_stage(arn=arn, name=name))["stage"]


async def stage_delete(*, arn: str) -> None:
    async with aws_client(SERVICE, mutating=True) as ivs:
        await ivs.delete_stage(arn=arn)


async def stages_list_all() -> list[dict[str, Any]]:
    """Every stage in the region: ListStages, every page."""
    async with aws_client(SERVICE) as ivs:
        return await stages(ivs)


async def participant_token_create(
    *, stage_arn: str, user_id: str, capabilities: list[str], duration: int, attributes: dict[str, str]
) -> dict[str, Any]:
    async with aws_client(SERVICE, mutating=True) as ivs:
        response = await ivs.create_participant_token(
            stageArn=stage_arn, userId=user_id, capabilities=capabilities, duration=duration, attributes=attributes
        )
    return response["participantToken"]


async def participant_disconnect(*, stage_arn: str, participant_id: str, reason: str) -> None:
    async with aws_client(SERVICE, mutating=True) as ivs:
        await ivs.disconnect_participant(stageArn=stage_arn, participantId=participant_id, reason=reason)


async def tags_add(*, arn: str, tags: dict[str, str]) -> None:
    async with aws_client(SERVICE, mutating=True) as ivs:
        await ivs.tag_resource(resourceArn=arn, tags=tags)


async def tags_remove(*, arn: str, keys: list[str]) -> None:
    async with aws_client(SERVICE, mutating=True) as ivs:
        await ivs.untag_resource(resourceArn=arn, tagKeys=keys)


async def tags_of(*, arn: str) -> dict[str, str]:
    """ListTagsForResource: every tag the resource has in AWS.
    https://docs.aws.amazon.com/ivs/latest/RealTimeAPIReference/API_ListTagsForResource.html"""
    async with aws_client(SERVICE) as ivs:
        return dict((await ivs.list_tags_for_resource(resourceArn=arn))["tags"])


# Listings for the refresh, which uses one client for many calls. The shared rate limiter paces every page.


async def _pages(call: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await call(maxResults=100, **kwargs)
        items.extend(page[key])
        if not page.get("nextToken"):
            return items
        kwargs["nextToken"] = page["nextToken"]


async def stages(ivs: Any) -> list[dict[str, Any]]:
    return await _pages(ivs.list_stages, "stages")


async def stage_sessions(ivs: Any, *, stage_arn: str) -> list[dict[str, Any]]:
    return await _pages(ivs.list_stage_sessions, "stageSessions", stageArn=stage_arn)


async def participants(ivs: Any, *, stage_arn: str, session_id: str, **aws_filter: Any) -> list[dict[str, Any]]:
    """ListParticipants, every page; `aws_filter` is at most one of filterByUserId, filterByState,
    filterByPublished, filterByRecordingState."""
    return await _pages(ivs.list_participants, "participants", stageArn=stage_arn, sessionId=session_id, **aws_filter)


async def participant_get(ivs: Any, *, stage_arn: str, session_id: str, participant_id: str) -> dict[str, Any]:
    response = await ivs.get_participant(stageArn=stage_arn, sessionId=session_id, participantId=participant_id)
    return response["participant"]


async def participant_events(ivs: Any, *, stage_arn: str, session_id: str, participant_id: str) -> list[dict[str, Any]]:
    return await _pages(
        ivs.list_participant_events, "events", stageArn=stage_arn, sessionId=session_id, participantId=participant_id
    )
