"""The capture pipeline operation kinds: the AWS call each makes and what it changes in the portal's rows afterwards.

CreateMediaCapturePipeline and CreateMediaConcatenationPipeline are idempotent through ClientRequestToken (the
operation's token), so a retried attempt finds the pipeline its first attempt made. A stop that finds the pipeline
gone has nothing left to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from portal.aws import media_pipelines as aws
from portal.aws.errors import AwsError, AwsNotFound
from portal.core.drift import drift_changed
from portal.core.durations import minutes_in_words
from portal.core.models import Operation
from portal.core.operation_kinds import OperationCall, OperationKind, OperationSubject, register, resource_subject
from portal.core.permissions import MANAGE_RESOURCES, REVOKE_PARTICIPANTS
from portal.core.protection import protected_tags, protection_in_aws
from portal.pipelines.models import CapturePipeline, Concatenation


def _facts(pipeline: dict[str, Any]) -> dict[str, Any]:
    """What the portal keeps of AWS's answer, JSON-ready."""
    facts = {key: pipeline.get(key) for key in ("MediaPipelineId", "MediaPipelineArn", "Status")}
    created = pipeline.get("CreatedTimestamp")
    facts["CreatedTimestamp"] = created.isoformat() if isinstance(created, datetime) else created
    return facts


def _failure_words(error: AwsError) -> str:
    return f"{error.code}: {error.message}"


def _capture(operation: Operation) -> OperationSubject:
    """The capture as the recording of its meeting, linked to the capture's page."""
    meeting = operation.parameters.get("external_meeting_id")
    return resource_subject(operation, "pipeline_detail", name=f"recording of {meeting}" if meeting else "")


# --- start ----------------------------------------------------------------------------------------------------------


