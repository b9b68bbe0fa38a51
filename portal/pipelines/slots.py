"""The capture panel on a meeting's page: "Record this meeting", the capture's status as it changes, and Stop."""

from portal.core.slots import SlotPanel, slot_register
from portal.pipelines.views import meeting_capture_context

MEETING_CAPTURE = slot_register(
    SlotPanel(
        slot="meeting_detail",
        name="capture",
        template="pipelines/_meeting_capture.html",
        context=meeting_capture_context,
        order=20,
    )
)
