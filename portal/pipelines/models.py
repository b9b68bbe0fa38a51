from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.core.models import Operation
from portal.meetings.models import Meeting


class CapturePipeline(models.Model):
    """A Chime SDK media capture pipeline recording a meeting into S3. Rows are never deleted."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"  # the create operation has not been answered yet
        INITIALIZING = "Initializing", "Initializing"
        IN_PROGRESS = "InProgress", "In progress"
        STOPPING = "Stopping", "Stopping"
        STOPPED = "Stopped", "Stopped"
        FAILED = "Failed", "Failed"
        PAUSED = "Paused", "Paused"
        NOT_STARTED = "NotStarted", "Not started"
        GONE = "gone", "Gone from AWS"

    ACTIVE = (Status.REQUESTED, Status.INITIALIZING, Status.IN_PROGRESS, Status.STOPPING, Status.PAUSED)
    RUNNING = (Status.INITIALIZING, Status.IN_PROGRESS, Status.PAUSED)  # a stop may be asked
    TRANSITION = (Status.INITIALIZING, Status.STOPPING)  # polled every cycle
    AWS_STATUSES = ("Initializing", "InProgress", "Stopping", "Stopped", "Failed", "Paused", "NotStarted")

    class Origin(models.TextChoices):
        PORTAL = "portal", "Started here"
        FOUND = "found", "Found in AWS"

    meeting = models.ForeignKey(Meeting, null=True, blank=True, on_delete=models.PROTECT, related_name="captures")
    media_pipeline_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    arn = models.CharField(max_length=1024, blank=True)
    source_arn = models.CharField(max_length=1024, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    failure = models.TextField(blank=True, help_text="AWS's code and message when the capture failed.")
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.PORTAL)
    sink_bucket = models.CharField(max_length=255)
    sink_prefix = models.CharField(max_length=1024, blank=True)
    configuration = models.JSONField(default=dict, blank=True, help_text="ChimeSdkMeetingConfiguration as sent.")
    tags = models.JSONField(default=dict, blank=True)
    stop_when_empty_minutes = models.PositiveIntegerField(null=True, blank=True)
    max_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    stop_reason = models.CharField(max_length=256, blank=True)
    stop_operation = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When AWS said InProgress.")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When AWS said Stopped or Failed.")
    status_at = models.DateTimeField(null=True, blank=True, help_text="AWS's time of the status shown.")
    changed_at = models.DateTimeField(default=timezone.now, help_text="Last change the portal made or observed.")
    refreshed_at = models.DateTimeField(null=True, blank=True)
    artifacts_listed_at = models.DateTimeField(null=True, blank=True)
    artifact_count = models.PositiveIntegerField(default=0)
    bytes_written = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "refreshed_at"], name="capture_status_refreshed"),
            models.Index(fields=["meeting", "status"], name="capture_meeting_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["meeting"],
                condition=models.Q(status__in=["requested", "Initializing", "InProgress", "Stopping", "Paused"]),
                name="one_active_capture_per_meeting",
            )
        ]

    def __str__(self) -> str:
        return self.media_pipeline_id or f"capture {self.pk}"

    @property
    def sink_arn(self) -> str:
        path = f"{self.sink_bucket}/{self.sink_prefix}" if self.sink_prefix else self.sink_bucket
        return f"arn:aws:s3:::{path}"

    @property
    def artifact_prefix(self) -> str:
        """Where AWS writes: the sink's prefix, or the meeting id when the sink has none."""
        return self.sink_prefix or (self.meeting.meeting_id if self.meeting and self.meeting.meeting_id else "")

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_stopping(self) -> bool:
        """A stop was asked (or AWS says Stopping) and AWS has not said Stopped yet."""
        if self.status == self.Status.STOPPING:
            return True
        return self.status in self.RUNNING and self.stop_operation_id is not None

    @property
    def artifacts_words(self) -> str:
        """What it captures, in words: "Audio AudioOnly, Video Enabled, Content Disabled"."""
        artifacts = (self.configuration or {}).get("ArtifactsConfiguration") or {}
        return ", ".join(f"{name} {a.get('MuxType') or a.get('State', '')}" for name, a in artifacts.items()) or "—"

    @property
    def video_streams_words(self) -> str:
        streams = ((self.configuration or {}).get("SourceConfiguration") or {}).get("SelectedVideoStreams") or {}
        return ", ".join([*streams.get("AttendeeIds", []), *streams.get("ExternalUserIds", [])])

    @property
    def can_stop(self) -> bool:
        return self.status in self.RUNNING and bool(self.media_pipeline_id) and self.stop_operation_id is None

    @property
    def badge(self) -> str:
        """The status badge's look: the portal's shared status classes."""
        return BADGES.get(self.status, "queued")

    @property
    def duration_seconds(self) -> float | None:
        """From AWS's InProgress to its Stopped or Failed (or now, while it records)."""
        if self.started_at is None:
            return None
        return max(((self.ended_at or timezone.now()) - self.started_at).total_seconds(), 0.0)


