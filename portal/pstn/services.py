"""PSTN writes: the admin's SIP media applications, SIP rules and phone numbers, dial-out and hang-up, dial-in PINs,
wrong PINs counted across calls and their lockouts, and what the handler's invocations change (the call's row and
timeline, the caller's attendee)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import ngettext

from portal.core.audit import audit_record
from portal.core.errors import Conflict, NotAllowedInState
from portal.core.models import AuditEntry, Operation
from portal.core.permissions import HANGUP_CALLS
from portal.core.services import operation_perform, operation_request
from portal.meetings.models import Meeting
from portal.meetings.services import meeting_require_usable
from portal.pstn import handler
from portal.pstn.models import (
    CallInvocation,
    DialInPin,
    Lifecycle,
    PhoneCall,
    PhoneNumber,
    PhoneNumberOrder,
    SipMediaApplication,
    SipRule,
    WrongPins,
)

HANDLER_ACTOR = "pstn handler"
E164 = re.compile(r"\+[1-9][0-9]{1,14}")  # ASCII digits only: \d would take any script's
ENDED_STATES = (PhoneCall.State.ENDED, PhoneCall.State.REJECTED, PhoneCall.State.FAILED)


def number_mask(number: str) -> str:
    """A phone number as the portal shows and keeps it: country and area code, then only the last two digits."""
    if not E164.fullmatch(number or ""):
        return "unknown"
    return number[:5] + "*" * (len(number) - 7) + number[-2:]


# --- SIP media applications and rules (Admins) -----------------------------------------------------------------------


def sma_create(*, actor: AbstractBaseUser, name: str, aws_region: str, lambda_arn: str) -> Operation:
    with transaction.atomic():
        sma = SipMediaApplication.objects.create(name=name, aws_region=aws_region, lambda_arn=lambda_arn)
        return operation_request(
            kind="pstn.create_sma",
            actor=actor,
            target=f"sip media application {name}",
            parameters={"sma_pk": sma.pk, "name": name, "aws_region": aws_region, "lambda_arn": lambda_arn},
            resource=sma,
        )


def _require_usable(item: SipMediaApplication | SipRule) -> None:
    if not item.is_usable:
        raise NotAllowedInState(f"{item} is {item.get_status_display().lower()}; it cannot be changed now.")


def sma_update(*, actor: AbstractBaseUser, sma: SipMediaApplication, name: str, lambda_arn: str) -> Operation:
    _require_usable(sma)
    return operation_request(
        kind="pstn.update_sma",
        actor=actor,
        target=sma.sma_id or "",
        parameters={"sma_pk": sma.pk, "sma_id": sma.sma_id, "name": name, "lambda_arn": lambda_arn},
        resource=sma,
    )


def sma_delete(*, actor: AbstractBaseUser, sma: SipMediaApplication) -> Operation:
    _require_usable(sma)
    rules = sma.rules.exclude(status=Lifecycle.DELETED)
    if rules.exists():
        names = ", ".join(str(rule) for rule in rules[:5])
        raise Conflict(f"SIP rules target this SIP media application ({names}): delete them first.")
    with transaction.atomic():
        SipMediaApplication.objects.filter(pk=sma.pk).update(status=Lifecycle.DELETING)
        return operation_request(
            kind="pstn.delete_sma",
            actor=actor,
            target=sma.sma_id or "",
            parameters={"sma_pk": sma.pk, "sma_id": sma.sma_id},
            resource=sma,
        )


def _rule_target(sma: SipMediaApplication, priority: int) -> dict[str, Any]:
    _require_usable(sma)
    return {
        "sma_pk": sma.pk,
        "sma_id": sma.sma_id,
        "sma_name": sma.name,
        "aws_region": sma.aws_region,
        "priority": priority,
    }


def rule_create(
    *,
    actor: AbstractBaseUser,
    name: str,
    trigger_type: str,
    trigger_value: str,
    sma: SipMediaApplication,
    priority: int,
    disabled: bool,
) -> Operation:
    target = _rule_target(sma, priority)
    with transaction.atomic():
        rule = SipRule.objects.create(
            name=name,
            trigger_type=trigger_type,
            trigger_value=trigger_value,
            target=sma,
            priority=priority,
            disabled=disabled,
        )
        return operation_request(
            kind="pstn.create_rule",
            actor=actor,
            target=f"sip rule {name}",
            parameters={
                "rule_pk": rule.pk,
                "name": name,
                "trigger_type": trigger_type,
                "trigger_value": trigger_value,
                "disabled": disabled,
                **target,
            },
            resource=rule,
        )


def rule_update(
    *, actor: AbstractBaseUser, rule: SipRule, name: str, sma: SipMediaApplication, priority: int, disabled: bool
) -> Operation:
    _require_usable(rule)
    return operation_request(
        kind="pstn.update_rule",
        actor=actor,
        target=rule.rule_id or "",
        parameters={
            "rule_pk": rule.pk,
            "rule_id": rule.rule_id,
            "name": name,
            "disabled": disabled,
            **_rule_target(sma, priority),
        },
        resource=rule,
    )


def rule_delete(*, actor: AbstractBaseUser, rule: SipRule) -> Operation:
    _require_usable(rule)
    with transaction.atomic():
        SipRule.objects.filter(pk=rule.pk).update(status=Lifecycle.DELETING)
        return operation_request(
            kind="pstn.delete_rule",
            actor=actor,
            target=rule.rule_id or "",
            parameters={"rule_pk": rule.pk, "rule_id": rule.rule_id, "name": rule.name},
            resource=rule,
        )


# --- phone numbers (Admins) ------------------------------------------------------------------------------------------


def numbers_search(*, actor: AbstractBaseUser, criteria: dict[str, str], max_results: int) -> Operation:
    """SearchAvailablePhoneNumbers, as an operation (views never call AWS): its page lists the numbers to order."""
    return operation_request(
        kind="pstn.search_numbers",
        actor=actor,
        target="available phone numbers",
        parameters={"criteria": criteria, "max_results": max_results},
    )


def numbers_order(*, actor: AbstractBaseUser, numbers: list[str], name: str) -> Operation:
    """CreatePhoneNumberOrder for SIP media application dial-in numbers; the refresher follows the order."""
    held = list(PhoneNumber.objects.filter(e164__in=numbers, present=True).values_list("e164", flat=True))
    if held:
        raise Conflict(f"Already the account's: {', '.join(held)}.")
    pending = PhoneNumberOrder.objects.exclude(status__in=PhoneNumberOrder.SETTLED)
    on_order = sorted({n["e164"] for order in pending for n in order.numbers} & set(numbers))
    if on_order:
        raise Conflict(f"Already on order: {', '.join(on_order)}; the order's progress is on the wiring page.")
    product_type = PhoneNumber.ProductType.SMA_DIAL_IN
    with transaction.atomic():
        order = PhoneNumberOrder.objects.create(
            product_type=product_type,
            name=name,
            numbers=[{"e164": number, "status": PhoneNumberOrder.REQUESTED} for number in numbers],
        )
        return operation_request(
            kind="pstn.order_numbers",
            actor=actor,
            target=f"{len(numbers)} {ngettext('phone number', 'phone numbers', len(numbers))}",
            parameters={"order_pk": order.pk, "product_type": product_type, "numbers": numbers, "name": name},
            resource=order,
        )


def number_rule(*, number: PhoneNumber) -> str:
    """The SIP rule that uses the number, in words ("" when none): AWS's association, or a rule of the portal's for
    it (one being created is not associated yet)."""
    rule = SipRule.objects.exclude(status=Lifecycle.DELETED).filter(trigger_value=number.e164).first()
    if rule is not None:
        return rule.name
    return number.sip_rule_id


def _require_changeable(number: PhoneNumber) -> None:
    if not number.present:
        raise NotAllowedInState(f"{number} is no longer the account's.")
    if number.in_deletion_queue:
        raise NotAllowedInState(f"{number} is in the deletion queue; it cannot be changed.")


def number_update(
    *, actor: AbstractBaseUser, number: PhoneNumber, name: str, calling_name: str, product_type: str
) -> Operation:
    """UpdatePhoneNumber for what changed, one detail at a time as AWS asks (the calling name last)."""
    _require_changeable(number)
    asked = (("ProductType", product_type, number.product_type), ("Name", name, number.name),
             ("CallingName", calling_name, number.calling_name))  # fmt: skip
    changes = {member: value for member, value, current in asked if value != current}
    if not changes:
        raise Conflict(f"Nothing to change: {number} already has this name, calling name and product type.")
    if "CallingName" in changes and number.calling_name_status == "UpdateInProgress":
        raise NotAllowedInState(
            f"The calling name of {number} is still being updated at the carriers (up to 72 hours); "
            "another can be asked for once it completes."
        )
    rule = number_rule(number=number)
    if "ProductType" in changes and rule:
        raise Conflict(f"{number} is used by SIP rule {rule}: its product type cannot change while it is.")
    return operation_request(
        kind="pstn.update_number",
        actor=actor,
        target=number.e164,
        parameters={"number_pk": number.pk, "number_id": number.phone_number_id, "changes": changes},
        resource=number,
    )


def number_release(*, actor: AbstractBaseUser, number: PhoneNumber) -> Operation:
    """DeletePhoneNumber: the number goes to AWS's deletion queue, and leaves the account after 7 days."""
    _require_changeable(number)
    rule = number_rule(number=number)
    if rule:
        raise Conflict(f"{number} is used by SIP rule {rule}: delete the rule first, then release the number.")
    return operation_request(
        kind="pstn.release_number",
        actor=actor,
        target=number.e164,
        parameters={"number_pk": number.pk, "number_id": number.phone_number_id},
        resource=number,
    )


