"""The signaling channel operation kinds: the KVS call each makes and what it changes in the registry afterwards.

CreateSignalingChannel has no idempotency token. The channel's name is the key instead: it is unique per account
and region, and the registry holds it from the request on (a unique constraint on live rows), so no second portal
request can ask for it. When an attempt's outcome was lost and the retry hears ResourceInUseException, the channel
of that name is ours if AWS created it after the operation was requested and no other row holds its ARN: the retry
then records it as created. A channel of that name made outside the portal before the request stays a failure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from portal.aws import kinesis_video as kvs
from portal.aws.errors import AwsConflict, AwsError, AwsNotFound, aws_error_class
from portal.channels.models import Channel
from portal.core.errors import Conflict, DomainError, NotAllowedInState, Remedy
from portal.core.models import Operation
from portal.core.operation_kinds import (
    SECRETS,
    OperationCall,
    OperationKind,
    OperationSubject,
    register,
    resource_subject,
)
from portal.core.permissions import MANAGE_RESOURCES
from portal.core.protection import protected_tags, protection_in_aws
from portal.core.tagging import tag_kinds_register, tag_words

IN_USE = "ResourceInUseException"
VERSION_MISMATCH = "VersionMismatchException"
CLOCK_SKEW = timedelta(seconds=5)  # AWS's clock against ours, when telling our channel from an older one


def _channel_missing(operation: Operation, error: AwsError) -> None:
    """AWS does not know the channel the operation was about: it was deleted outside the portal."""
    if issubclass(aws_error_class(error.code) or AwsError, AwsNotFound):
        Channel.objects.filter(pk=operation.parameters["channel_id"], status__in=Channel.IN_AWS).update(
            status=Channel.Status.GONE, changed_at=timezone.now()
        )


def _refusal_now(operation: Operation) -> DomainError | None:
    """A change to a channel that is not active now cannot succeed: say why."""
    from portal.channels.services import channel_require_active

    channel = Channel.objects.filter(pk=operation.parameters.get("channel_id")).first()
    try:
        if channel is not None:
            channel_require_active(channel=channel)
    except DomainError as refusal:
        return refusal
    return None


def _channel(operation: Operation) -> OperationSubject:
    return resource_subject(operation, "channel_detail")


# --- create ---------------------------------------------------------------------------------------------------------


def _created_after(info: dict[str, Any], requested_at: str) -> bool:
    created = info.get("CreationTime")
    requested = parse_datetime(requested_at)
    return isinstance(created, datetime) and requested is not None and created >= requested - CLOCK_SKEW


async def _create(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    try:
        arn = await kvs.channel_create(name=p["name"], channel_type=p["channel_type"], ttl=p["ttl"], tags=p["tags"])
    except AwsConflict as error:
        if error.code != IN_USE or call.attempt == 1:
            raise
        info = await kvs.channel_describe(name=p["name"])  # an earlier attempt may have created it
        if not _created_after(info, p["requested_at"]):
            raise
        return {"arn": info["ChannelARN"], "recovered": True}
    return {"arn": arn}


def _created(operation: Operation, effect_data: dict[str, Any]) -> None:
    Channel.objects.filter(pk=operation.parameters["channel_id"]).update(
        arn=operation.result["arn"], changed_at=timezone.now(), refreshed_at=None
    )


def _creation_failed(operation: Operation, error: AwsError) -> None:
    Channel.objects.filter(pk=operation.parameters["channel_id"], arn__isnull=True).update(
        status=Channel.Status.FAILED, changed_at=timezone.now()
    )


def _explain_create(operation: Operation) -> DomainError | None:
    from django.urls import reverse

    if operation.error_code != IN_USE:
        return None
    return Conflict(
        f"A signaling channel named {operation.parameters['name']} already exists in this account and region, "
        "made outside the portal. Names are unique per account and region: choose another.",
        remedy=Remedy("Choose another name", f"{reverse('channel_create')}?retry={operation.pk}"),
    )


def _describe_create(p: dict[str, Any], channel: str) -> str:
    tags = p.get("tags", {})
    settings = f"{p.get('channel_type')}, message TTL {p.get('ttl')} s"
    words = f"Create signaling channel {p.get('name') or channel} ({settings})"
    return words + (f" with tags {tag_words(tags)}" if tags else "")


CHANNEL_CREATE = register(
    OperationKind(
        name="channels.create",
        subject=_channel,
        label="Create signaling channel",
        permission=MANAGE_RESOURCES,
        call=_create,
        on_success=_created,
        on_failure=_creation_failed,
        # Nothing else can be asked of a channel until it is ACTIVE, so its creation need not hold others back.
        serial=False,
        summary=lambda result: str(result.get("arn", "")),
        explain_failure=_explain_create,
        describe=_describe_create,
    )
)


# --- update the message TTL -----------------------------------------------------------------------------------------


async def _update_ttl(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    try:
        await kvs.channel_update_ttl(arn=p["arn"], version=p["version"], ttl=p["ttl"])
    except AwsConflict as error:
        if error.code != VERSION_MISMATCH:
            raise
        info = await kvs.channel_describe(arn=p["arn"])  # say what the channel holds now
        now = info.get("SingleMasterConfiguration", {}).get("MessageTtlSeconds")
        raise AwsConflict(
            error.code,
            f"{error.message} It now has version {info.get('Version')} and a message TTL of {now} s "
            f"({info.get('ChannelStatus')}).",
            error.request_id,
            error.http_status,
        ) from error
    return {"ttl": p["ttl"]}


def _ttl_updated(operation: Operation, effect_data: dict[str, Any]) -> None:
    Channel.objects.filter(pk=operation.parameters["channel_id"]).update(
        message_ttl=operation.result["ttl"], status=Channel.Status.UPDATING, changed_at=timezone.now(),
        refreshed_at=None,
    )  # fmt: skip


def _ttl_update_failed(operation: Operation, error: AwsError) -> None:
    _channel_missing(operation, error)
    # Read the channel again at once: its current version and TTL are what the person decides on.
    Channel.objects.filter(pk=operation.parameters["channel_id"]).update(refreshed_at=None)


def _explain_ttl(operation: Operation) -> DomainError | None:
    from django.urls import reverse

    if operation.error_code != VERSION_MISMATCH:
        return _refusal_now(operation)
    channel = Channel.objects.filter(pk=operation.parameters["channel_id"]).first()
    if channel is None:
        return None
    from portal.channels.selectors import channel_ttl_in_aws

    seen = operation.parameters["version"]
    ttl = channel_ttl_in_aws(channel=channel)
    now = (
        f"AWS holds version {channel.version} with a message TTL of {ttl} s."
        if ttl is not None and channel.version != seen
        else "AWS's answer above says what it held when it refused; the portal is reading the channel again."
    )
    return Conflict(
        f"Someone changed this channel since you read it (version {seen}). {now} Nothing was overwritten.",
        remedy=Remedy(
            f"Apply {operation.parameters['ttl']} s to the current version",
            reverse("channel_ttl_reapply", args=[channel.pk, operation.pk]),
            post=True,
            permission=MANAGE_RESOURCES,
        ),
    )


CHANNEL_UPDATE_TTL = register(
    OperationKind(
        name="channels.update_ttl",
        subject=_channel,
        label="Update message TTL",
        permission=MANAGE_RESOURCES,
        call=_update_ttl,
        on_success=_ttl_updated,
        on_failure=_ttl_update_failed,
        summary=lambda result: f"message TTL {result.get('ttl')} s",
        explain_failure=_explain_ttl,
        describe=lambda p, channel: f"Set the message TTL of {channel} to {p.get('ttl')} s (on {p.get('version')})",
    )
)


# --- tags -----------------------------------------------------------------------------------------------------------


CHANNEL_TAG, CHANNEL_UNTAG = tag_kinds_register(
    area="channels",
    noun="signaling channel",
    model=Channel,
    id_parameter="channel_id",
    tags_add=kvs.tags_add,
    tags_remove=kvs.tags_remove,
    on_failure=_channel_missing,
    explain_failure=_refusal_now,
    subject=_channel,
)


async def _tags_set(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    now = await kvs.channel_tags(arn=p["arn"])
    extra = sorted(set(now) - set(p["tags"]))
    differing = {key: value for key, value in p["tags"].items() if now.get(key) != value}
    if extra:
        await kvs.tags_remove(arn=p["arn"], keys=extra)
    if differing:
        await kvs.tags_add(arn=p["arn"], tags=differing)
    return {"tagged": differing, "untagged": extra}


def _tags_put_back(operation: Operation, effect_data: dict[str, Any]) -> None:
    Channel.objects.filter(pk=operation.parameters["channel_id"]).update(
        tags=operation.parameters["tags"], changed_at=timezone.now()
    )


def _summary_tags_set(result: dict[str, Any]) -> str:
    words = [f"tagged {tag_words(result['tagged'])}" if result.get("tagged") else ""]
    words += [f"untagged {', '.join(result['untagged'])}" if result.get("untagged") else ""]
    return "; ".join(word for word in words if word) or "the tags already agreed"


CHANNEL_TAGS_SET = register(
    OperationKind(
        name="channels.tags_set",
        subject=_channel,
        label="Re-apply the portal's tags",
        permission=MANAGE_RESOURCES,
        call=_tags_set,
        on_success=_tags_put_back,
        on_failure=_channel_missing,
        summary=_summary_tags_set,
        explain_failure=_refusal_now,
        describe=lambda p, name: f"Make the tags of {name} in AWS exactly {tag_words(p.get('tags', {})) or 'none'}",
    )
)


# --- delete ---------------------------------------------------------------------------------------------------------


async def _delete(call: OperationCall) -> dict[str, Any]:
    arn = call.parameters["arn"]
    try:
        if kept := await protection_in_aws(call, lambda: kvs.channel_tags(arn=arn)):
            return kept
        await kvs.channel_delete(arn=arn, version=call.parameters["version"])
    except AwsNotFound:
        return {"already_gone": True}  # deleted by an earlier attempt, or outside the portal
    return {}


def _deleted(operation: Operation, effect_data: dict[str, Any]) -> None:
    now = timezone.now()
    if (tags := protected_tags(operation)) is not None:
        from portal.channels.refresh import channel_tags_seen

        _deletion_undone(operation)
        channel = Channel.objects.select_for_update().get(pk=operation.parameters["channel_id"])
        channel.save(update_fields=channel_tags_seen(channel, tags, now))
        return
    status = Channel.Status.DELETED if operation.result.get("already_gone") else Channel.Status.DELETING
    Channel.objects.filter(pk=operation.parameters["channel_id"]).update(
        status=status, changed_at=now, refreshed_at=None, **({"deleted_at": now} if status == "deleted" else {})
    )


def _deletion_undone(operation: Operation) -> None:
    Channel.objects.filter(pk=operation.parameters["channel_id"], status=Channel.Status.DELETING).update(
        status=Channel.Status.ACTIVE, changed_at=timezone.now(), refreshed_at=None
    )


def _deletion_failed(operation: Operation, error: AwsError) -> None:
    _deletion_undone(operation)


def _explain_delete(operation: Operation) -> DomainError | None:
    if operation.error_code == VERSION_MISMATCH:
        return Conflict(
            "Someone changed this channel since the portal read its version; nothing was deleted. The portal is "
            "reading it again: look at it, then delete it again if you still mean to."
        )
    if operation.error_code == IN_USE:
        return NotAllowedInState("AWS deletes only an ACTIVE channel; wait until it is active, then delete it.")
    return None


CHANNEL_DELETE = register(
    OperationKind(
        name="channels.delete",
        subject=_channel,
        label="Delete signaling channel",
        permission=MANAGE_RESOURCES,
        call=_delete,
        on_success=_deleted,
        on_failure=_deletion_failed,
        summary=lambda result: (
            "already gone from AWS"
            if result.get("already_gone")
            else "deletion accepted: KVS removes the channel within seconds"
        ),
        explain_failure=_explain_delete,
        describe=lambda p, channel: f"Delete signaling channel {channel} (version {p.get('version')})",
    )
)


# --- ICE servers ----------------------------------------------------------------------------------------------------


async def _ice_servers(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    servers = await kvs.ice_servers(arn=p["arn"], https_endpoint=p["https_endpoint"], client_id=p["client_id"])
    shown = [{"uris": s.get("Uris", []), "username": s.get("Username", ""), "ttl": s.get("Ttl")} for s in servers]
    return {"servers": shown, SECRETS: [(server.get("Username", ""), server.get("Password", "")) for server in servers]}


CHANNEL_ICE_SERVERS = register(
    OperationKind(
        name="channels.ice_servers",
        subject=_channel,
        label="Get ICE servers",
        permission=MANAGE_RESOURCES,
        call=_ice_servers,
        on_failure=_channel_missing,
        serial=False,
        summary=lambda result: f"{len(result.get('servers', []))} TURN servers",
        result_template="channels/ice_result.html",
        explain_failure=_refusal_now,
        describe=lambda p, channel: f"Get ICE servers of {channel} for client {p.get('client_id')}",
    )
)
