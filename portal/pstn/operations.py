"""The PSTN operation kinds: every chime-sdk-voice change, and the attendees of phone callers.

The caller's attendee is created inside the handler's request (core's `operation_perform`, with a tight timeout),
its join token handed straight to the handler's answer, never stored; it is released on HANGUP through an ordinary
queued operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.aws import chime_meetings as chime
from portal.aws import chime_voice as voice
from portal.aws.errors import AwsError, AwsNotFound
from portal.core.models import Operation
from portal.core.operation_kinds import (
    SECRETS,
    OperationCall,
    OperationKind,
    OperationSubject,
    page_subject,
    register,
    resource_subject,
)
from portal.core.permissions import HANGUP_CALLS, MANAGE_RESOURCES
from portal.meetings.models import Attendee
from portal.meetings.operations import meeting_recount
from portal.pstn.models import Lifecycle, PhoneCall, PhoneNumber, PhoneNumberOrder, SipMediaApplication, SipRule
from portal.pstn.refresh import number_fields


def _on_wiring(operation: Operation, row: str, *, name: str = "") -> OperationSubject:
    """A SIP media application, rule, number or order by its name, linked to its row on the wiring page."""
    return OperationSubject(
        name=name or operation.resource_name or operation.target,
        url=f"{reverse('pstn_wiring')}#{row}-{operation.resource_id}",
    )


def _in_meeting(operation: Operation, who: str) -> OperationSubject:
    """Someone on the phone in a meeting ("+1 ••• 0123 in walk-standup"), linked to the meeting's page."""
    return resource_subject(operation, "meeting_detail", name=f"{who} in {operation.resource_name or operation.target}")


# --- SIP media applications and SIP rules: created, updated and deleted the same way ---------------------------------


def _wiring_kinds(
    *,
    short: str,
    noun: str,
    model: type[SipMediaApplication] | type[SipRule],
    id_key: str,
    create: Callable[[dict[str, Any]], Awaitable[str]],
    update: Callable[[dict[str, Any]], Awaitable[object]],
    delete: Callable[[dict[str, Any]], Awaitable[None]],
    updated_fields: Callable[[dict[str, Any]], dict[str, Any]],
    deleted_fields: dict[str, Any],
    describe_create: Callable[[dict[str, Any], str], str],
    describe_update: Callable[[dict[str, Any], str], str],
    deleted_summary: str,
) -> tuple[OperationKind, OperationKind, OperationKind]:
    """The create, update and delete kinds of one wiring row (`<short>_pk` in the parameters names it, `id_key` is
    AWS's id): its row follows each outcome (creating → active or failed; deleting → deleted, or back to active)."""
    pk_key = f"{short}_pk"

    def rows(operation: Operation) -> Any:
        return model.objects.filter(pk=operation.parameters[pk_key])

    async def create_call(call: OperationCall) -> dict[str, Any]:
        return {id_key: await create(call.parameters)}

    async def update_call(call: OperationCall) -> dict[str, Any]:
        await update(call.parameters)
        return {}

    async def delete_call(call: OperationCall) -> dict[str, Any]:
        try:
            await delete(call.parameters)
        except AwsNotFound:
            return {"already_gone": True}
        return {}

    def created(operation: Operation, effect_data: dict[str, Any]) -> None:
        rows(operation).update(**{id_key: operation.result[id_key]}, status=Lifecycle.ACTIVE)

    def creation_failed(operation: Operation, error: AwsError) -> None:
        rows(operation).update(status=Lifecycle.FAILED)

    def changed(operation: Operation, effect_data: dict[str, Any]) -> None:
        rows(operation).update(**updated_fields(operation.parameters))

    def deleted(operation: Operation, effect_data: dict[str, Any]) -> None:
        rows(operation).update(status=Lifecycle.DELETED, **deleted_fields)

    def delete_failed(operation: Operation, error: AwsError) -> None:
        rows(operation).filter(status=Lifecycle.DELETING).update(status=Lifecycle.ACTIVE)

    def subject(operation: Operation) -> OperationSubject:
        return _on_wiring(operation, short)

    create_kind = OperationKind(
        name=f"pstn.create_{short}",
        subject=subject,
        label=f"Create {noun}",
        permission=MANAGE_RESOURCES,
        call=create_call,
        on_success=created,
        on_failure=creation_failed,
        summary=lambda r: f"{noun} {r.get(id_key)}",
        describe=describe_create,
    )
    update_kind = OperationKind(
        name=f"pstn.update_{short}",
        subject=subject,
        label=f"Update {noun}",
        permission=MANAGE_RESOURCES,
        call=update_call,
        on_success=changed,
        describe=describe_update,
    )
    delete_kind = OperationKind(
        name=f"pstn.delete_{short}",
        subject=subject,
        label=f"Delete {noun}",
        permission=MANAGE_RESOURCES,
        call=delete_call,
        on_success=deleted,
        on_failure=delete_failed,
        summary=lambda r: "it was already gone" if r.get("already_gone") else deleted_summary,
    )
    return register(create_kind), register(update_kind), register(delete_kind)


