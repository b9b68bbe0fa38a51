from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class Operation(models.Model):
    """One requested AWS mutation. The row exists before any call is made; the task is only its courier."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Effect(models.TextChoices):
        """The local change that follows AWS's answer, applied after the outcome is recorded and retried alone."""

        NONE = "none", "Nothing to apply"
        PENDING = "pending", "Pending"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED)
    UNFINISHED = (Status.QUEUED, Status.RUNNING)
    EFFECT_MAX_ATTEMPTS = 5  # a failed local effect is applied again by the sweeper up to this many times in all

    kind = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=512, blank=True, db_index=True)
    parameters = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=512, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, help_text="Username at request time, or the scheduled job.")
    idempotency_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    result = models.JSONField(default=dict, blank=True)
    resource_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resource_id = models.PositiveBigIntegerField(null=True, blank=True)
    resource = GenericForeignKey("resource_type", "resource_id")
    effect_status = models.CharField(max_length=8, choices=Effect.choices, default=Effect.NONE)
    effect_data = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder, help_text="What the local effect needs; never shown."
    )
    effect_error = models.TextField(blank=True)
    effect_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    courier = models.CharField(max_length=200, blank=True, help_text="host:pid of the process running the attempt.")
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["resource_type", "resource_id", "-created_at"], name="operation_resource"),
            models.Index(fields=["effect_status", "updated_at"], name="operation_effect"),
        ]
        permissions = [
            ("view_resources", "Can see every resource, operation and audit entry"),
            ("manage_resources", "Can create, change and delete AWS resources"),
            ("revoke_participants", "Can revoke stage participants and meeting attendees"),
            ("hangup_calls", "Can hang up PSTN calls"),
            ("sync_resources", "Can sync the portal's registry from AWS"),
            ("manage_users", "Can manage the portal's users (never superusers)"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.target} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def is_settled(self) -> bool:
        """Ended, and its local change applied (or given up on): the portal's pages show all it will change."""
        if not self.is_terminal:
            return False
        if self.effect_status == self.Effect.FAILED:
            return self.effect_attempts >= self.EFFECT_MAX_ATTEMPTS
        return self.effect_status != self.Effect.PENDING

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds()

    @property
    def resource_name(self) -> str:
        """The name of the row the operation is about, as it is now; "" when there is none."""
        resource = self.resource
        return str(resource) if resource is not None else ""


class OneTimeSecret(models.Model):
    """A secret AWS returned (a participant token, a join token), or one the portal made in a change that is not an
    operation (a generated password, kept by that change's audit entry): encrypted, shown once to its requester,
    expiring."""

    operation = models.ForeignKey(Operation, null=True, on_delete=models.CASCADE, related_name="secrets")
    audit_entry = models.ForeignKey("AuditEntry", null=True, on_delete=models.CASCADE, related_name="secrets")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=256, help_text="What the secret belongs to, e.g. a participant id.")
    ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(operation__isnull=True) ^ models.Q(audit_entry__isnull=True),
                name="one_time_secret_kept_by_one",
            )
        ]

    def __str__(self) -> str:
        kept_by = f"operation {self.operation_id}" if self.operation_id else f"audit entry {self.audit_entry_id}"
        return f"secret for {self.label} ({kept_by})"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class AuditEntry(models.Model):
    """Append-only: one row when a mutation is requested, one per retry, one when its outcome is known.

    Each entry keeps what was true when it was written: the summary of what was asked and the resource's name.
    """

    class Event(models.TextChoices):
        REQUESTED = "requested", "Requested"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # Logins and logouts (portal.users) are entries too, with no operation.
        LOGGED_IN = "logged_in", "Logged in"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOCKED_OUT = "locked_out", "Locked out"
        LOGGED_OUT = "logged_out", "Logged out"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_name = models.CharField(max_length=150, db_index=True)
    kind = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=512, db_index=True, blank=True)
    resource_name = models.CharField(max_length=256, blank=True, help_text="The resource's name at the time.")
    summary = models.TextField(blank=True, help_text="What was asked, in words, e.g. which participant or which tags.")
    reason = models.CharField(max_length=512, blank=True)
    event = models.CharField(max_length=16, choices=Event.choices, db_index=True)
    detail = models.TextField(blank=True, help_text="AWS error code and message, or a summary of the result.")
    operation = models.ForeignKey(Operation, null=True, on_delete=models.PROTECT, related_name="audit_entries")

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.kind} {self.event}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


