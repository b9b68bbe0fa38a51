from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse

from portal.cleanup.kinds import Condition
from portal.core.durations import duration_in_words
from portal.core.models import Operation, OperationBatch
from portal.core.protection import protected_tags, protected_words

# The longest a condition can be asked to have held: ten years, longer than any resource a policy selects has existed
# (IVS real-time stages, Chime SDK meetings and media pipelines, KVS signaling channels). A datetime.timedelta holds
# at most 999,999,999 days, so an unbounded amount would not even make a cut-off.
THRESHOLD_MAX = timedelta(days=3650)
# A run's operations are one batch, paced at the quota: the most a policy acts on at once. A channel fleet, the
# portal's largest batch, is 10,000 too.
ACTIONS_MAX = 10_000


class CleanupPolicy(models.Model):
    """What to clean up, when, and at most how much at once. Admins manage policies in the portal; each change is
    audited, and its schedule is a django-celery-beat periodic task the beat process reads from the database."""

    class Origin(models.TextChoices):
        ANY = "", "Created here or found"
        PORTAL = "portal", "Created here"
        FOUND = "found", "Found in AWS"

    class Unit(models.TextChoices):
        MINUTES = "minutes", "minutes"
        HOURS = "hours", "hours"
        DAYS = "days", "days"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, help_text="A registered cleanup kind: stage, meeting, token…")
    name_pattern = models.CharField(
        max_length=128, blank=True, help_text="Shell-style pattern on the resource's name: test-* is a prefix."
    )
    tag_key = models.CharField(max_length=128, blank=True)
    tag_value = models.CharField(max_length=256, blank=True)
    origin = models.CharField(max_length=8, choices=Origin.choices, blank=True)
    condition = models.CharField(max_length=24, choices=list(Condition.LABELS.items()))
    amount = models.PositiveIntegerField(default=0, help_text="The condition's duration, in `unit`.")
    unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.DAYS)
    schedule = models.CharField(
        max_length=100, blank=True, help_text="Cron expression (minute hour day-of-month month day-of-week), UTC."
    )
    max_actions = models.PositiveIntegerField(help_text="Blast-radius cap: a run that would act on more acts on none.")
    enabled = models.BooleanField(default=True, help_text="Scheduled runs happen only while enabled.")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "cleanup policies"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("cleanup_policy", args=[self.pk])

    @staticmethod
    def amount_max(unit: str) -> int:
        """The largest amount of `unit` the form takes: THRESHOLD_MAX in that unit."""
        return THRESHOLD_MAX // timedelta(**{unit: 1})

    @property
    def threshold(self) -> timedelta:
        """How long the condition must have held. A policy saved before the form bounded its amount (1000000000 days)
        counts as THRESHOLD_MAX: nothing it selects is that old either way."""
        return timedelta(**{self.unit: min(self.amount, self.amount_max(self.unit))})

    @staticmethod
    def selects_everything_of(*, name_pattern: str, tag_key: str, origin: str) -> bool:
        """No name pattern, tag or origin narrows the selection: every resource of the kind is a candidate."""
        return not (name_pattern or tag_key or origin)

    @property
    def selects_everything(self) -> bool:
        return self.selects_everything_of(name_pattern=self.name_pattern, tag_key=self.tag_key, origin=self.origin)

    @property
    def condition_words(self) -> str:
        label = Condition.LABELS.get(self.condition, self.condition)
        return f"{label} {duration_in_words(self.threshold)}" if self.condition in Condition.TIMED else label


# What a run that requested operations came to, as its badge says it; other runs say their outcome.
RUN_STATE_LABELS = {"in_progress": "In progress", "failed": "Failed items", "succeeded": "Succeeded"}
ITEM_STATE_LABELS = {"acted": "Acted", "in_progress": "In progress", "failed": "Failed", "skipped": "Skipped",
                     "protected": "Kept: protected in AWS"}  # fmt: skip


class CleanupRun(models.Model):
    """One run of a policy (now, or on its schedule). Its items say what it did to each resource and why."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Run now"
        SCHEDULED = "scheduled", "Scheduled"

    class Outcome(models.TextChoices):
        REQUESTED = "requested", "Operations requested"
        NOTHING = "nothing", "Nothing to do"
        OVER_CAP = "over_cap", "Over the cap: acted on none"
        OVERLAP = "overlap", "Not run: the previous run was still in progress"

    policy = models.ForeignKey(CleanupPolicy, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150)
    started_at = models.DateTimeField(db_index=True, help_text="The clock the selection used.")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    matched = models.PositiveIntegerField(default=0, help_text="Resources the policy would act on.")
    batch = models.OneToOneField(OperationBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.policy} run #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("cleanup_run", args=[self.pk])

    @property
    def state(self) -> str:
        """in_progress / failed / succeeded for a run that requested operations, else its outcome. Reads the
        annotations of `portal.cleanup.selectors.cleanup_runs()`."""
        if self.outcome != self.Outcome.REQUESTED:
            return self.outcome
        if getattr(self, "has_in_flight", False):
            return "in_progress"
        return "failed" if getattr(self, "has_failed", False) else "succeeded"

    @property
    def state_label(self) -> str:
        """`state` in words, for its badge."""
        return RUN_STATE_LABELS.get(self.state) or self.get_outcome_display()


class CleanupItem(models.Model):
    """One resource a run looked at: acted on (its operation tells how that went), skipped and why, or refused."""

    class Outcome(models.TextChoices):
        ACTED = "acted", "Acted"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(CleanupRun, on_delete=models.CASCADE, related_name="items")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    resource = GenericForeignKey("content_type", "object_id")
    label = models.CharField(max_length=256, help_text="The resource's name at the time.")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    why = models.CharField(max_length=512, help_text="Why it matched, or why it was skipped.")
    operation = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error_code = models.CharField(max_length=128, blank=True, help_text="Refused before any call: why.")
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="cleanup_item_resource")]

    def __str__(self) -> str:
        return f"{self.label}: {self.outcome}"

    @property
    def state(self) -> str:
        """What became of it: acted / in_progress / failed / skipped, or protected: its operation found AWS holding
        the protection tag when it ran, and did nothing. An acted item's operation has the last word."""
        if self.outcome != self.Outcome.ACTED or self.operation is None:
            return self.outcome
        if self.operation.status == Operation.Status.FAILED:
            return "failed"
        if protected_tags(self.operation) is not None:
            return "protected"
        return "acted" if self.operation.status == Operation.Status.SUCCEEDED else "in_progress"

    @property
    def state_label(self) -> str:
        """`state` in words, for its badge."""
        return ITEM_STATE_LABELS[self.state]

    @property
    def why_now(self) -> str:
        """Why it matched, and for an item kept at run time what its operation found in AWS first."""
        tags = protected_tags(self.operation) if self.operation is not None else None
        return f"{protected_words(tags)} (matched: {self.why})" if tags is not None else self.why

    @property
    def failure(self) -> tuple[str, str]:
        """AWS's code and message (or the refusal's) when it failed."""
        if self.operation is not None and self.operation.status == Operation.Status.FAILED:
            return self.operation.error_code, self.operation.error_message
        return self.error_code, self.error_message
