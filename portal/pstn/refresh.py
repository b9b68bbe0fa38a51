"""The phone numbers refresher: the account's numbers as ListPhoneNumbers says, kept as registry rows (AWS owns
them; the portal lists them and shows which SIP rule each is wired to)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.aws import chime_voice as voice
from portal.core.refresh import Cycle, Items, Refresher, refresh_run, refresher_register
from portal.pstn.models import PhoneNumber


def _items(watched: set[str]) -> Items[None]:
    return Items(hot=[])


async def _observe(client: Any, item: None) -> None:
    return None


def _rule_of(number: dict[str, Any]) -> str:
    return next((a.get("Value", "") for a in number.get("Associations", []) if a.get("Name") == "SipRuleId"), "")


def _apply(cycle: Cycle[None]) -> dict[str, int]:
    if cycle.listing is None:
        return {"listed": 0}
    now = timezone.now()
    with transaction.atomic():
        for number in cycle.listing:
            PhoneNumber.objects.update_or_create(
                phone_number_id=number["PhoneNumberId"],
                defaults={
                    "e164": number.get("E164PhoneNumber", ""),
                    "country": number.get("Country", ""),
                    "number_type": number.get("Type", ""),
                    "product_type": number.get("ProductType", ""),
                    "status": number.get("Status", ""),
                    "sip_rule_id": _rule_of(number),
                    "present": True,
                    "refreshed_at": now,
                },
            )
        listed = [number["PhoneNumberId"] for number in cycle.listing]
        gone = PhoneNumber.objects.exclude(phone_number_id__in=listed).update(present=False)
    return {"listed": len(listed), "gone": gone}


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
