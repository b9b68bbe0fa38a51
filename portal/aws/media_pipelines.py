"""Amazon Chime SDK media pipelines, thin and typed: capture pipelines and their concatenation."""

from __future__ import annotations

from typing import Any

from portal.aws.clients import aws_client

SERVICE = "chime-sdk-media-pipelines"
CONCATENATED_ARTIFACTS = (
    "Video", "Content", "DataChannel", "TranscriptionMessages", "MeetingEvents", "CompositedVideo",
)  # fmt: skip


async def capture_create(*, request: dict[str, Any]) -> dict[str, Any]:
    """CreateMediaCapturePipeline; `request` is its members (ClientRequestToken included)."""
    async with aws_client(SERVICE, mutating=True) as pipelines:
        return (await pipelines.create_media_capture_pipeline(**request))["MediaCapturePipeline"]


async def capture_get(*, pipeline_id: str) -> dict[str, Any]:
    """GetMediaCapturePipeline; an unknown pipeline raises AwsNotFound."""
    async with aws_client(SERVICE) as pipelines:
        return (await pipelines.get_media_capture_pipeline(MediaPipelineId=pipeline_id))["MediaCapturePipeline"]


async def capture_delete(*, pipeline_id: str) -> None:
    """DeleteMediaCapturePipeline: the pipeline goes Stopping, then Stopped."""
    async with aws_client(SERVICE, mutating=True) as pipelines:
        await pipelines.delete_media_capture_pipeline(MediaPipelineId=pipeline_id)


async def pipeline_tags(*, arn: str) -> dict[str, str]:
    """ListTagsForResource on the media pipeline's ARN: every tag it has in AWS.
    https://docs.aws.amazon.com/chime-sdk/latest/APIReference/API_media-pipelines-chime_ListTagsForResource.html"""
    async with aws_client(SERVICE) as pipelines:
        response = await pipelines.list_tags_for_resource(ResourceARN=arn)
    return {tag["Key"]: tag["Value"] for tag in response.get("Tags", [])}


async def captures_list(client: Any) -> list[dict[str, Any]]:
    """Every capture pipeline in the region (id and ARN): ListMediaCapturePipelines, every page."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"MaxResults": 100}
    while True:
        page = await client.list_media_capture_pipelines(**kwargs)
        found.extend(page.get("MediaCapturePipelines", []))
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


async def concatenation_create(
    *, capture_arn: str, destination_arn: str, token: str, enabled: tuple[str, ...] = ()
) -> dict[str, Any]:
    """CreateMediaConcatenationPipeline from one capture pipeline into one bucket: audio always, and the artifacts
    named in `enabled`; every other artifact state is given as Disabled (AWS requires all seven)."""
    states = {"Audio": {"State": "Enabled"}} | {
        name: {"State": "Enabled" if name in enabled else "Disabled"} for name in CONCATENATED_ARTIFACTS
    }
    source = {"MediaPipelineArn": capture_arn, "ChimeSdkMeetingConfiguration": {"ArtifactsConfiguration": states}}
    async with aws_client(SERVICE, mutating=True) as pipelines:
        response = await pipelines.create_media_concatenation_pipeline(
            Sources=[{"Type": "MediaCapturePipeline", "MediaCapturePipelineSourceConfiguration": source}],
            Sinks=[{"Type": "S3Bucket", "S3BucketSinkConfiguration": {"Destination": destination_arn}}],
            ClientRequestToken=token,
        )
    return response["MediaConcatenationPipeline"]


async def media_pipeline_get(*, pipeline_id: str) -> dict[str, Any]:
    """GetMediaPipeline: {"MediaConcatenationPipeline": ...} or {"MediaCapturePipeline": ...}; AwsNotFound."""
    async with aws_client(SERVICE) as pipelines:
        return (await pipelines.get_media_pipeline(MediaPipelineId=pipeline_id))["MediaPipeline"]
