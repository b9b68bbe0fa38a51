from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Channel(models.Model):
    """A KVS WebRTC signaling channel as the portal knows it. Rows are never deleted: a channel deleted here is marked
    deleted, one gone from AWS is marked gone, and its name is free again for a new channel."""

    class Status(models.TextChoices):
        CREATING = "creating", "Creating"
        ACTIVE = "active", "Active"
        UPDATING = "updating", "Updating"
        DELETING = "deleting", "Deleting"
        DELETED = "deleted", "Deleted"
        GONE = "gone", "Gone from AWS"
        FAILED = "failed", "Creation failed"

    class Type(models.TextChoices):
        SINGLE_MASTER = "SINGLE_MASTER", "Single master"
        FULL_MESH = "FULL_MESH", "Full mesh"

    class Origin(models.TextChoices):
        PORTAL = "portal", "Created here"
        FOUND = "found", "Found in AWS"

    IN_AWS = (Status.CREATING, Status.ACTIVE, Status.UPDATING, Status.DELETING)
    IN_TRANSITION = (Status.CREATING, Status.UPDATING, Status.DELETING)
    AWS_STATUS = {"CREATING": Status.CREATING, "ACTIVE": Status.ACTIVE, "UPDATING": Status.UPDATING,
                  "DELETING": Status.DELETING}  # fmt: skip

    arn = models.CharField(max_length=1024, null=True, blank=True, unique=True)
    name = models.CharField(max_length=256)
    region = models.CharField(max_length=32)
    channel_type = models.CharField(max_length=16, choices=Type.choices, default=Type.SINGLE_MASTER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATING, db_index=True)
    message_ttl = models.PositiveSmallIntegerField(default=60, help_text="MessageTtlSeconds, 5 to 120.")
    version = models.CharField(max_length=64, blank=True, help_text="AWS's current version, as last read.")
    tags = models.JSONField(default=dict, blank=True)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.PORTAL)
    endpoints = models.JSONField(default=dict, blank=True, help_text="{role: {protocol: endpoint}}, as last read.")
    aws_created_at = models.DateTimeField(null=True, blank=True, help_text="CreationTime, as AWS says.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    drifted = models.JSONField(
        default=list, blank=True, help_text="Settings last seen different in AWS (recorded as drift), e.g. ['tags']."
    )
    tags_read_at = models.DateTimeField(null=True, blank=True, help_text="Last ListTagsForResource.")
    changed_at = models.DateTimeField(default=timezone.now, help_text="Last change the portal made or observed.")
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # AWS: names are unique per account and region. The registry holds a name while the channel exists.
            models.UniqueConstraint(
                fields=["region", "name"],
                condition=Q(status__in=["creating", "active", "updating", "deleting"]),
                name="channel_name_unique_in_region",
            ),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="channel_newest"),
            models.Index(fields=["name"], name="channel_name_prefix", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("channel_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE and bool(self.arn)

    @property
    def in_transition(self) -> bool:
        return self.status in self.IN_TRANSITION

    @property
    def https_endpoint(self) -> str:
        return str(self.endpoints.get("MASTER", {}).get("HTTPS", ""))