async def _create(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    request: dict[str, Any] = {
        "SourceType": "ChimeSdkMeeting",
        "SourceArn": p["source_arn"],
        "SinkType": "S3Bucket",
        "SinkArn": p["sink_arn"],
        "ClientRequestToken": call.idempotency_token,
        "ChimeSdkMeetingConfiguration": p["configuration"],
    }
    if p.get("tags"):
        request["Tags"] = [{"Key": key, "Value": value} for key, value in p["tags"].items()]
    return {"pipeline": _facts(await aws.capture_create(request=request))}


def _created(operation: Operation, effect_data: dict[str, Any]) -> None:
    facts = operation.result["pipeline"]
    capture = CapturePipeline.objects.select_for_update().get(pk=operation.parameters["capture_pk"])
    capture.media_pipeline_id = facts["MediaPipelineId"]
    capture.arn = facts.get("MediaPipelineArn") or ""
    if capture.status == CapturePipeline.Status.REQUESTED:  # an event or the refresher may have said more already
        capture.status = facts.get("Status") or CapturePipeline.Status.INITIALIZING
    capture.changed_at = timezone.now()
    capture.save()


def _creation_failed(operation: Operation, error: AwsError) -> None:
    CapturePipeline.objects.filter(pk=operation.parameters["capture_pk"]).update(
        status=CapturePipeline.Status.FAILED, failure=_failure_words(error), changed_at=timezone.now()
    )


def _describe_create(p: dict[str, Any], meeting: str) -> str:
    words = f"Record meeting {p.get('external_meeting_id') or meeting} into {p.get('sink_arn', '')}"
    policies = []
    if p.get("stop_when_empty_minutes"):
        policies.append(f"stop if nobody joins within {minutes_in_words(p['stop_when_empty_minutes'])}")
    if p.get("max_duration_minutes"):
        policies.append(f"stop after {minutes_in_words(p['max_duration_minutes'])}")
    return words + (f" ({'; '.join(policies)})" if policies else "")


CAPTURE_START = register(
    OperationKind(
        name="pipelines.start",
        subject=_capture,
        label="Record meeting",
        permission=MANAGE_RESOURCES,
        call=_create,
        on_success=_created,
        on_failure=_creation_failed,
        summary=lambda r: f"capture pipeline {r.get('pipeline', {}).get('MediaPipelineId')}",
        result_template="pipelines/capture_result.html",
        describe=_describe_create,
    )
)


# --- stop -----------------------------------------------------------------------------------------------------------


async def _stop(call: OperationCall) -> dict[str, Any]:
    try:
        if kept := await protection_in_aws(call, lambda: _pipeline_tags(call)):
            return kept
        await aws.capture_delete(pipeline_id=call.parameters["media_pipeline_id"])
    except AwsNotFound:
        return {"already_gone": True}
    return {}


async def _pipeline_tags(call: OperationCall) -> dict[str, str]:
    """The pipeline's tags in AWS, by its ARN (GetMediaCapturePipeline's, when the portal has none)."""
    pipeline_id = call.parameters["media_pipeline_id"]
    arn = call.parameters.get("arn") or (await aws.capture_get(pipeline_id=pipeline_id))["MediaPipelineArn"]
    return await aws.pipeline_tags(arn=arn)


def _stopped(operation: Operation, effect_data: dict[str, Any]) -> None:
    if (tags := protected_tags(operation)) is not None:  # not stopped: nor is the stop why it will end
        CapturePipeline.objects.filter(pk=operation.parameters["capture_pk"], stop_operation=operation).update(
            stop_operation=None, stop_reason=""
        )
        capture = CapturePipeline.objects.get(pk=operation.parameters["capture_pk"])
        drift_changed(capture, "tags", portal=capture.tags, aws=tags)  # adopted or not on the Drift page
        return
    CapturePipeline.objects.filter(pk=operation.parameters["capture_pk"], status__in=CapturePipeline.RUNNING).update(
        status=CapturePipeline.Status.STOPPING, status_at=timezone.now(), changed_at=timezone.now()
    )


def _stop_failed(operation: Operation, error: AwsError) -> None:
    CapturePipeline.objects.filter(pk=operation.parameters["capture_pk"], stop_operation=operation).update(
        stop_operation=None
    )


CAPTURE_STOP = register(
    OperationKind(
        name="pipelines.stop",
        subject=_capture,
        label="Stop recording",
        permission=REVOKE_PARTICIPANTS,
        call=_stop,
        on_success=_stopped,
        on_failure=_stop_failed,
        summary=lambda r: "it had already stopped" if r.get("already_gone") else "stopping; AWS says Stopped shortly",
        describe=lambda p, name: (
            f"Stop capture {name} of meeting {p.get('external_meeting_id')}"
            + (f" ({p['why']})" if p.get("why") else "")
        ),
    )
)


# --- concatenate ----------------------------------------------------------------------------------------------------


async def _concatenate(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    made = await aws.concatenation_create(
        capture_arn=p["capture_arn"], destination_arn=p["sink_arn"], token=call.idempotency_token
    )
    return {"pipeline": _facts(made)}


def _concatenating(operation: Operation, effect_data: dict[str, Any]) -> None:
    facts = operation.result["pipeline"]
    concatenation = Concatenation.objects.select_for_update().get(pk=operation.parameters["concatenation_pk"])
    concatenation.media_pipeline_id = facts["MediaPipelineId"]
    concatenation.arn = facts.get("MediaPipelineArn") or ""
    if concatenation.status == Concatenation.Status.REQUESTED:
        concatenation.status = facts.get("Status") or Concatenation.Status.INITIALIZING
    concatenation.save()


def _concatenation_failed(operation: Operation, error: AwsError) -> None:
    Concatenation.objects.filter(pk=operation.parameters["concatenation_pk"]).update(
        status=Concatenation.Status.FAILED, failure=_failure_words(error)
    )


CAPTURE_CONCATENATE = register(
    OperationKind(
        name="pipelines.concatenate",
        subject=_capture,
        label="Make one file",
        permission=MANAGE_RESOURCES,
        call=_concatenate,
        on_success=_concatenating,
        on_failure=_concatenation_failed,
        serial=False,
        summary=lambda r: f"concatenation pipeline {r.get('pipeline', {}).get('MediaPipelineId')}",
        result_template="pipelines/capture_result.html",
        describe=lambda p, name: f"Concatenate capture {name} into {p.get('sink_arn')}",
    )
)
