"""Cleanup: which resources a policy selects now and why (the preview), and a run that acts on exactly those through
the operation pipeline. One selection function serves both, so a preview and the run that follows on the same
clock and data agree.

A run never overlaps itself: it plans while holding its policy's row lock, and a policy whose previous run still has
operations in flight does not run (a scheduled run records that it did not; Run now is refused with the reason).
A run that would act on more resources than the policy's cap acts on none. Protection is the portal's tags and
those it last saw in AWS here; each operation a run requests reads AWS's tags again just before acting, and keeps a
resource AWS holds protected by then (its item says so: see `CleanupItem.state`). Every resource looked at is an item:
acted (its operation says how that went), skipped (why) or refused before any call; items that failed are tried
again by the next run when they still match, and said when they no longer do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from portal.cleanup.kinds import PROTECTION_TAG, Described, cleanup_kind_get
from portal.cleanup.models import CleanupItem, CleanupPolicy, CleanupRun
from portal.core.audit import audit_record
from portal.core.batches import operation_batch_record
from portal.core.errors import Conflict, DomainError
from portal.core.models import Operation
from portal.core.permissions import MANAGE_RESOURCES

RUN_TASK = "portal.cleanup.tasks.cleanup_scheduled_run"
POLICY_FIELDS = ("name", "kind", "name_pattern", "tag_key", "tag_value", "origin", "condition", "amount", "unit",
                 "schedule", "max_actions", "enabled")  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One resource the policy selected, and why it is acted on or skipped."""

    row: Model
    label: str
    why: str
    retry_of: CleanupItem | None = None


@dataclass
class Plan:
    act: list[Entry] = field(default_factory=list)
    skip: list[Entry] = field(default_factory=list)
    cap: int = 0

    @property
    def over_cap(self) -> bool:
        return len(self.act) > self.cap


def _selected(policy: CleanupPolicy, described: Described) -> bool:
    if policy.name_pattern and not fnmatchcase(described.name, policy.name_pattern):
        return False
    if policy.tag_key and described.tags.get(policy.tag_key) != policy.tag_value:
        return False
    return not policy.origin or described.origin == policy.origin


def _key(row: Model) -> tuple[int, int]:
    return ContentType.objects.get_for_model(row).pk, row.pk


def _failed_last_time(policy: CleanupPolicy) -> dict[tuple[int, int], CleanupItem]:
    """The items the policy's last run that acted failed on: the next run tries them again."""
    last = policy.runs.filter(outcome=CleanupRun.Outcome.REQUESTED).order_by("-started_at", "-id").first()
    if last is None:
        return {}
    failed = last.items.filter(
        Q(outcome=CleanupItem.Outcome.FAILED)
        | Q(outcome=CleanupItem.Outcome.ACTED, operation__status=Operation.Status.FAILED)
    ).prefetch_related("resource")
    return {(item.content_type_id, item.object_id): item for item in failed}


def cleanup_plan(*, policy: CleanupPolicy, now: datetime) -> Plan:
    """What the policy would act on at `now` and why, and what it skips and why. The run uses exactly this."""
    kind = cleanup_kind_get(policy.kind)
    retry = _failed_last_time(policy)
    plan = Plan(cap=policy.max_actions)
    for row in kind.candidates():
        described = kind.describe(row)
        if not _selected(policy, described):
            continue
        why = kind.evaluate(row, policy.condition, policy.threshold, now)
        previous = retry.pop(_key(row), None)
        if why is None:
            if previous is not None:
                plan.skip.append(Entry(row, described.name, _no_longer(previous), previous))
            continue
        if PROTECTION_TAG in described.tags:
            plan.skip.append(Entry(row, described.name, f"protected: tagged {PROTECTION_TAG} ({why})"))
        elif PROTECTION_TAG in described.aws_tags:
            protected = f"protected in AWS: tagged {PROTECTION_TAG}, not adopted"
            plan.skip.append(Entry(row, described.name, f"{protected} ({why})"))
        elif busy := kind.busy(row):
            plan.skip.append(Entry(row, described.name, f"in transition: {busy}"))
        else:
            again = f"; failed in run #{previous.run_id}, tried again" if previous is not None else ""
            plan.act.append(Entry(row, described.name, why + again, previous))
    for previous in retry.values():  # failed last time and no longer a candidate at all (deleted, ended)
        if previous.resource is not None:
            plan.skip.append(Entry(previous.resource, previous.label, _no_longer(previous), previous))
    return plan


def _no_longer(previous: CleanupItem) -> str:
    return f"failed in run #{previous.run_id}; no longer matches the policy, so not tried again"


