"""Amazon Chime SDK meetings, thin and typed: one coroutine per API call the portal makes."""

from __future__ import annotations

from typing import Any

from portal.aws.clients import aws_client

SERVICE = "chime-sdk-meetings"
BATCH_CREATE_MAX = 100  # BatchCreateAttendee takes at most 100 attendees per call
# The Chime SDK media regions (AWS documentation, "Available media regions"); MediaRegion is a free string in the model.
MEDIA_REGIONS = (
    "af-south-1", "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
    "ca-central-1", "eu-central-1", "eu-north-1", "eu-south-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "il-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2", "us-gov-east-1",
    "us-gov-west-1",
)  # fmt: skip


async def meeting_create(*, request: dict[str, Any], attendees: list[dict[str, Any]]) -> dict[str, Any]:
    """CreateMeetingWithAttendees when there are attendees, else CreateMeeting; `request` is the meeting's members."""
    async with aws_client(SERVICE, mutating=True) as chime:
        if attendees:
            return await chime.create_meeting_with_attendees(**request, Attendees=attendees)
        return await chime.create_meeting(**request)


async def meeting_get(*, meeting_id: str) -> dict[str, Any]:
    """GetMeeting; a meeting that has ended raises AwsNotFound."""
    async with aws_client(SERVICE) as chime:
        return (await chime.get_meeting(MeetingId=meeting_id))["Meeting"]


async def meeting_delete(*, meeting_id: str) -> None:
    async with aws_client(SERVICE, mutating=True) as chime:
        await chime.delete_meeting(MeetingId=meeting_id)


async def meeting_tags(*, arn: str) -> dict[str, str]:
    """ListTagsForResource on the meeting's ARN: every tag it has in AWS.
    https://docs.aws.amazon.com/chime-sdk/latest/APIReference/API_meeting-chime_ListTagsForResource.html"""
    async with aws_client(SERVICE) as chime:
        response = await chime.list_tags_for_resource(ResourceARN=arn)
    return {tag["Key"]: tag["Value"] for tag in response.get("Tags", [])}


async def attendees_create(*, meeting_id: str, attendees: list[dict[str, Any]]) -> dict[str, Any]:
    """BatchCreateAttendee for at most BATCH_CREATE_MAX attendees: {"Attendees": [...], "Errors": [...]}."""
    async with aws_client(SERVICE, mutating=True) as chime:
        return await chime.batch_create_attendee(MeetingId=meeting_id, Attendees=attendees)


async def attendee_delete(*, meeting_id: str, attendee_id: str) -> None:
    async with aws_client(SERVICE, mutating=True) as chime:
        await chime.delete_attendee(MeetingId=meeting_id, AttendeeId=attendee_id)


async def attendee_capabilities_update(
    *, meeting_id: str, attendee_id: str, capabilities: dict[str, str]
) -> dict[str, Any]:
    async with aws_client(SERVICE, mutating=True) as chime:
        response = await chime.update_attendee_capabilities(
            MeetingId=meeting_id, AttendeeId=attendee_id, Capabilities=capabilities
        )
    return response["Attendee"]


async def attendees_capabilities_update_except(
    *, meeting_id: str, excluded: list[str], capabilities: dict[str, str]
) -> None:
    async with aws_client(SERVICE, mutating=True) as chime:
        await chime.batch_update_attendee_capabilities_except(
            MeetingId=meeting_id,
            ExcludedAttendeeIds=[{"AttendeeId": attendee_id} for attendee_id in excluded],
            Capabilities=capabilities,
        )


async def attendees_list(client: Any, *, meeting_id: str) -> list[dict[str, Any]]:
    """Every attendee created in the meeting (not who is connected): ListAttendees, every page."""
    attendees: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"MeetingId": meeting_id, "MaxResults": 100}
    while True:
        page = await client.list_attendees(**kwargs)
        attendees.extend(page["Attendees"])
        if not page.get("NextToken"):
            return attendees
        kwargs["NextToken"] = page["NextToken"]
