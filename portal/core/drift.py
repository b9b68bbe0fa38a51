"""Drift: what reconciliation saw differ between the portal's rows and AWS, kept until it agrees again or a person
resolves it. Features record; core keeps the records and offers the resolutions.

A feature's reconciliation calls `drift_found` (a resource AWS has that the portal had not created; the row is
already inserted, origin found), `drift_gone` (the portal's row no longer exists in AWS; the feature has marked it),
`drift_changed` (a field's value in AWS differs from the portal's; equal values settle it) and `drift_settle`.
Each feature declares a `DriftKind` in its `drift` module (autodiscovered at start): how to adopt AWS's value into the
row, how to put the portal's value back in AWS (an operation), how to mark the row gone, and which operation kinds
remove the row from AWS. Reconciliation itself never deletes anything in AWS; resolving is audited.

A record settles (closes, with its reason) when nothing differs any more: reconciliation sees AWS agree again, or an
operation that removes the row (a deletion, asked by a person or a cleanup run) succeeds: core settles every open
record of that row then (`drift_settle_removed`, called by the courier once the operation's local effect is applied).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.text import capfirst

from portal.core.audit import audit_record
from portal.core.errors import NotAllowedInState
from portal.core.models import Drift, Operation
from portal.core.permissions import SYNC_RESOURCES
from portal.core.protection import protected_tags
from portal.core.templatetags.display import in_words

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser


@dataclass(frozen=True)
class DriftKind:
    """What a feature declares in its `drift.py`, once per model it reconciles."""

    name: str  # "stage" | "meeting" | "pipeline" | "channel" ...
    label: str  # "Signaling channels"
    model: type[Model]
    adopt: Callable[[Model, str, Any], None] | None  # write AWS's value for a changed field into the row
    reapply: Callable[[Model, str, Any, User], Operation] | None  # queue an operation putting the portal's value back
    mark_gone: Callable[[Model, User], None]  # the row is marked gone (never deletes in AWS)
    removed_by: tuple[str, ...] = ()  # operation kinds whose success takes the row out of AWS ("channels.delete")
    field_labels: dict[str, str] = dataclasses.field(default_factory=dict)  # where a field's verbose name will not do

    def field_label(self, name: str) -> str:
        """What a page calls a compared field: "Message TTL", not message_ttl."""
        return self.field_labels.get(name) or capfirst(self.model._meta.get_field(name).verbose_name)


_KINDS: dict[str, DriftKind] = {}


def drift_kind_register(kind: DriftKind) -> DriftKind:
    if kind.name in _KINDS and _KINDS[kind.name].model is not kind.model:
        raise ValueError(f"Drift kind {kind.name!r} is registered twice.")
    _KINDS[kind.name] = kind
    return kind


def drift_kinds() -> list[DriftKind]:
    return sorted(_KINDS.values(), key=lambda kind: kind.label)


def drift_kind_get(name: str) -> DriftKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"Unknown drift kind {name!r}.") from None


def _kind_of(row: Model) -> DriftKind:
    for kind in _KINDS.values():
        if isinstance(row, kind.model):
            return kind
    raise LookupError(f"No drift kind is registered for {type(row).__name__}; declare one in the app's drift.py.")


def _open(row: Model) -> QuerySet[Drift]:
    content_type = ContentType.objects.get_for_model(row)
    return Drift.objects.filter(content_type=content_type, object_id=row.pk, resolved_at__isnull=True)


AGREE_AGAIN = "AWS and the portal agree again."
ENDED = "It has ended in AWS and in the portal: nothing about it can differ any more."


def _record(row: Model, change: str, field: str, *, portal: Any = None, aws: Any = None) -> None:
    """Open the record, or touch the open one (its values become the latest seen)."""
    now = timezone.now()
    values = {"label": str(row)[:256], "portal_value": portal, "aws_value": aws, "last_seen": now}
    if _open(row).filter(change=change, field=field).update(**values):
        return
    try:
        with transaction.atomic():
            Drift.objects.create(
                kind=_kind_of(row).name,
                content_type=ContentType.objects.get_for_model(row),
                object_id=row.pk,
                change=change,
                field=field,
                **values,
            )
    except IntegrityError:  # another reconciliation opened it at the same instant
        _open(row).filter(change=change, field=field).update(**values)


def drift_changed(row: Model, field: str, *, portal: Any, aws: Any) -> None:
    """Reconciliation saw AWS's value differ from the portal's: open (or touch) the record. Equal values settle it."""
    if portal == aws:
        drift_settle(row, field)
    else:
        _record(row, Drift.Change.CHANGED, field, portal=portal, aws=aws)


def drift_found(row: Model) -> None:
    """A resource in AWS the portal had not created (its row is already inserted, origin found)."""
    _record(row, Drift.Change.FOUND, "")


def drift_gone(row: Model) -> None:
    """The portal's row no longer exists in AWS (the feature has marked it gone)."""
    _record(row, Drift.Change.GONE, "")