def number_restore(*, actor: AbstractBaseUser, number: PhoneNumber) -> Operation:
    """RestorePhoneNumber: a released number, still in the deletion queue, back to the account's inventory."""
    if not number.present or not number.in_deletion_queue:
        raise NotAllowedInState(f"{number} is not in the deletion queue: there is nothing to restore.")
    return operation_request(
        kind="pstn.restore_number",
        actor=actor,
        target=number.e164,
        parameters={"number_pk": number.pk, "number_id": number.phone_number_id},
        resource=number,
    )


# --- dial-in ---------------------------------------------------------------------------------------------------------


def dial_in_rule() -> SipRule | None:
    """The SIP rule callers dial in through: the first enabled number rule whose SIP media application is usable."""
    return (
        SipRule.objects.filter(
            status=Lifecycle.ACTIVE,
            disabled=False,
            trigger_type=SipRule.Trigger.TO_PHONE_NUMBER,
            target__status=Lifecycle.ACTIVE,
        )
        .select_related("target")
        .order_by("priority", "id")
        .first()
    )


def dial_in_pin_for(*, meeting: Meeting) -> DialInPin | None:
    """The meeting's PIN while it is active (made on first need, unique among active meetings); None otherwise."""
    pin = DialInPin.objects.filter(meeting=meeting).first()
    if not meeting.is_usable:
        if pin is not None and pin.active:
            DialInPin.objects.filter(pk=pin.pk).update(active=False)
        return None
    if pin is not None:
        return pin
    for _ in range(10):
        try:
            with transaction.atomic():
                return DialInPin.objects.create(meeting=meeting, pin=f"{secrets.randbelow(10**6):06d}")
        except IntegrityError:
            existing = DialInPin.objects.filter(meeting=meeting).first()
            if existing is not None:
                return existing  # made meanwhile by another request
    raise Conflict("No free dial-in PIN was found; try again.")


