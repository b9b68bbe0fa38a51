"""What templates need to show an operation: its kind, its summary, the advice for its error, its secrets."""

from __future__ import annotations

from typing import Any

from django import template

from portal.aws.errors import aws_error_retryable
from portal.core.models import Operation
from portal.core.operation_kinds import OperationKind, operation_kind_get
from portal.core.secrets import secrets_waiting

register = template.Library()


@register.filter
def operation_kind(operation: Operation) -> OperationKind | None:
    try:
        return operation_kind_get(operation.kind)
    except LookupError:
        return None


@register.filter
def kind_label(kind: str) -> str:
    """`stages.create` → "Create stage"; a kind no longer registered keeps its name."""
    try:
        return operation_kind_get(kind).label
    except LookupError:
        return kind


@register.filter
def operation_summary(operation: Operation) -> str:
    kind = operation_kind(operation)
    return kind.summary(operation.result) if kind is not None else ""


@register.filter
def operation_description(operation: Operation) -> str:
    """What was asked, in words ("Disconnect participant alice (p-1) from town-hall, token revoked")."""
    kind = operation_kind(operation)
    if kind is None:
        return operation.kind
    return kind.audit_summary(parameters=operation.parameters, resource_name=operation.resource_name)


@register.filter
def retry_helps(error_code: str) -> bool | None:
    """Whether asking again may succeed after this AWS error code; None when the code does not say."""
    return aws_error_retryable(error_code)


@register.simple_tag(takes_context=True)
def secrets_waiting_here(context: template.Context, operation: Operation) -> int:
    """How many of the operation's one-time secrets the person looking could still read."""
    return secrets_waiting(operation=operation, user=context["user"])


@register.simple_tag
def secrets_with_details(
    secrets: list[tuple[str, str]], details: list[dict[str, Any]], key: str, name: str = "secret"
) -> list[dict[str, Any]]:
    """Each revealed (label, secret) beside the operation's result entry whose `key` is the label.

    `{% secrets_with_details secrets operation.result.tokens "participantId" "token" as tokens %}` gives each token's
    metadata with the token itself under "token", in the order the secrets were stored.
    """
    by_label = {str(item.get(key)): item for item in details or []}
    return [{**by_label.get(label, {key: label}), name: secret} for label, secret in secrets]