def drift_open_keys(model: type[Model]) -> set[tuple[int, str, str]]:
    """(object id, change, field) of every open record about the model's rows, in one query: a reconciliation of
    many rows reads it once and settles only what is open, instead of asking for every row and field."""
    content_type = ContentType.objects.get_for_model(model)
    records = Drift.objects.filter(content_type=content_type, resolved_at__isnull=True)
    return set(records.values_list("object_id", "change", "field"))


def drift_aws_value(model: type[Model], field: str, *, row: str = "pk") -> Subquery:
    """AWS's value of the field where reconciliation last saw it differ from the row's (its open record), as an
    annotation: a queryset of many rows reads it in its one query. None where AWS agrees. `row` names the row's id
    in the annotated query ("stage_id" for a participant token that follows its stage)."""
    records = Drift.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        object_id=OuterRef(row),
        change=Drift.Change.CHANGED,
        field=field,
        resolved_at__isnull=True,
    )
    return Subquery(records.values("aws_value")[:1])


def drift_settle(row: Model, field: str | None = None, *, reason: str = AGREE_AGAIN) -> int:
    """Nothing differs any more: the row's open records (or only the field's) are resolved as settled, with why."""
    records = _open(row)
    if field is not None:
        records = records.filter(field=field)
    return records.update(resolved_at=timezone.now(), resolution=Drift.Resolution.SETTLED, reason=reason[:256])


def drift_settle_removed(operation: Operation) -> int:
    """The operation succeeded: when its kind removes its resource from AWS (as a kind's `removed_by` declares), the
    row can differ from AWS in nothing any more, and its open records settle, naming the operation."""
    if operation.resource_type_id is None or operation.status != Operation.Status.SUCCEEDED:
        return 0
    if protected_tags(operation) is not None:  # it found the resource protected in AWS and left it there
        return 0
    model = ContentType.objects.get_for_id(operation.resource_type_id).model_class()
    if not any(kind.model is model and operation.kind in kind.removed_by for kind in _KINDS.values()):
        return 0
    records = Drift.objects.filter(
        content_type_id=operation.resource_type_id, object_id=operation.resource_id, resolved_at__isnull=True
    )
    reason = f"Removed through the portal by {operation.actor_name} (operation {operation.pk})."
    return records.update(resolved_at=timezone.now(), resolution=Drift.Resolution.SETTLED, reason=reason[:256])


# --- what the Drift page lists and resolves --------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftGroup:
    kind: DriftKind
    records: list[Drift]


def drift_open_by_kind(*, kind: str = "") -> list[DriftGroup]:
    """Open records grouped by kind, most recently seen first, with their rows: one query per kind with records."""
    records = Drift.objects.filter(resolved_at__isnull=True).prefetch_related("row")
    if kind:
        records = records.filter(kind=kind)
    by_kind: dict[str, list[Drift]] = {}
    for record in records:
        by_kind.setdefault(record.kind, []).append(record)
    return [DriftGroup(known, by_kind[known.name]) for known in drift_kinds() if known.name in by_kind]


