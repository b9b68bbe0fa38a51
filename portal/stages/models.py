from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from portal.core.models import Operation


class Stage(models.Model):
    """An IVS Real-Time stage as the portal knows it. Rows are never deleted: a stage gone from AWS stays, marked."""

    NOT_LIVE = {"active_session_id": "", "active_session_since": None, "connected_count": 0}

    class Status(models.TextChoices):
        CREATING = "creating", "Creating"
        ACTIVE = "active", "Active"
        DELETING = "deleting", "Deleting"
        DELETED = "deleted", "Deleted"
        GONE = "gone", "Gone from AWS"
        FAILED = "failed", "Creation failed"

    IN_TRANSITION = (Status.CREATING, Status.DELETING)

    class Origin(models.TextChoices):
        PORTAL = "portal", "Created here"
        FOUND = "found", "Found in AWS"

    arn = models.CharField(max_length=128, null=True, blank=True, unique=True)
    name = models.CharField(max_length=128, blank=True, db_index=True)
    region = models.CharField(max_length=32)
    tags = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATING, db_index=True)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.PORTAL)
    active_session_id = models.CharField(max_length=16, blank=True, db_index=True)
    active_session_since = models.DateTimeField(null=True, blank=True)
    connected_count = models.PositiveIntegerField(default=0)
    endpoints = models.JSONField(
        default=dict, blank=True, help_text="GetStage's endpoints (events, whip, rtmp, rtmps), as last read."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now, help_text="Last change the portal made or observed.")
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or self.arn or f"stage {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("stage_detail", args=[self.pk])

    @property
    def short_arn(self) -> str:
        return self.arn.rsplit("/", 1)[-1] if self.arn else ""

    @property
    def is_live(self) -> bool:
        return bool(self.active_session_id)

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.ACTIVE and bool(self.arn)


class ParticipantToken(models.Model):
    """A participant token the portal issued. The token itself is never stored: it is shown once and forgotten."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="tokens")
    participant_id = models.CharField(max_length=64, db_index=True)
    user_id = models.CharField(max_length=128, blank=True)
    capabilities = models.JSONField(default=list)
    duration_minutes = models.PositiveIntegerField()
    attributes = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    issued_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["stage", "participant_id"], name="one_token_per_participant")]

    def __str__(self) -> str:
        return f"{self.user_id or self.participant_id} on {self.stage}"


class StageSession(models.Model):
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="sessions")
    session_id = models.CharField(max_length=16)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["stage", "session_id"], name="one_row_per_session")]

    def __str__(self) -> str:
        return self.session_id


class Participant(models.Model):
    class State(models.TextChoices):
        CONNECTED = "CONNECTED", "Connected"
        DISCONNECTED = "DISCONNECTED", "Disconnected"

    session = models.ForeignKey(StageSession, on_delete=models.CASCADE, related_name="participants")
    participant_id = models.CharField(max_length=64)
    user_id = models.CharField(max_length=128, blank=True)
    state = models.CharField(max_length=16, choices=State.choices)
    published = models.BooleanField(default=False)
    first_join_at = models.DateTimeField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # What GetParticipant says about the participant's client; read once, when the refresh first sees it.
    browser_name = models.CharField(max_length=128, blank=True)
    browser_version = models.CharField(max_length=64, blank=True)
    os_name = models.CharField(max_length=128, blank=True)
    os_version = models.CharField(max_length=64, blank=True)
    sdk_version = models.CharField(max_length=64, blank=True)
    isp_name = models.CharField(max_length=256, blank=True)
    protocol = models.CharField(max_length=16, blank=True, help_text="Ingest protocol: WHIP, RTMP, RTMPS or UNKNOWN.")
    recording_state = models.CharField(max_length=16, blank=True, help_text="Individual participant recording.")
    disconnect_operation = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_attempt = models.CharField(
        max_length=80, blank=True, help_text="The operation attempt that minted this participant's token."
    )
    unrecorded_token = models.BooleanField(
        default=False, help_text="Joined with a token whose minting attempt's outcome was lost; disconnected."
    )
    changed_at = models.DateTimeField(default=timezone.now, help_text="Last change the portal made or observed.")
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["first_join_at", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "participant_id"], name="one_row_per_participant")]
        indexes = [models.Index(fields=["session", "state"])]

    def __str__(self) -> str:
        return self.user_id or self.participant_id

    @property
    def is_disconnecting(self) -> bool:
        operation = self.disconnect_operation
        return operation is not None and not operation.is_terminal and self.state == self.State.CONNECTED


class ParticipantEvent(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=32)
    event_time = models.DateTimeField()
    remote_participant_id = models.CharField(max_length=64, blank=True)
    error_code = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["event_time", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "name", "event_time", "remote_participant_id"], name="one_row_per_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.event_time:%H:%M:%S}"