async def _sma_create(p: dict[str, Any]) -> str:
    sma = await voice.sma_create(name=p["name"], aws_region=p["aws_region"], lambda_arn=p["lambda_arn"])
    return sma["SipMediaApplicationId"]


SMA_CREATE, SMA_UPDATE, SMA_DELETE = _wiring_kinds(
    short="sma",
    noun="SIP media application",
    model=SipMediaApplication,
    id_key="sma_id",
    create=_sma_create,
    update=lambda p: voice.sma_update(sma_id=p["sma_id"], name=p["name"], lambda_arn=p["lambda_arn"]),
    delete=lambda p: voice.sma_delete(sma_id=p["sma_id"]),
    updated_fields=lambda p: {"name": p["name"], "lambda_arn": p["lambda_arn"]},
    deleted_fields={},
    describe_create=lambda p, name: f"Create SIP media application {p.get('name')} for {p.get('lambda_arn')}",
    describe_update=lambda p, name: f"Update SIP media application {name}: name {p.get('name')}, {p.get('lambda_arn')}",
    deleted_summary="deleted",
)


async def _rule_create(p: dict[str, Any]) -> str:
    rule = await voice.rule_create(
        name=p["name"],
        trigger_type=p["trigger_type"],
        trigger_value=p["trigger_value"],
        disabled=p["disabled"],
        sma_id=p["sma_id"],
        priority=p["priority"],
        aws_region=p["aws_region"],
    )
    return rule["SipRuleId"]


def _rule_update(p: dict[str, Any]) -> Awaitable[object]:
    return voice.rule_update(
        rule_id=p["rule_id"],
        name=p["name"],
        disabled=p["disabled"],
        sma_id=p["sma_id"],
        priority=p["priority"],
        aws_region=p["aws_region"],
    )


RULE_CREATE, RULE_UPDATE, RULE_DELETE = _wiring_kinds(
    short="rule",
    noun="SIP rule",
    model=SipRule,
    id_key="rule_id",
    create=_rule_create,
    update=_rule_update,
    delete=lambda p: voice.rule_delete(rule_id=p["rule_id"], name=p["name"]),
    updated_fields=lambda p: {
        "name": p["name"],
        "disabled": p["disabled"],
        "target_id": p["sma_pk"],
        "priority": p["priority"],
    },
    deleted_fields={"disabled": True},
    describe_create=lambda p, name: f"Create SIP rule {p.get('name')}: {p.get('trigger_value')} → {p.get('sma_name')}",
    describe_update=lambda p, name: (
        f"Update SIP rule {name}: {'disabled' if p.get('disabled') else 'enabled'}, → {p.get('sma_name')}"
    ),
    deleted_summary="disabled, then deleted",
)


# --- phone numbers ---------------------------------------------------------------------------------------------------