# --- dial-out and hang-up --------------------------------------------------------------------------------------------


def call_dial_out(*, actor: AbstractBaseUser, meeting: Meeting, to_number: str) -> Operation:
    """Call a phone into the meeting: CreateSipMediaApplicationCall from the dial-in number, the meeting in its
    arguments; the handler joins the call once it is answered."""
    meeting_require_usable(meeting=meeting)
    rule = dial_in_rule()
    if rule is None:
        raise NotAllowedInState("No dial-in number is set up: an Admin creates a SIP rule for a phone number first.")
    with transaction.atomic():
        call = PhoneCall.objects.create(
            direction=PhoneCall.Direction.OUTBOUND,
            from_masked=number_mask(rule.trigger_value),
            to_masked=number_mask(to_number),
            sma=rule.target,
            meeting=meeting,
            note="dialling",
        )
        return operation_request(
            kind="pstn.dial_out",
            actor=actor,
            target=f"call into {meeting}",
            parameters={
                "call_pk": call.pk,
                "sma_id": rule.target.sma_id,
                "from_number": rule.trigger_value,
                "to_number": to_number,
                "to_masked": call.to_masked,
                "arguments": {handler.MEETING_ARGUMENT: str(meeting.pk), "call": str(call.pk)},
            },
            resource=meeting,
        )


