"""PSTN reads, each a fixed number of queries."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from portal.meetings.models import Meeting
from portal.pstn.models import (
    CallInvocation,
    Lifecycle,
    PhoneCall,
    PhoneNumber,
    PhoneNumberOrder,
    SipMediaApplication,
    SipRule,
)


def calls_live() -> QuerySet[PhoneCall]:
    return PhoneCall.objects.filter(state__in=PhoneCall.LIVE_STATES).select_related("meeting", "hangup_operation")


def calls_recent(*, limit: int = 50) -> QuerySet[PhoneCall]:
    return PhoneCall.objects.exclude(state__in=PhoneCall.LIVE_STATES).select_related("meeting")[:limit]


def calls_changed_since(*, newest: int) -> bool:
    """Whether the calls page now differs from one that showed no live call and `newest` as its newest call's id: a
    call is live, or one started since. One query on two indexes; an ended call does not change."""
    return PhoneCall.objects.filter(Q(pk__gt=newest) | Q(state__in=PhoneCall.LIVE_STATES)).exists()


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
