from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.core.models import Operation


class Meeting(models.Model):
    """A Chime SDK meeting as the portal knows it. AWS has no ListMeetings: these rows are the registry.

    Rows are never deleted: an ended meeting stays, with why it ended.
    """

    class Status(models.TextChoices):
        CREATING = "creating", "Creating"
        ACTIVE = "active", "Active"
        ENDING = "ending", "Ending"
        ENDED = "ended", "Ended"
        FAILED = "failed", "Creation failed"

    class EndReason(models.TextChoices):
        DELETED = "deleted", "Deleted here"
        BY_AWS = "aws", "Ended by AWS (idle 5 minutes or 24 hours)"
        PRIMARY_ENDED = "primary", "Primary meeting ended"

    class Origin(models.TextChoices):
        PORTAL = "portal", "Created here"
        FOUND = "found", "Found through events"

    meeting_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    external_meeting_id = models.CharField(max_length=64, db_index=True)
    media_region = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATING, db_index=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.PORTAL)
    features = models.JSONField(default=dict, blank=True)
    tenant_ids = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    media_placement = models.JSONField(default=dict, blank=True)
    meeting_arn = models.CharField(max_length=256, blank=True)
    primary = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replicas")
    connected_count = models.PositiveIntegerField(default=0, help_text="Attendees connected now, from events.")
    attendee_count = models.PositiveIntegerField(default=0, help_text="Attendees created and not deleted.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now, help_text="Last change the portal made or observed.")
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.external_meeting_id or self.meeting_id or f"meeting {self.pk}"

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.ACTIVE and bool(self.meeting_id)

    @property
    def status_words(self) -> str:
        if self.status == self.Status.ENDED and self.end_reason:
            return f"Ended: {self.get_end_reason_display()}"
        return self.get_status_display()


class Attendee(models.Model):
    """An attendee the meeting holds (or held). The join token is never stored: it is shown once and forgotten."""

    class State(models.TextChoices):
        ADDED = "added", "Not connected"
        CONNECTED = "connected", "Connected"
        LEFT = "left", "Left"
        DROPPED = "dropped", "Dropped"
        DELETED = "deleted", "Deleted"

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendees")
    attendee_id = models.CharField(max_length=64)
    external_user_id = models.CharField(max_length=64, db_index=True)
    capabilities = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ADDED, db_index=True)
    video = models.BooleanField(default=False)
    content = models.BooleanField(default=False)
    content_video = models.BooleanField(default=False)
    joined_at = models.DateTimeField(null=True, blank=True, help_text="Start of the current connection.")
    connected_seconds = models.FloatField(default=0, help_text="Time connected in earlier connections.")
    state_at = models.DateTimeField(null=True, blank=True, help_text="Time of the event that set the state.")
    media_at = models.DateTimeField(null=True, blank=True, help_text="Time of the event that set video/content.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    revoke_operation = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["meeting", "attendee_id"], name="one_row_per_attendee")]
        indexes = [models.Index(fields=["meeting", "state"])]

    def __str__(self) -> str:
        return self.external_user_id or self.attendee_id

    @property
    def connected_seconds_now(self) -> float:
        """Attendee-seconds: every earlier connection plus the current one, if connected."""
        current = (timezone.now() - self.joined_at).total_seconds() if self.state == self.State.CONNECTED else 0
        return self.connected_seconds + max(current, 0) if self.joined_at else self.connected_seconds

    @property
    def is_revoking(self) -> bool:
        """Until the revoke has ended and its change here is applied (the row is marked deleted)."""
        operation = self.revoke_operation
        return operation is not None and not operation.is_settled


class MeetingEvent(models.Model):
    """A meeting event applied to the registry: the meeting's timeline, and dedupe by the event's id."""

    event_id = models.CharField(max_length=64, unique=True)
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=48)
    attendee_id = models.CharField(max_length=64, blank=True)
    external_user_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["meeting", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.occurred_at:%H:%M:%S}"