def call_hangup(*, actor: AbstractBaseUser, call: PhoneCall, reason: str) -> Operation:
    """UpdateSipMediaApplicationCall asks the handler to hang the call up (CALL_UPDATE_REQUESTED → Hangup)."""
    if not call.is_live or not call.transaction_id or call.sma is None or not call.sma.sma_id:
        raise NotAllowedInState("This call is not in progress: there is nothing to hang up.")
    with transaction.atomic():
        operation = operation_request(
            kind="pstn.hangup",
            actor=actor,
            target=call.transaction_id,
            reason=reason,
            parameters={
                "call_pk": call.pk,
                "sma_id": call.sma.sma_id,
                "transaction_id": call.transaction_id,
                "arguments": {"Operation": handler.HANGUP_OPERATION},
                "direction": call.get_direction_display(),
                "from_masked": call.from_masked,
                "to_masked": call.to_masked,
            },
            resource=call,
        )
        PhoneCall.objects.filter(pk=call.pk).update(hangup_operation=operation)
    return operation


# --- wrong PINs across calls -----------------------------------------------------------------------------------------
# A call gets three tries (portal.pstn.handler), and a caller could dial again forever: so at most
# PSTN_WRONG_PINS_PER_CALLER wrong PINs from one calling number, and PSTN_WRONG_PINS_PER_DIAL_IN to one dial-in number,
# are taken in a window of PSTN_WRONG_PIN_WINDOW_MINUTES that starts at the first wrong PIN. The wrong PIN that reaches
# a limit locks that number out for the window's length, and is one audit entry; a call from (or to) a locked number
# is told so and hung up before any PIN is looked up, so a lockout is no oracle. A wrong PIN is six digits that open no
# meeting: silence and a short entry use one of the call's tries but guess nothing. The calling number is the caller
# ID, which a caller may spoof: the dial-in number's limit bounds what all callers together may guess.
#
# Counted in the database, not the shared cache: the lockout check, the PIN's lookup and the count happen under the
# rows' locks, so calls at the same instant cannot guess past a limit (every check to a dial-in number takes its row
# first, so they take turns); the calls page lists the lockouts, which the cache cannot enumerate; and a Redis outage
# or flush forgives nothing (the cache is best effort, portal.core.cache). Numbers stay unstored: a digest keyed with
# the SECRET_KEY finds a number's row.


def _wrong_pin_window() -> timedelta:
    return timedelta(minutes=settings.PSTN_WRONG_PIN_WINDOW_MINUTES)


def _wrong_pin_limit(scope: str) -> int:
    if scope == WrongPins.Scope.CALLER:
        return settings.PSTN_WRONG_PINS_PER_CALLER
    return settings.PSTN_WRONG_PINS_PER_DIAL_IN


def _number_digest(number: str) -> str:
    return salted_hmac("portal.pstn.wrong-pins", number, algorithm="sha256").hexdigest()


def _wrong_pins_of(scope: str, number: str) -> Q:
    return Q(scope=scope, number_digest=_number_digest(number))