BADGES = {
    CapturePipeline.Status.REQUESTED: "requested",
    CapturePipeline.Status.INITIALIZING: "creating",
    CapturePipeline.Status.IN_PROGRESS: "running",
    CapturePipeline.Status.STOPPING: "deleting",
    CapturePipeline.Status.STOPPED: "succeeded",
    CapturePipeline.Status.FAILED: "failed",
    CapturePipeline.Status.GONE: "gone",
}


class Artifact(models.Model):
    """One object a capture pipeline wrote under its prefix, as the last S3 listing showed it."""

    FOLDERS = ("audio", "video", "content", "meeting-events", "transcription-messages", "data-channel")
    TEXT_FOLDERS = ("meeting-events", "transcription-messages", "data-channel")

    pipeline = models.ForeignKey(CapturePipeline, on_delete=models.CASCADE, related_name="artifacts")
    key = models.CharField(max_length=1024)
    folder = models.CharField(max_length=32)
    size = models.PositiveBigIntegerField(default=0)
    last_modified = models.DateTimeField(null=True, blank=True)
    chunk_at = models.DateTimeField(null=True, blank=True, help_text="The UTC start time in the chunk's name.")
    text = models.TextField(blank=True, help_text="A meeting-events file's content, read once by the worker.")

    class Meta:
        ordering = ["folder", "chunk_at", "key"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "key"], name="one_row_per_artifact")]

    def __str__(self) -> str:
        return self.key

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class PipelineEvent(models.Model):
    """A "Chime Media Pipeline State Change" event applied to a pipeline: its timeline, and dedupe by the id."""

    event_id = models.CharField(max_length=64, unique=True)
    pipeline = models.ForeignKey(CapturePipeline, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=48)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.occurred_at:%H:%M:%S}"


class Concatenation(models.Model):
    """A media concatenation pipeline joining one stopped capture's chunks into one file in a bucket."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        INITIALIZING = "Initializing", "Initializing"
        IN_PROGRESS = "InProgress", "In progress"
        STOPPED = "Stopped", "Done"
        FAILED = "Failed", "Failed"
        GONE = "gone", "Gone from AWS"

    ACTIVE = (Status.REQUESTED, Status.INITIALIZING, Status.IN_PROGRESS)

    capture = models.ForeignKey(CapturePipeline, on_delete=models.PROTECT, related_name="concatenations")
    media_pipeline_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    arn = models.CharField(max_length=1024, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    failure = models.TextField(blank=True)
    sink_bucket = models.CharField(max_length=255)
    sink_prefix = models.CharField(max_length=1024, blank=True)
    output_key = models.CharField(max_length=1024, blank=True, help_text="The one file, once written.")
    output_size = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.media_pipeline_id or f"concatenation {self.pk}"

    @property
    def sink_arn(self) -> str:
        path = f"{self.sink_bucket}/{self.sink_prefix}" if self.sink_prefix else self.sink_bucket
        return f"arn:aws:s3:::{path}"

    @property
    def badge(self) -> str:
        return {"requested": "requested", "Initializing": "creating", "InProgress": "running", "Stopped": "succeeded",
                "Failed": "failed", "gone": "gone"}.get(self.status, "queued")  # fmt: skip

    @property
    def output_prefix(self) -> str:
        return f"{self.sink_prefix or self.media_pipeline_id}/audio/"