def _long_ago() -> datetime:
    return datetime(2000, 1, 1, tzinfo=UTC)


class RefresherState(models.Model):
    """One row per refresher: its lease (a cycle never overlaps itself) and what its last cycle did."""

    name = models.CharField(max_length=64, unique=True)
    lease_until = models.DateTimeField(default=_long_ago)
    last_started_at = models.DateTimeField(null=True, blank=True)
    listed_at = models.DateTimeField(null=True, blank=True, help_text="The last complete listing of everything.")
    last_duration_seconds = models.FloatField(default=0)
    last_calls = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name


class OperationBatch(models.Model):
    """Operations one action requested together (a person disconnected everywhere, several stages deleted).

    The operations run one by one through the pipeline, each audited on its own; the batch lets one page follow them
    all. It is written in the same transaction as its operations.
    """

    label = models.CharField(max_length=256, help_text="What the action was, in the user's words.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150)
    reason = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    operations = models.ManyToManyField(Operation, related_name="batches")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.label


class Drift(models.Model):
    """A difference reconciliation saw between a portal row and AWS. Open until settled or resolved by a person.

    At most one open record per (row, change, field): a difference seen again only moves `last_seen`.
    """

    class Change(models.TextChoices):
        FOUND = "found", "Found in AWS"
        GONE = "gone", "Gone from AWS"
        CHANGED = "changed", "Changed outside the portal"

    class Resolution(models.TextChoices):
        ADOPTED = "adopted", "AWS's value adopted"
        KEPT = "kept", "Kept in the portal"
        REAPPLIED = "reapplied", "Portal's value re-applied"
        MARKED_GONE = "marked_gone", "Marked gone"
        SETTLED = "settled", "Agree again"

    kind = models.CharField(max_length=32, db_index=True, help_text="The DriftKind's name, e.g. stage.")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    row = GenericForeignKey("content_type", "object_id")
    label = models.CharField(max_length=256, help_text="The row's name when the difference was last seen.")
    change = models.CharField(max_length=8, choices=Change.choices)
    field = models.CharField(max_length=64, blank=True, help_text='The field that differs; "" when found or gone.')
    portal_value = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    aws_value = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=12, choices=Resolution.choices, blank=True)
    reason = models.CharField(
        max_length=256, blank=True, help_text="Why it settled: AWS and the portal agree again, or the row was removed."
    )

    class Meta:
        ordering = ["kind", "-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "change", "field"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_drift_per_field",
            )
        ]
        indexes = [models.Index(fields=["content_type", "object_id"], name="drift_row")]

    def __str__(self) -> str:
        what = f"{self.field} " if self.field else ""
        return f"{self.label}: {what}{self.get_change_display().lower()}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def field_label(self) -> str:
        """The differing field as pages name it, from its kind's declaration."""
        from portal.core.drift import drift_kind_get  # the kinds registry imports this module

        return drift_kind_get(self.kind).field_label(self.field) if self.field else ""


class DeadLetter(models.Model):
    """A queue message the events consumer could not apply (no event, of a detail-type nobody handles, unreadable to
    its handler, or its handler failed on every receive allowed): kept with its raw body and the error, never lost."""

    message_id = models.CharField(max_length=128, blank=True)
    body = models.TextField()
    error = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"dead letter {self.pk}: {self.error[:60]}"
