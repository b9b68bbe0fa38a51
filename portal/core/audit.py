"""Audit entries for changes that are not AWS operations (resolving drift, changing a cleanup policy): one entry,
written in the transaction that makes the change. Operations write their own entries (portal.core.services)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from portal.core.audit_kinds import audit_kind_labels
from portal.core.models import AuditEntry, Operation


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    kind: str,
    target: str,
    summary: str,
    detail: str = "",
    resource_name: str = "",
    operation: Operation | None = None,
    system_actor: str = "",
    event: str = AuditEntry.Event.SUCCEEDED,
) -> AuditEntry:
    """`kind` is declared with its label in the app config's `audit_kinds` (portal.core.audit_kinds): the audit
    log's Kind filter offers the declared kinds, so an undeclared one is refused here rather than never found.
    `actor` None is the portal itself, named `system_actor` (as an operation it requested is, or the PSTN handler
    refusing a replay)."""
    if kind not in audit_kind_labels():
        raise ValueError(f"Audit kind {kind!r} is not declared in any app config's audit_kinds.")
    if actor is None and not system_actor:
        raise ValueError("An entry the portal writes by itself names it: give system_actor.")
    return AuditEntry.objects.create(
        actor_name=actor.get_username() if actor is not None else system_actor,
        kind=kind,
        target=target[:512],
        resource_name=resource_name[:256],
        summary=summary,
        event=event,
        detail=detail,
        operation=operation,
    )
