"""PSTN reads, each a fixed number of queries."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.utils import timezone

from portal.core.models import Operation
from portal.meetings.models import Meeting
from portal.pstn.models import (
    CallInvocation,
    Lifecycle,
    PhoneCall,
    PhoneNumber,
    PhoneNumberOrder,
    SipMediaApplication,
    SipRule,
    WrongPins,
)


def calls_live() -> QuerySet[PhoneCall]:
    return PhoneCall.objects.filter(state__in=PhoneCall.LIVE_STATES).select_related("meeting", "hangup_operation")


def calls_recent(*, limit: int = 50) -> QuerySet[PhoneCall]:
    return PhoneCall.objects.exclude(state__in=PhoneCall.LIVE_STATES).select_related("meeting")[:limit]


def calls_changed_since(*, newest: int) -> bool:
    """Whether the calls page now differs from one that showed no live call and `newest` as its newest call's id: a
    call is live, or one started since. One query on two indexes; an ended call does not change."""
    return PhoneCall.objects.filter(Q(pk__gt=newest) | Q(state__in=PhoneCall.LIVE_STATES)).exists()


def pin_lockouts() -> QuerySet[WrongPins]:
    """The numbers locked out of dial-in now, the latest first."""
    return WrongPins.objects.filter(locked_until__gt=timezone.now()).order_by("-locked_at", "-id")


def calls_of_meeting(*, meeting: Meeting) -> QuerySet[PhoneCall]:
    return calls_live().filter(meeting=meeting)


def call_timeline(*, call: PhoneCall) -> list[CallInvocation]:
    """The latest 100 invocations, oldest first."""
    return list(reversed(call.invocations.order_by("-received_at", "-id")[:100]))


def smas() -> QuerySet[SipMediaApplication]:
    return SipMediaApplication.objects.exclude(status=Lifecycle.DELETED)


def rules() -> QuerySet[SipRule]:
    return SipRule.objects.exclude(status=Lifecycle.DELETED).select_related("target")


def phone_numbers() -> list[PhoneNumber]:
    """The account's numbers, each with `used_by`: the SIP rule that uses it, in words ("" when none). Two queries."""
    rule_names = dict(rules().filter(trigger_type=SipRule.Trigger.TO_PHONE_NUMBER).values_list("trigger_value", "name"))
    numbers = list(PhoneNumber.objects.filter(present=True))
    for number in numbers:
        number.used_by = rule_names.get(number.e164) or number.sip_rule_id  # type: ignore[attr-defined]
    return numbers


def number_orders(*, limit: int = 10) -> QuerySet[PhoneNumberOrder]:
    return PhoneNumberOrder.objects.all()[:limit]


def wiring_in_transition(
    *, smas: list[SipMediaApplication], rules: list[SipRule], orders: list[PhoneNumberOrder]
) -> bool:
    """Whether the wiring page shows something that will change by itself: an application or rule being created or
    deleted, an order AWS has not settled, or an operation on any of its rows not yet ended (one query)."""
    changing = (Lifecycle.CREATING, Lifecycle.DELETING)
    if any(row.status in changing for row in [*smas, *rules]) or any(not order.is_settled for order in orders):
        return True
    wired = ContentType.objects.get_for_models(SipMediaApplication, SipRule, PhoneNumber, PhoneNumberOrder)
    return Operation.objects.filter(status__in=Operation.UNFINISHED, resource_type__in=list(wired.values())).exists()
