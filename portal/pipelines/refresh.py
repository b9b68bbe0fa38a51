"""The pipelines refresher: capture and concatenation pipelines kept true to AWS by core's refresher, the backstop for
the state-change events (delivery is best effort).

Every cycle serves, oldest observation first and at most HOT_PER_CYCLE of them (so a cycle stays within the API's
quota), the pipelines someone has open and those in transition (Initializing, Stopping; concatenations not done;
captures that stopped and whose artifacts were not listed since), then COLD_PER_CYCLE captures in progress in turn.
A capture costs one GetMediaCapturePipeline and, while it writes (and once after it stopped), one ListObjectsV2 of
its prefix, plus one GetObject per new meeting-events file. Every 30 s ListMediaCapturePipelines reconciles: a
pipeline AWS lists that the portal lacks is added as found, an active one AWS no longer lists is marked gone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from portal.aws import media_pipelines as aws
from portal.aws import s3
from portal.aws.clients import aws_client
from portal.aws.errors import AwsError, AwsNotFound
from portal.core.cache import cache_or
from portal.core.drift import drift_found, drift_gone
from portal.core.refresh import Cycle, Items, Observed, Refresher, refresh_run, refresher_register
from portal.meetings.models import Meeting
from portal.pipelines.models import Artifact, CapturePipeline, Concatenation
from portal.pipelines.services import capture_status_apply
from portal.pipelines.sinks import sink_refusal

HOT_PER_CYCLE = 16
COLD_PER_CYCLE = 2
TEXT_LIMIT = 65_536  # bytes of a meeting-events file the portal keeps for its timeline
LISTING_SETTLE = timedelta(seconds=15)  # after a capture stopped, its prefix is listed until this long after
BUCKETS_CACHE_KEY = "rtc-portal:pipelines:buckets"
CHUNK_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{3})")


@dataclass(frozen=True)
class PipelineItem:
    pk: int
    concatenation: bool
    media_pipeline_id: str
    bucket: str
    prefix: str  # where to list ("" = do not list: nothing to list yet, or not a sink bucket)
    known_texts: frozenset[str] = field(default_factory=frozenset)


@dataclass
class PipelineSeen:
    gone: bool = False
    status: str = ""
    updated_at: datetime | None = None
    sink_arn: str = ""
    source_arn: str = ""
    objects: list[dict[str, Any]] | None = None
    texts: dict[str, str] = field(default_factory=dict)
    listing_error: str = ""


def _capture_items(captures: list[CapturePipeline], texts: dict[int, set[str]]) -> list[PipelineItem]:
    """What to read of each capture: its status, and its prefix while it records and once after it stopped (in a
    sink bucket only: a capture found in AWS may name any bucket as its sink)."""
    items = []
    for capture in captures:
        ended = capture.status in (CapturePipeline.Status.STOPPED, CapturePipeline.Status.FAILED)
        unsettled = (
            capture.artifacts_listed_at is None
            or capture.ended_at is None
            or capture.artifacts_listed_at < capture.ended_at + LISTING_SETTLE
        )
        lists = not sink_refusal(capture.sink_bucket) and (
            capture.status in (CapturePipeline.Status.IN_PROGRESS, CapturePipeline.Status.PAUSED)
            or (ended and unsettled)
        )
        prefix = capture.artifact_prefix
        items.append(
            PipelineItem(
                pk=capture.pk,
                concatenation=False,
                media_pipeline_id=capture.media_pipeline_id or "",
                bucket=capture.sink_bucket,
                prefix=f"{prefix}/" if lists and prefix else "",
                known_texts=frozenset(texts.get(capture.pk, ())),
            )
        )
    return items


def _needs_listing() -> Q:
    """Stopped captures whose last listing may have missed the final chunks."""
    ended = Q(status__in=(CapturePipeline.Status.STOPPED, CapturePipeline.Status.FAILED))
    return ended & (Q(artifacts_listed_at__isnull=True) | Q(artifacts_listed_at__lt=F("ended_at") + LISTING_SETTLE))


def _items(watched: set[str]) -> Items[PipelineItem]:
    known = CapturePipeline.objects.exclude(media_pipeline_id=None).select_related("meeting")
    watched_pks = [int(key) for key in watched if key.isdigit()]
    oldest_first = (F("refreshed_at").asc(nulls_first=True), "pk")
    hot = list(
        known.filter(Q(pk__in=watched_pks) | Q(status__in=CapturePipeline.TRANSITION)).order_by(*oldest_first)[
            :HOT_PER_CYCLE
        ]
    )  # status first; the final listing of stopped captures takes what is left of the cycle's budget
    hot += list(known.filter(_needs_listing()).exclude(pk__in=[c.pk for c in hot]).order_by(*oldest_first)[
        : HOT_PER_CYCLE - len(hot)
    ])  # fmt: skip
    cold = list(
        known.filter(status__in=(CapturePipeline.Status.IN_PROGRESS, CapturePipeline.Status.PAUSED))
        .exclude(pk__in=[c.pk for c in hot])
        .order_by(F("refreshed_at").asc(nulls_first=True), "pk")[:COLD_PER_CYCLE]
    )
    texts: dict[int, set[str]] = {}
    for pipeline_id, key in Artifact.objects.filter(pipeline__in=[*hot, *cold], folder="meeting-events").values_list(
        "pipeline_id", "key"
    ):
        texts.setdefault(pipeline_id, set()).add(key)
    concatenations = [
        PipelineItem(
            pk=c.pk,
            concatenation=True,
            media_pipeline_id=c.media_pipeline_id or "",
            bucket=c.sink_bucket,
            prefix="" if sink_refusal(c.sink_bucket) else c.output_prefix,
        )
        for c in Concatenation.objects.filter(status__in=Concatenation.ACTIVE).exclude(media_pipeline_id=None)[
            :HOT_PER_CYCLE
        ]
    ]
    return Items(hot=[*_capture_items(hot, texts), *concatenations], cold=_capture_items(cold, texts))


async def _observe(client: Any, item: PipelineItem) -> PipelineSeen:
    try:
        if item.concatenation:
            pipeline = (await aws.media_pipeline_get(pipeline_id=item.media_pipeline_id)).get(
                "MediaConcatenationPipeline", {}
            )
        else:
            pipeline = await aws.capture_get(pipeline_id=item.media_pipeline_id)
    except AwsNotFound:
        return PipelineSeen(gone=True)
    seen = PipelineSeen(
        status=pipeline.get("Status", ""),
        updated_at=pipeline.get("UpdatedTimestamp"),
        sink_arn=pipeline.get("SinkArn", ""),
        source_arn=pipeline.get("SourceArn", ""),
    )
    listing = item.prefix and (not item.concatenation or seen.status == Concatenation.Status.STOPPED)
    if listing:
        try:
            async with aws_client(s3.SERVICE) as bucket:
                seen.objects = await s3.objects_list(bucket, bucket=item.bucket, prefix=item.prefix)
                for obj in seen.objects:
                    key = obj["Key"]
                    if "/meeting-events/" in key and key not in item.known_texts:
                        seen.texts[key] = await s3.object_text(bucket, bucket=item.bucket, key=key, limit=TEXT_LIMIT)
        except AwsError as error:  # the bucket is gone or not ours to read: the status still counts
            seen.objects = None
            seen.listing_error = f"{error.code}: {error.message}"
    return seen


async def _listing(client: Any) -> list[dict[str, Any]]:
    """Every capture pipeline AWS lists, and (for the start form) the buckets the account has."""
    captures = await aws.captures_list(client)
    try:
        buckets = [{"Bucket": name} for name in await s3.buckets_list()]
    except AwsError:
        buckets = []  # not allowed to list buckets: the form offers the configured ones only
    return [*captures, *buckets]


def _chunk_time(name: str) -> datetime | None:
    match = CHUNK_TIME.match(name)
    if match is None:
        return None
    year, month, day, hour, minute, second, millis = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)
    except ValueError:
        return None


def _folder(key: str, prefix: str) -> str:
    return key.removeprefix(prefix).split("/", 1)[0] if "/" in key.removeprefix(prefix) else ""


def _record_artifacts(capture: CapturePipeline, item: PipelineItem, seen: PipelineSeen) -> None:
    objects = seen.objects or []
    Artifact.objects.bulk_create(
        [
            Artifact(
                pipeline=capture,
                key=obj["Key"],
                folder=_folder(obj["Key"], item.prefix),
                size=obj.get("Size", 0),
                last_modified=obj.get("LastModified"),
                chunk_at=_chunk_time(obj["Key"].rsplit("/", 1)[-1]),
                text=seen.texts.get(obj["Key"], ""),
            )
            for obj in objects
        ],
        ignore_conflicts=True,
    )
    for key, text in seen.texts.items():
        Artifact.objects.filter(pipeline=capture, key=key, text="").update(text=text)
    totals = Artifact.objects.filter(pipeline=capture).aggregate(bytes=Sum("size"))
    CapturePipeline.objects.filter(pk=capture.pk).update(
        artifacts_listed_at=timezone.now(),
        artifact_count=Artifact.objects.filter(pipeline=capture).count(),
        bytes_written=totals["bytes"] or 0,
    )


def _apply_capture(observed: Observed[PipelineItem]) -> str:
    item, seen = observed.item, observed.result
    capture = CapturePipeline.objects.select_for_update(of=("self",)).select_related("meeting").get(pk=item.pk)
    CapturePipeline.objects.filter(pk=capture.pk).update(refreshed_at=timezone.now())
    if seen.gone:
        if capture.status in CapturePipeline.ACTIVE and capture.changed_at <= observed.observed_at:
            capture_mark_gone(capture=capture)
            return "gone"
        return "checked"
    if capture.origin == CapturePipeline.Origin.FOUND and not capture.sink_bucket and seen.sink_arn:
        _describe_found(capture, seen)
    if seen.objects is not None:
        _record_artifacts(capture, item, seen)
    if capture.changed_at > observed.observed_at:
        return "skipped"  # the portal changed it since the observation began (a stop, an event)
    at = seen.updated_at or observed.observed_at
    return "changed" if capture_status_apply(capture=capture, status=seen.status, at=at) else "checked"


def _describe_found(capture: CapturePipeline, seen: PipelineSeen) -> None:
    """A pipeline found in AWS gets its sink and, when the registry knows it, its meeting from what Get answered."""
    bucket, _, prefix = seen.sink_arn.removeprefix("arn:aws:s3:::").partition("/")
    meeting_id = re.split(r":meeting[:/]", seen.source_arn)[-1] if ":meeting" in seen.source_arn else ""
    meeting = Meeting.objects.filter(meeting_id=meeting_id).first() if meeting_id else None
    taken = meeting is not None and CapturePipeline.objects.filter(meeting=meeting, status__in=CapturePipeline.ACTIVE)
    CapturePipeline.objects.filter(pk=capture.pk).update(
        sink_bucket=bucket,
        sink_prefix=prefix.strip("/"),
        source_arn=seen.source_arn,
        meeting=meeting if meeting is not None and not taken.exists() else None,
    )
    capture.refresh_from_db()


def _apply_concatenation(observed: Observed[PipelineItem]) -> str:
    item, seen = observed.item, observed.result
    concatenation = Concatenation.objects.select_for_update().get(pk=item.pk)
    changes: dict[str, Any] = {"refreshed_at": timezone.now()}
    if seen.gone:
        changes["status"] = Concatenation.Status.GONE
    elif seen.status in (*Concatenation.ACTIVE, Concatenation.Status.FAILED):
        changes["status"] = seen.status
    elif seen.status == Concatenation.Status.STOPPED and not item.prefix:
        changes["status"] = seen.status  # its output is not in a sink bucket: done, and never listed
    elif seen.status == Concatenation.Status.STOPPED and seen.objects:
        output = max(seen.objects, key=lambda obj: obj.get("Size", 0))
        changes |= {"status": seen.status, "output_key": output["Key"], "output_size": output.get("Size", 0)}
    Concatenation.objects.filter(pk=concatenation.pk).update(**changes)
    return "changed" if changes.get("status", concatenation.status) != concatenation.status else "checked"


def capture_mark_gone(*, capture: CapturePipeline) -> None:
    """The portal's capture is no longer in AWS: marked gone (never deleted), and recorded as drift."""
    CapturePipeline.objects.filter(pk=capture.pk).update(
        status=CapturePipeline.Status.GONE, changed_at=timezone.now(), ended_at=capture.ended_at or timezone.now()
    )
    drift_gone(capture)


