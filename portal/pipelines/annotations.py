"""The meetings list's "Recording" column: whether a capture of the meeting is running, in the list's own query."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from portal.core.annotations import Annotation, annotation_register
from portal.pipelines.models import CapturePipeline


def capture_running() -> Exists:
    return Exists(CapturePipeline.objects.filter(meeting=OuterRef("pk"), status__in=CapturePipeline.ACTIVE))


CAPTURE_RUNNING = annotation_register(
    Annotation(model="meetings.meeting", name="capture_running", expression=capture_running)
)