def _locked(row: WrongPins | None, now: datetime) -> bool:
    return row is not None and row.locked_until is not None and row.locked_until > now


def _number_shown(scope: str, number: str) -> str:
    """A calling number masked; a dial-in number (the portal's own) in full, as meetings show it."""
    if scope == WrongPins.Scope.CALLER:
        return number_mask(number)
    return number if E164.fullmatch(number) else "unknown"


def _wrong_pins_row(scope: str, number: str, now: datetime) -> WrongPins:
    """The number's row, locked; made (nothing counted) when it has none."""
    row, _ = WrongPins.objects.select_for_update().get_or_create(
        scope=scope,
        number_digest=_number_digest(number),
        defaults={"number_shown": _number_shown(scope, number), "window_started_at": now},
    )
    return row


def pin_locked_out(*, caller: str, dialled: str) -> bool:
    """Whether the calling or the dialled number is locked out now: one indexed read, as a call starts."""
    numbers = _wrong_pins_of(WrongPins.Scope.CALLER, caller) | _wrong_pins_of(WrongPins.Scope.DIAL_IN, dialled)
    return WrongPins.objects.filter(numbers, locked_until__gt=timezone.now()).exists()


def pin_checked(
    pin: str, *, caller: str, dialled: str, meeting_for_pin: Callable[[str], handler.MeetingRef | None]
) -> handler.PinChecked:
    """The meeting the PIN opens, looked up only while neither number is locked out; a PIN that opens none is counted
    against both, and the one that reaches a limit is answered as a lockout at once."""
    now = timezone.now()
    with transaction.atomic():
        dial_in = _wrong_pins_row(WrongPins.Scope.DIAL_IN, dialled, now)  # first, always: checks to it take turns
        from_caller = WrongPins.objects.select_for_update().filter(_wrong_pins_of(WrongPins.Scope.CALLER, caller))
        caller_row = from_caller.first()
        if _locked(dial_in, now) or _locked(caller_row, now):
            return handler.PinChecked(locked_out=True)
        meeting = meeting_for_pin(pin)
        if meeting is not None:
            return handler.PinChecked(meeting=meeting)
        caller_row = caller_row or _wrong_pins_row(WrongPins.Scope.CALLER, caller, now)
        for row in (dial_in, caller_row):
            _wrong_pin_counted(row, now)
    return handler.PinChecked(locked_out=_locked(dial_in, now) or _locked(caller_row, now))


def _wrong_pin_counted(row: WrongPins, now: datetime) -> None:
    if row.window_started_at + _wrong_pin_window() <= now:  # a new window: the last one, and any lockout in it, is over
        row.wrong_pins, row.window_started_at, row.locked_at, row.locked_until = 0, now, None, None
    row.wrong_pins += 1
    if row.wrong_pins >= _wrong_pin_limit(row.scope):
        row.locked_at, row.locked_until = now, now + _wrong_pin_window()
        audit_record(
            actor=None,
            system_actor=HANDLER_ACTOR,
            kind="pstn.pin_lockout",
            target=row.number_shown,
            summary=f"Lock out {row.get_scope_display().lower()} {row.number_shown} from dial-in",
            detail=f"{row.wrong_pins} wrong PINs since {row.window_started_at:%Y-%m-%d %H:%M:%S} UTC; "
            f"locked until {row.locked_until:%Y-%m-%d %H:%M:%S} UTC",
            event=AuditEntry.Event.LOCKED_OUT,
        )
    row.save(update_fields=["wrong_pins", "window_started_at", "locked_at", "locked_until"])