def drift_actions(record: Drift) -> list[tuple[str, str]]:
    """What a person may do about an open record: a field changed outside the portal is adopted or re-applied (as
    the kind can); a found resource is kept in the portal, as found; a row gone from AWS is marked gone."""
    kind = drift_kind_get(record.kind)
    if record.change == Drift.Change.CHANGED:
        actions = [*(["adopt"] if kind.adopt is not None else []), *(["reapply"] if kind.reapply is not None else [])]
    elif record.change == Drift.Change.FOUND:
        actions = ["keep"]
    else:
        actions = ["mark_gone"]
    return [(action, ACTION_WORDS[action]) for action in actions]


ACTION_WORDS = {
    "adopt": "Adopt AWS's value",
    "keep": "Keep in the portal",
    "reapply": "Re-apply the portal's value",
    "mark_gone": "Mark gone",
}
ACTION_RESOLUTION = {
    "adopt": Drift.Resolution.ADOPTED,
    "keep": Drift.Resolution.KEPT,
    "reapply": Drift.Resolution.REAPPLIED,
    "mark_gone": Drift.Resolution.MARKED_GONE,
}


def drift_resolution_words(record: Drift, action: str) -> str:
    """What resolving did, naming the resource and the choice: the audit entry's summary and the page's message."""
    field = f" {record.field}" if record.field else ""
    portal, aws = in_words(record.portal_value) or "none", in_words(record.aws_value) or "none"
    if action == "adopt":
        return f"Adopted AWS's{field} for {record.label}: {aws} (the portal had {portal})."
    if action == "keep":
        return f"Kept {record.label} in the portal, as found in AWS."
    if action == "reapply":
        return f"Re-applying the portal's{field} to {record.label} in AWS: {portal} (AWS had {aws})."
    return f"Marked {record.label} gone: it no longer exists in AWS."


def drift_resolve(*, record: Drift, action: str, actor: User) -> Operation | None:
    """Resolve one open record as `action` says, audited; re-applying answers the operation it queued.

    Marking gone resolves every open record of the row: a row that is gone differs in nothing else.
    """
    if not actor.has_perm(SYNC_RESOURCES):
        raise PermissionDenied("You may not resolve drift.")
    kind = drift_kind_get(record.kind)
    operation = None
    with transaction.atomic():
        record = Drift.objects.select_for_update().get(pk=record.pk)
        if not record.is_open:
            raise NotAllowedInState("This difference is already resolved.")
        if action not in dict(drift_actions(record)):
            raise NotAllowedInState(f"{ACTION_WORDS.get(action, action)} is not possible for this difference.")
        row = record.row
        if row is None:
            raise NotAllowedInState("The portal no longer has this row.")
        if action == "adopt" and kind.adopt is not None:
            kind.adopt(row, record.field, record.aws_value)
        elif action == "reapply" and kind.reapply is not None:
            operation = kind.reapply(row, record.field, record.portal_value, actor)
        elif action == "mark_gone":
            kind.mark_gone(row, actor)
        resolved = _open(row) if action == "mark_gone" else Drift.objects.filter(pk=record.pk)
        resolved.update(resolved_at=timezone.now(), resolved_by=actor, resolution=ACTION_RESOLUTION[action])
        audit_record(
            actor=actor,
            kind=f"drift.{action}",
            target=record.label,
            resource_name=record.label,
            summary=drift_resolution_words(record, action),
            detail=_values_words(record),
            operation=operation,
        )
    return operation


def _values_words(record: Drift) -> str:
    if record.change != Drift.Change.CHANGED:
        return record.get_change_display()
    return f"portal: {record.portal_value!r}; AWS: {record.aws_value!r}"