async def _numbers_search(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    return {"numbers": await voice.numbers_search(criteria=p["criteria"], max_results=p["max_results"])}


NUMBERS_SEARCH = register(
    OperationKind(
        name="pstn.search_numbers",
        subject=lambda operation: page_subject("available phone numbers", "pstn_wiring"),
        label="Search phone numbers to order",
        permission=MANAGE_RESOURCES,
        call=_numbers_search,
        serial=False,
        summary=lambda r: f"{len(r.get('numbers', []))} numbers available",
        result_template="pstn/number_search_result.html",
        describe=lambda p, name: (
            "Search phone numbers to order: "
            + ", ".join(f"{key} {value}" for key, value in p.get("criteria", {}).items())
        ),
    )
)


async def _numbers_order(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    order = await voice.number_order_create(product_type=p["product_type"], numbers=p["numbers"], name=p["name"])
    return {
        "order_id": order["PhoneNumberOrderId"],
        "status": order.get("Status", ""),
        "numbers": [{"e164": n.get("E164PhoneNumber", ""), "status": n.get("Status", "")}
                    for n in order.get("OrderedPhoneNumbers", [])],
    }  # fmt: skip


def _numbers_ordered(operation: Operation, effect_data: dict[str, Any]) -> None:
    result = operation.result
    PhoneNumberOrder.objects.filter(pk=operation.parameters["order_pk"]).update(
        order_id=result["order_id"], status=result["status"], numbers=result["numbers"], refreshed_at=timezone.now()
    )


def _numbers_order_failed(operation: Operation, error: AwsError) -> None:
    PhoneNumberOrder.objects.filter(pk=operation.parameters["order_pk"]).update(status=PhoneNumberOrder.NOT_PLACED)


NUMBERS_ORDER = register(
    OperationKind(
        name="pstn.order_numbers",
        subject=lambda operation: _on_wiring(operation, "order", name=", ".join(operation.parameters["numbers"])),
        label="Order phone numbers",
        permission=MANAGE_RESOURCES,
        call=_numbers_order,
        on_success=_numbers_ordered,
        on_failure=_numbers_order_failed,
        summary=lambda r: (
            f"order {r.get('order_id')}: {r.get('status')}; the numbers join the account once it is successful"
        ),
        describe=lambda p, name: f"Order {', '.join(p.get('numbers', []))} for {p.get('product_type')}",
    )
)


NUMBER_FIELDS = ("product_type", "status", "name", "calling_name", "calling_name_status")


async def _number_update(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    fields = number_fields(await voice.number_update(number_id=p["number_id"], changes=p["changes"]))
    return {key: fields[key] for key in NUMBER_FIELDS}


def _number_updated(operation: Operation, effect_data: dict[str, Any]) -> None:
    PhoneNumber.objects.filter(pk=operation.parameters["number_pk"]).update(
        **{key: operation.result[key] for key in NUMBER_FIELDS}, refreshed_at=timezone.now()
    )


NUMBER_UPDATE = register(
    OperationKind(
        name="pstn.update_number",
        subject=lambda operation: _on_wiring(operation, "number"),
        label="Update phone number",
        permission=MANAGE_RESOURCES,
        call=_number_update,
        on_success=_number_updated,
        describe=lambda p, name: (
            f"Update phone number {name}: "
            + ", ".join(f"{key} {value!r}" for key, value in p.get("changes", {}).items())
        ),
    )
)


async def _number_release(call: OperationCall) -> dict[str, Any]:
    try:
        await voice.number_delete(number_id=call.parameters["number_id"])
    except AwsNotFound:
        return {"already_gone": True}
    return {}


def _number_released(operation: Operation, effect_data: dict[str, Any]) -> None:
    numbers = PhoneNumber.objects.filter(pk=operation.parameters["number_pk"])
    if operation.result.get("already_gone"):
        numbers.update(present=False, refreshed_at=timezone.now())
    else:
        numbers.update(status=PhoneNumber.IN_DELETION_QUEUE[0], refreshed_at=timezone.now())


NUMBER_RELEASE = register(
    OperationKind(
        name="pstn.release_number",
        subject=lambda operation: _on_wiring(operation, "number"),
        label="Release phone number",
        permission=MANAGE_RESOURCES,
        call=_number_release,
        on_success=_number_released,
        summary=lambda r: (
            "it was already gone" if r.get("already_gone") else "in the deletion queue: AWS releases it after 7 days"
        ),
        describe=lambda p, name: f"Release phone number {name}",
    )
)


async def _number_restore(call: OperationCall) -> dict[str, Any]:
    fields = number_fields(await voice.number_restore(number_id=call.parameters["number_id"]))
    return {key: fields[key] for key in NUMBER_FIELDS}


NUMBER_RESTORE = register(
    OperationKind(
        name="pstn.restore_number",
        subject=lambda operation: _on_wiring(operation, "number"),
        label="Restore phone number",
        permission=MANAGE_RESOURCES,
        call=_number_restore,
        on_success=_number_updated,
        summary=lambda r: f"back in the account's inventory: {r.get('status')}",
        describe=lambda p, name: f"Restore phone number {name} from the deletion queue",
    )
)


# --- calls -----------------------------------------------------------------------------------------------------------


async def _dial_out(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    transaction_id = await voice.call_create(
        sma_id=p["sma_id"], from_number=p["from_number"], to_number=p["to_number"], arguments=p["arguments"]
    )
    return {"transaction_id": transaction_id}


def _dialled(operation: Operation, effect_data: dict[str, Any]) -> None:
    PhoneCall.objects.filter(pk=operation.parameters["call_pk"], transaction_id__isnull=True).update(
        transaction_id=operation.result["transaction_id"]
    )
    PhoneCall.objects.filter(pk=operation.parameters["call_pk"], state=PhoneCall.State.REQUESTED).update(
        state=PhoneCall.State.RINGING
    )


def _dial_failed(operation: Operation, error: AwsError) -> None:
    PhoneCall.objects.filter(pk=operation.parameters["call_pk"]).update(
        state=PhoneCall.State.FAILED, note=f"{error.code}: {error.message}"[:256], ended_at=timezone.now()
    )


DIAL_OUT = register(
    OperationKind(
        name="pstn.dial_out",
        subject=lambda operation: _in_meeting(operation, f"a call to {operation.parameters.get('to_masked')}"),
        label="Call a phone into a meeting",
        permission=HANGUP_CALLS,
        call=_dial_out,
        on_success=_dialled,
        on_failure=_dial_failed,
        serial=False,
        summary=lambda r: f"call {r.get('transaction_id')} ringing",
        describe=lambda p, meeting: f"Call {p.get('to_masked')} into {meeting}",
    )
)


async def _hangup(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    try:
        await voice.call_update(sma_id=p["sma_id"], transaction_id=p["transaction_id"], arguments=p["arguments"])
    except AwsNotFound:
        return {"already_ended": True}
    return {}


CALL_HANGUP = register(
    OperationKind(
        name="pstn.hangup",
        subject=lambda operation: resource_subject(operation, "pstn_call"),
        label="Hang up call",
        permission=HANGUP_CALLS,
        call=_hangup,
        serial=False,
        summary=lambda r: "the call had already ended" if r.get("already_ended") else "the handler hangs the call up",
        describe=lambda p, meeting: f"Hang up {p.get('direction')} call {p.get('from_masked')} → {p.get('to_masked')}",
    )
)


# --- the caller's attendee -------------------------------------------------------------------------------------------


async def _attendee_create(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    response = await chime.attendees_create(
        meeting_id=p["meeting_id"], attendees=[{"ExternalUserId": p["external_user_id"]}]
    )
    errors = response.get("Errors") or []
    if errors:
        raise AwsError(errors[0].get("ErrorCode", "Error"), errors[0].get("ErrorMessage", ""))
    attendee = response["Attendees"][0]
    return {
        "attendee_id": attendee["AttendeeId"],
        "external_user_id": attendee["ExternalUserId"],
        "capabilities": attendee.get("Capabilities", {}),
        SECRETS: [(attendee["AttendeeId"], attendee["JoinToken"])],
    }


def _attendee_created(operation: Operation, effect_data: dict[str, Any]) -> None:
    """The attendee joins the meeting's registry. The meeting's counts are left to the events consumer, which
    recounts a meeting its events change (AttendeeAdded, AttendeeJoined follow within a second): the handler's
    request stays short."""
    p, result = operation.parameters, operation.result
    attendee = Attendee(
        meeting_id=p["meeting_pk"],
        attendee_id=result["attendee_id"],
        external_user_id=result["external_user_id"],
        capabilities=result["capabilities"],
    )
    Attendee.objects.bulk_create([attendee], ignore_conflicts=True)  # the events consumer may have added it first
    PhoneCall.objects.filter(pk=p["call_pk"]).update(attendee_id=result["attendee_id"])


CALLER_ATTENDEE_CREATE = register(
    OperationKind(
        name="pstn.create_caller_attendee",
        subject=lambda operation: _in_meeting(operation, operation.parameters.get("external_user_id", "")),
        label="Add a phone caller to a meeting",
        permission=MANAGE_RESOURCES,
        call=_attendee_create,
        on_success=_attendee_created,
        serial=False,
        summary=lambda r: f"attendee {r.get('attendee_id')}",
        describe=lambda p, meeting: f"Add phone caller {p.get('external_user_id')} to {meeting}",
    )
)


async def _attendee_delete(call: OperationCall) -> dict[str, Any]:
    p = call.parameters
    try:
        await chime.attendee_delete(meeting_id=p["meeting_id"], attendee_id=p["attendee_id"])
    except AwsNotFound:
        return {"already_gone": True}
    return {}


def _attendee_deleted(operation: Operation, effect_data: dict[str, Any]) -> None:
    p = operation.parameters
    with transaction.atomic():
        Attendee.objects.filter(meeting_id=p["meeting_pk"], attendee_id=p["attendee_id"]).update(
            state=Attendee.State.DELETED, state_at=timezone.now()
        )
        meeting_recount(p["meeting_pk"])


CALLER_ATTENDEE_DELETE = register(
    OperationKind(
        name="pstn.delete_caller_attendee",
        subject=lambda operation: _in_meeting(operation, operation.parameters.get("external_user_id", "")),
        label="Remove a phone caller from a meeting",
        permission=MANAGE_RESOURCES,
        call=_attendee_delete,
        on_success=_attendee_deleted,
        serial=False,
        summary=lambda r: "already gone" if r.get("already_gone") else "removed: the call has ended",
        describe=lambda p, meeting: f"Remove phone caller {p.get('external_user_id')} from {meeting}",
    )
)