def pin_lockout_lift(*, actor: AbstractBaseUser, lockout: WrongPins) -> None:
    """End a lockout now and forget its wrong PINs: the number starts a new window."""
    if not actor.has_perm(HANGUP_CALLS):
        raise PermissionDenied("You may not lift a PIN lockout.")
    now = timezone.now()
    with transaction.atomic():
        row = WrongPins.objects.select_for_update().get(pk=lockout.pk)
        if not _locked(row, now):
            raise NotAllowedInState(f"{row} is not locked out any more: there is nothing to lift.")
        audit_record(
            actor=actor,
            kind="pstn.pin_lockout_lift",
            target=row.number_shown,
            summary=f"Lift the dial-in lockout of {row.get_scope_display().lower()} {row.number_shown}",
            detail=f"{row.wrong_pins} wrong PINs; it was locked until {row.locked_until:%Y-%m-%d %H:%M:%S} UTC",
        )
        row.wrong_pins, row.window_started_at, row.locked_at, row.locked_until = 0, now, None, None
        row.save(update_fields=["wrong_pins", "window_started_at", "locked_at", "locked_until"])


# --- what the handler's invocations change ---------------------------------------------------------------------------


def phone_call_for(invocation: handler.Invocation, event: dict[str, Any]) -> PhoneCall | None:
    """The call an invocation is about: by TransactionId, or for a dial-out's first event the row the dial-out made
    (named in its arguments); a new row for a dial-in's first event."""
    if not invocation.transaction_id:
        return None
    call = PhoneCall.objects.select_related("sma", "meeting").filter(transaction_id=invocation.transaction_id).first()
    if call is not None:
        return call
    arguments = handler.as_dict(handler.as_dict(invocation.action_data.get("Parameters")).get("Arguments"))
    call_pk = handler.as_str(arguments.get("call"))
    if invocation.event_type == "NEW_OUTBOUND_CALL" and handler.KEY.fullmatch(call_pk):
        PhoneCall.objects.filter(pk=int(call_pk), transaction_id__isnull=True).update(
            transaction_id=invocation.transaction_id
        )
        return (
            PhoneCall.objects.select_related("sma", "meeting").filter(transaction_id=invocation.transaction_id).first()
        )
    leg_a = invocation.legs.get("LEG-A", {})
    details = handler.as_dict(event.get("CallDetails"))
    sma_id = handler.as_str(details.get("SipMediaApplicationId") or details.get("SipApplicationId"))
    try:
        with transaction.atomic():  # a savepoint when the request is already in a transaction
            return PhoneCall.objects.create(
                transaction_id=invocation.transaction_id,
                direction=PhoneCall.Direction.OUTBOUND
                if handler.as_str(leg_a.get("Direction")) == "Outbound"
                else PhoneCall.Direction.INBOUND,
                from_masked=number_mask(handler.as_str(leg_a.get("From"))),
                to_masked=number_mask(handler.as_str(leg_a.get("To"))),
                sma=SipMediaApplication.objects.filter(sma_id=sma_id).first() if sma_id else None,
            )
    except IntegrityError:  # the same first event delivered twice at once: the other request made the row
        return PhoneCall.objects.select_related("sma", "meeting").get(transaction_id=invocation.transaction_id)


def _legs(invocation: handler.Invocation) -> list[dict[str, str]]:
    return [
        {
            "tag": tag,
            "direction": handler.as_str(leg.get("Direction")),
            "status": handler.as_str(leg.get("Status")),
            "from": number_mask(handler.as_str(leg.get("From"))),
            "to": number_mask(handler.as_str(leg.get("To"))),
        }
        for tag, leg in sorted(invocation.legs.items())
    ]


def invocation_record(
    *,
    call: PhoneCall,
    invocation: handler.Invocation,
    sequence: Any,
    answer: handler.Answer,
    server_ms: float,
    changes: dict[str, Any],
) -> None:
    """The call's row follows what the handler decided (and `changes` its ports made); the invocation joins its
    timeline."""
    changes = {**changes, "legs": _legs(invocation), "changed_at": timezone.now()}
    if answer.state in PhoneCall.State.values and call.state not in ENDED_STATES:
        changes["state"] = answer.state
        if answer.state in ENDED_STATES:
            changes["ended_at"] = timezone.now()
    if answer.note:
        changes["note"] = answer.note[:256]
    if answer.muted is not None:
        changes["muted"] = answer.muted
    PhoneCall.objects.filter(pk=call.pk).update(**changes)
    CallInvocation.objects.create(
        call=call,
        sequence=sequence if isinstance(sequence, int) and abs(sequence) < 2**31 else 0,
        event_type=invocation.event_type[:32] or "(none)",
        action_type=invocation.action_type[:48],
        answered=", ".join(action["Type"] for action in answer.actions)[:256],
        note=answer.note[:256],
        server_ms=server_ms,
    )