def cleanup_run(
    *, policy: CleanupPolicy, actor: AbstractBaseUser | None, trigger: str, now: datetime | None = None
) -> CleanupRun:
    """Plan and act, as one transaction: the operations are queued when it commits and run at the quota."""
    now = now or timezone.now()
    if actor is not None and not actor.has_perm(MANAGE_RESOURCES):
        raise PermissionDenied("You may not run cleanup policies.")
    actor_name = actor.get_username() if actor is not None else "scheduler"
    with transaction.atomic():
        policy = CleanupPolicy.objects.select_for_update().get(pk=policy.pk)  # one run of a policy plans at a time
        run = CleanupRun(policy=policy, trigger=trigger, actor=actor, actor_name=actor_name, started_at=now)
        in_flight = cleanup_run_in_flight(policy=policy)
        if in_flight is not None:
            if trigger == CleanupRun.Trigger.MANUAL:
                raise Conflict(f"Run #{in_flight.pk} of this policy is still in progress; a run never overlaps itself.")
            run.outcome = CleanupRun.Outcome.OVERLAP
            run.save()
            return run
        plan = cleanup_plan(policy=policy, now=now)
        run.matched = len(plan.act)
        if plan.over_cap:
            run.outcome = CleanupRun.Outcome.OVER_CAP
            run.save()
            over = f"over the cap: {len(plan.act)} matched, the policy acts on at most {plan.cap} per run"
            _items(run, plan.act, CleanupItem.Outcome.SKIPPED, lambda entry: f"{over} ({entry.why})")
        else:
            run.outcome = CleanupRun.Outcome.REQUESTED if plan.act else CleanupRun.Outcome.NOTHING
            run.save()
            _act(run, plan.act, actor)
        _items(run, plan.skip, CleanupItem.Outcome.SKIPPED, lambda entry: entry.why)
    return run


def _items(run: CleanupRun, entries: list[Entry], outcome: str, why: Any) -> None:
    CleanupItem.objects.bulk_create(
        CleanupItem(
            run=run,
            content_type_id=_key(entry.row)[0],
            object_id=entry.row.pk,
            label=entry.label[:256],
            outcome=outcome,
            why=why(entry)[:512],
            retry_of=entry.retry_of,
        )
        for entry in entries
    )


def _act(run: CleanupRun, entries: list[Entry], actor: AbstractBaseUser | None) -> None:
    kind = cleanup_kind_get(run.policy.kind)
    reason = f"Cleanup policy {run.policy.name}, run #{run.pk}"
    operations = []
    for entry in entries:
        item = CleanupItem(
            run=run,
            content_type_id=_key(entry.row)[0],
            object_id=entry.row.pk,
            label=entry.label[:256],
            why=entry.why[:512],
            retry_of=entry.retry_of,
        )
        try:
            with transaction.atomic():
                item.operation = kind.act(entry.row, actor, f"{reason}: {entry.why}"[:512])
            item.outcome = CleanupItem.Outcome.ACTED
            operations.append(item.operation)
        except DomainError as refused:
            item.outcome = CleanupItem.Outcome.FAILED
            item.error_code, item.error_message = "Refused", refused.message
        item.save()
    if operations:
        run.batch = operation_batch_record(
            label=f"Cleanup: {run.policy.name} (run #{run.pk})", actor=actor, reason=reason, operations=operations
        )
        run.save(update_fields=["batch"])


def cleanup_run_in_flight(*, policy: CleanupPolicy) -> CleanupRun | None:
    """The policy's run whose operations have not all ended, if any."""
    return (
        policy.runs.filter(
            outcome=CleanupRun.Outcome.REQUESTED,
            items__outcome=CleanupItem.Outcome.ACTED,
            items__operation__status__in=Operation.UNFINISHED,
        )
        .order_by("-started_at")
        .first()
    )


# --- policies ---------------------------------------------------------------------------------------------------------


def _values(policy: CleanupPolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def cleanup_policy_save(
    *, policy: CleanupPolicy, actor: AbstractBaseUser | AnonymousUser, values: dict[str, Any]
) -> CleanupPolicy:
    """Create or change a policy, audited with what changed, and keep its beat schedule in step."""
    if not actor.has_perm(MANAGE_RESOURCES):
        raise PermissionDenied("You may not manage cleanup policies.")
    creating = policy.pk is None
    before = {} if creating else _values(CleanupPolicy.objects.get(pk=policy.pk))  # as stored, not as edited
    with transaction.atomic():
        for name, value in values.items():
            setattr(policy, name, value)
        if creating:
            policy.created_by = actor if isinstance(actor, AbstractBaseUser) else None
        policy.save()
        _schedule_sync(policy)
        after = _values(policy)
        changed = {name: value for name, value in after.items() if creating or before.get(name) != value}
        if changed:
            audit_record(
                actor=actor,
                kind="cleanup.policy_create" if creating else "cleanup.policy_change",
                target=f"cleanup policy {policy.pk}",
                resource_name=policy.name,
                summary=f"{'Create' if creating else 'Change'} cleanup policy {policy.name}",
                detail="; ".join(
                    f"{name}: {value!r}" if creating else f"{name}: {before.get(name)!r} → {value!r}"
                    for name, value in changed.items()
                ),
            )
    return policy


def _schedule_sync(policy: CleanupPolicy) -> None:
    """The policy's periodic task (django-celery-beat) follows its schedule; no schedule, no task."""
    if not policy.schedule:
        if policy.periodic_task_id is not None:
            PeriodicTask.objects.filter(pk=policy.periodic_task_id).delete()
        return
    minute, hour, day_of_month, month_of_year, day_of_week = policy.schedule.split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone="UTC",
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"cleanup-policy-{policy.pk}",
        defaults={
            "task": RUN_TASK,
            "crontab": crontab,
            "interval": None,
            "args": json.dumps([policy.pk]),
            "enabled": policy.enabled,
            "description": f"Cleanup policy {policy.name}",
        },
    )
    if policy.periodic_task_id != task.pk:
        CleanupPolicy.objects.filter(pk=policy.pk).update(periodic_task=task)
        policy.periodic_task = task