def _reconcile(listing: list[dict[str, Any]], listed_at: datetime) -> dict[str, int]:
    """Found: listed by AWS and unknown here, while no start is waiting for AWS's answer (that pipeline may be it);
    added, then observed like any other. Gone: active here, its id known before the listing began, and not listed."""
    buckets = sorted(entry["Bucket"] for entry in listing if "Bucket" in entry)
    cache_or(lambda: cache.set(BUCKETS_CACHE_KEY, buckets, timeout=None), unavailable=None)
    listed = {entry["MediaPipelineId"]: entry for entry in listing if "MediaPipelineId" in entry}
    known = set(
        CapturePipeline.objects.filter(media_pipeline_id__in=listed).values_list("media_pipeline_id", flat=True)
    )
    found = 0
    if not CapturePipeline.objects.filter(status=CapturePipeline.Status.REQUESTED).exists():
        for pipeline_id in set(listed) - known:
            with transaction.atomic():
                capture = CapturePipeline.objects.create(
                    media_pipeline_id=pipeline_id,
                    arn=listed[pipeline_id].get("MediaPipelineArn", ""),
                    status=CapturePipeline.Status.INITIALIZING,
                    origin=CapturePipeline.Origin.FOUND,
                    sink_bucket="",
                )
                drift_found(capture)
            found += 1
    gone = 0
    missing = (
        CapturePipeline.objects.filter(status__in=CapturePipeline.ACTIVE, changed_at__lt=listed_at)
        .exclude(media_pipeline_id=None)
        .exclude(media_pipeline_id__in=listed)
    )
    for capture in missing:
        with transaction.atomic():
            capture_mark_gone(capture=capture)
        gone += 1
    return {"found": found, "gone": gone}


def _apply(cycle: Cycle[PipelineItem]) -> dict[str, int]:
    summary = {"checked": 0, "changed": 0, "skipped": 0, "gone": 0, "found": 0}
    for observed in cycle.observed:
        if observed.error is None:
            with transaction.atomic():
                apply = _apply_concatenation if observed.item.concatenation else _apply_capture
                summary[apply(observed)] += 1
    if cycle.listing is not None and cycle.listing_observed_at is not None:
        for name, count in _reconcile(cycle.listing, cycle.listing_observed_at).items():
            summary[name] += count
    return summary


PIPELINES_REFRESHER = refresher_register(
    Refresher(
        name="pipelines",
        service=aws.SERVICE,
        items=_items,
        observe=_observe,
        apply=_apply,
        listing=_listing,
        concurrency=4,
    )
)


def pipelines_refresh() -> dict[str, int] | None:
    """One cycle of the pipelines refresher, now."""
    return refresh_run(PIPELINES_REFRESHER.name)