class PortalCallPorts:
    """The handler's ports on the portal's database and AWS, for one call."""

    def __init__(self, call: PhoneCall | None) -> None:
        self.call = call
        self.call_changes: dict[str, Any] = {}  # for the call's row, written with the invocation (invocation_record)
        self._meetings: dict[str, Meeting] = {}

    def _usable(self, meeting: Meeting | None) -> handler.MeetingRef | None:
        if meeting is None or not meeting.is_usable:
            return None
        self._meetings[str(meeting.pk)] = meeting
        return handler.MeetingRef(key=str(meeting.pk), meeting_id=meeting.meeting_id or "")

    def _meeting_for_pin(self, pin: str) -> handler.MeetingRef | None:
        found = DialInPin.objects.select_related("meeting").filter(pin=pin, active=True).first()
        if found is None:
            return None
        if not found.meeting.is_usable:
            DialInPin.objects.filter(pk=found.pk).update(active=False)  # the meeting has ended: its PIN is free
            return None
        return self._usable(found.meeting)

    def pin_locked_out(self, *, caller: str, dialled: str) -> bool:
        return pin_locked_out(caller=caller, dialled=dialled)

    def pin_check(self, pin: str, *, caller: str, dialled: str) -> handler.PinChecked:
        return pin_checked(pin, caller=caller, dialled=dialled, meeting_for_pin=self._meeting_for_pin)

    def meeting_for_key(self, key: str) -> handler.MeetingRef | None:
        if not handler.KEY.fullmatch(key):
            return None
        return self._usable(Meeting.objects.filter(pk=int(key)).first())

    def attendee_create(self, *, meeting: handler.MeetingRef, transaction_id: str, caller: str) -> handler.Joined | str:
        if self.call is None:
            return "the call is unknown"
        row = self._meetings[meeting.key]
        external_user_id = f"pstn-{number_mask(caller)}-{transaction_id[:8]}"
        performed = operation_perform(
            kind="pstn.create_caller_attendee",
            system_actor=HANDLER_ACTOR,
            timeout=settings.PSTN_ATTENDEE_TIMEOUT_SECONDS,
            target=f"{meeting.meeting_id} phone caller",
            parameters={
                "meeting_pk": row.pk,
                "meeting_id": meeting.meeting_id,
                "call_pk": self.call.pk,
                "external_user_id": external_user_id,
            },
            resource=row,
        )
        self.call_changes.update(meeting=row, external_user_id=external_user_id)
        operation = performed.operation
        if operation.status != Operation.Status.SUCCEEDED:
            return f"{operation.error_code or operation.status}: {operation.error_message}"[:200]
        attendee_id = operation.result["attendee_id"]
        return handler.Joined(attendee_id=attendee_id, join_token=performed.secrets[attendee_id])

    def attendee_release(self, *, transaction_id: str) -> None:
        """Queue the caller's attendee's removal, once."""
        if self.call is None:
            return
        call = PhoneCall.objects.select_related("meeting").get(pk=self.call.pk)
        if not call.attendee_id or call.meeting is None or call.attendee_released:
            return
        with transaction.atomic():
            if not PhoneCall.objects.filter(pk=call.pk, attendee_released=False).update(attendee_released=True):
                return
            operation_request(
                kind="pstn.delete_caller_attendee",
                actor=None,
                system_actor=HANDLER_ACTOR,
                target=f"{call.meeting.meeting_id} attendee {call.attendee_id}",
                parameters={
                    "meeting_pk": call.meeting.pk,
                    "meeting_id": call.meeting.meeting_id,
                    "attendee_id": call.attendee_id,
                    "external_user_id": call.external_user_id,
                },
                resource=call.meeting,
            )
