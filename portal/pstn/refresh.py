"""The phone numbers refresher: the account's numbers as ListPhoneNumbers says, kept as registry rows (the portal
lists them and shows which SIP rule each is wired to), and the portal's number orders followed until AWS settles
them (GetPhoneNumberOrder every cycle while one is processing; its acquired numbers are read at once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.aws import chime_voice as voice
from portal.aws.errors import AwsNotFound
from portal.core.refresh import Cycle, Items, Refresher, refresh_run, refresher_register
from portal.pstn.models import PhoneNumber, PhoneNumberOrder


def _items(watched: set[str]) -> Items[str]:
    processing = PhoneNumberOrder.objects.filter(order_id__isnull=False).exclude(status__in=PhoneNumberOrder.SETTLED)
    return Items(hot=list(processing.values_list("order_id", flat=True)))


async def _observe(client: Any, order_id: str) -> dict[str, Any]:
    """The order; once AWS has settled it, each number it acquired as well."""
    order = await voice.number_order_get(order_id=order_id)
    numbers = []
    if order.get("Status") not in ("Processing", None):
        for ordered in order.get("OrderedPhoneNumbers", []):
            if ordered.get("Status") == "Acquired":
                try:
                    numbers.append(await voice.number_get(number_id=ordered["E164PhoneNumber"]))
                except AwsNotFound:  # released again meanwhile
                    continue
    return {"order": order, "numbers": numbers}


def _rule_of(number: dict[str, Any]) -> str:
    return next((a.get("Value", "") for a in number.get("Associations", []) if a.get("Name") == "SipRuleId"), "")


def number_fields(number: dict[str, Any]) -> dict[str, Any]:
    """A PhoneNumber row's fields from AWS's PhoneNumber structure."""
    return {
        "e164": number.get("E164PhoneNumber", ""),
        "country": number.get("Country", ""),
        "number_type": number.get("Type", ""),
        "product_type": number.get("ProductType", ""),
        "status": number.get("Status", ""),
        "name": number.get("Name", ""),
        "calling_name": number.get("CallingName", ""),
        "calling_name_status": number.get("CallingNameStatus", ""),
        "order_id": number.get("OrderId", ""),
        "sip_rule_id": _rule_of(number),
        "present": True,
    }


def _record(number: dict[str, Any], observed_at: datetime, now: datetime) -> None:
    """Write what AWS said of a number, unless the portal recorded a change to it after AWS said so."""
    number_id = number["PhoneNumberId"]
    if PhoneNumber.objects.filter(phone_number_id=number_id, refreshed_at__gt=observed_at).exists():
        return
    PhoneNumber.objects.update_or_create(
        phone_number_id=number_id, defaults={**number_fields(number), "refreshed_at": now}
    )


def _apply(cycle: Cycle[str]) -> dict[str, int]:
    now = timezone.now()
    summary = {"listed": 0}
    with transaction.atomic():
        for observed in cycle.observed:
            if observed.result is None:
                continue
            order = observed.result["order"]
            PhoneNumberOrder.objects.filter(order_id=observed.item).update(
                status=order.get("Status", ""),
                numbers=[
                    {"e164": n.get("E164PhoneNumber", ""), "status": n.get("Status", "")}
                    for n in order.get("OrderedPhoneNumbers", [])
                ],
                refreshed_at=now,
            )
            for number in observed.result["numbers"]:
                _record(number, observed.observed_at, now)
            summary["orders"] = summary.get("orders", 0) + 1
        if cycle.listing is None or cycle.listing_observed_at is None:
            return summary
        for number in cycle.listing:
            _record(number, cycle.listing_observed_at, now)
        listed = [number["PhoneNumberId"] for number in cycle.listing]
        gone = PhoneNumber.objects.exclude(phone_number_id__in=listed).filter(
            Q(refreshed_at__isnull=True) | Q(refreshed_at__lte=cycle.listing_observed_at), present=True
        )
        summary |= {
            "listed": len(listed),
            "gone": gone.update(present=False),
        }
    return summary


PHONE_NUMBERS_REFRESHER = refresher_register(
    Refresher(
        name="phone-numbers",
        service=voice.SERVICE,
        items=_items,
        observe=_observe,
        apply=_apply,
        listing=voice.phone_numbers_list,
        listing_every_seconds=60,
    )
)


def phone_numbers_refresh() -> dict[str, int] | None:
    """One cycle of the phone numbers refresher, now."""
    return refresh_run(PHONE_NUMBERS_REFRESHER.name)
