"""Capture pipeline reads. Each page's queries are a fixed number, whatever the number of rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, QuerySet, Sum

from portal.core.cache import cache_or
from portal.core.models import Operation
from portal.core.services import operations_of
from portal.pipelines.models import Artifact, CapturePipeline, Concatenation
from portal.pipelines.refresh import BUCKETS_CACHE_KEY
from portal.pipelines.sinks import sink_refusal

CHUNKS_SHOWN = 60  # per folder, newest last


def active_limit(region: str) -> int:
    """Active media pipelines AWS allows per region: 100 in us-east-1, 10 elsewhere."""
    return 100 if region == "us-east-1" else 10


def sink_buckets() -> list[str]:
    """The configured sink buckets, or else the buckets the account has (as the refresher last listed them)."""
    if settings.CAPTURE_SINK_BUCKETS:
        return list(settings.CAPTURE_SINK_BUCKETS)
    return list(cache_or(lambda: cache.get(BUCKETS_CACHE_KEY), unavailable=None) or [])


def capture_list(*, captures: QuerySet[CapturePipeline]) -> QuerySet[CapturePipeline]:
    return captures.select_related("meeting", "created_by")


def captures_active_count() -> int:
    return CapturePipeline.objects.filter(status__in=CapturePipeline.ACTIVE).count()


def capture_of_meeting(*, meeting_pk: int) -> CapturePipeline | None:
    """The meeting's capture running now, or else its latest."""
    captures = CapturePipeline.objects.filter(meeting_id=meeting_pk).select_related("stop_operation")
    return captures.filter(status__in=CapturePipeline.ACTIVE).first() or captures.first()


@dataclass
class Folder:
    name: str
    count: int
    size: int
    first: datetime | None
    last: datetime | None
    artifacts: list[Artifact] = field(default_factory=list)

    @property
    def playable(self) -> str:
        """The player for this folder's chunks: "audio", "video" or ""."""
        return {"audio": "audio", "video": "video", "content": "video"}.get(self.name, "")


def capture_folders(*, capture: CapturePipeline) -> list[Folder]:
    """The objects the capture wrote, by folder (counts, sizes, the time their chunks cover), with the newest chunks
    of each: one query for the totals and one per folder present. None outside the sink buckets (`sink_refusal`)."""
    if sink_refusal(capture.sink_bucket):
        return []
    totals = (
        Artifact.objects.filter(pipeline=capture)
        .values("folder")
        .annotate(count=Count("id"), size=Sum("size"), first=Min("chunk_at"), last=Max("chunk_at"))
        .order_by("folder")
    )
    folders = [Folder(t["folder"], t["count"], t["size"] or 0, t["first"], t["last"]) for t in totals]
    order = {name: position for position, name in enumerate(Artifact.FOLDERS)}
    folders.sort(key=lambda f: (order.get(f.name, len(order)), f.name))
    for folder in folders:
        newest = Artifact.objects.filter(pipeline=capture, folder=folder.name).order_by("-chunk_at", "-key")
        folder.artifacts = list(reversed(newest.defer("text")[:CHUNKS_SHOWN]))
    return folders


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    event_type: str
    parameters: dict[str, Any]

    @property
    def who(self) -> str:
        return str(self.parameters.get("externalUserId") or self.parameters.get("ExternalUserId") or "")


def capture_meeting_events(*, capture: CapturePipeline) -> list[TimelineEntry]:
    """The meeting-events files the capture wrote, as one readable timeline (lines AWS writes as JSON objects
    {Timestamp, EventType, EventParameters}; a line that is not one is shown as it is). None outside the sink
    buckets (`sink_refusal`)."""
    entries: list[TimelineEntry] = []
    if sink_refusal(capture.sink_bucket):
        return entries
    texts = Artifact.objects.filter(pipeline=capture, folder="meeting-events").order_by("chunk_at", "key")
    for text in texts.values_list("text", flat=True):
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                at, event_type = str(event.get("Timestamp", "")), str(event.get("EventType", ""))
                entries.append(TimelineEntry(at, event_type, event.get("EventParameters") or {}))
            except (ValueError, AttributeError):
                entries.append(TimelineEntry("", line[:200], {}))
    return entries


def capture_concatenations(*, capture: CapturePipeline) -> list[Concatenation]:
    return list(capture.concatenations.all()[:10])


def capture_operations(*, capture: CapturePipeline) -> list[Operation]:
    return list(operations_of(capture)[:10])
