from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from portal.core.models import AuditEntry, Operation


def operation_list(*, status: str = "", kind: str = "") -> QuerySet[Operation]:
    operations = Operation.objects.all()
    if status:
        operations = operations.filter(status=status)
    if kind:
        operations = operations.filter(kind=kind)
    return operations


def audit_entry_list(
    *,
    actor: str = "",
    kind: str = "",
    target: str = "",
    event: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if actor:
        entries = entries.filter(actor_name__iexact=actor)
    if kind:
        entries = entries.filter(kind=kind)
    if target:
        entries = entries.filter(target__icontains=target)
    if event:
        entries = entries.filter(event=event)
    if date_from:
        entries = entries.filter(created_at__date__gte=date_from)
    if date_to:
        entries = entries.filter(created_at__date__lte=date_to)
    return entries
