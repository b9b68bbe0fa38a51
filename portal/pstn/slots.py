"""The meeting page's phone panel: the dial-in number and PIN, the meeting's live calls, and a dial-out link."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal.core.permissions import VIEW_RESOURCES
from portal.core.slots import SlotPanel, slot_register
from portal.meetings.models import Meeting
from portal.pstn import selectors, services


def meeting_phone_context(request: HttpRequest, meeting: Meeting) -> dict[str, Any] | None:
    if not request.user.has_perm(VIEW_RESOURCES):
        return None
    rule = services.dial_in_rule()
    return {
        "pin": services.dial_in_pin_for(meeting=meeting),
        "dial_in_number": rule.trigger_value if rule else "",
        "calls": list(selectors.calls_of_meeting(meeting=meeting)),
        "meeting": meeting,
    }


slot_register(
    SlotPanel(slot="meeting_detail", name="phone", template="pstn/meeting_phone.html", context=meeting_phone_context)
)
