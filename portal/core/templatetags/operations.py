"""What templates need to show an operation: its kind, its summary, the advice for its error, its secrets."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from portal.aws.errors import (
    AwsAccessDenied,
    AwsConflict,
    AwsError,
    AwsInvalid,
    AwsNotFound,
    AwsQuotaExceeded,
    aws_error_class,
)
from portal.core.audit_kinds import audit_kind_labels
from portal.core.errors import DomainError
from portal.core.models import Operation
from portal.core.operation_kinds import OperationKind, OperationSubject, operation_kind_get
from portal.core.secrets import SecretsOffer, secrets_waiting

register = template.Library()


@register.filter
def operation_kind(operation: Operation) -> OperationKind | None:
    try:
        return operation_kind_get(operation.kind)
    except LookupError:
        return None


@register.filter
def kind_label(kind: str) -> str:
    """`stages.create` → "Create stage", `users.login` → "Log in"; a kind no longer registered keeps its name."""
    try:
        return operation_kind_get(kind).label
    except LookupError:
        return audit_kind_labels().get(kind, kind)


@register.inclusion_tag("core/operation_subject.html")
def operation_subject(operation: Operation) -> dict[str, OperationSubject]:
    """What the operation changed, by name, linked to the page it was started from: `{% operation_subject op %}`."""
    kind = operation_kind(operation)
    subject = kind.subject_of(operation) if kind is not None else OperationSubject(name=operation.target, url="")
    return {"subject": subject, "operation": operation}


@register.filter
def operation_summary(operation: Operation) -> str:
    kind = operation_kind(operation)
    return kind.summary_of(operation.result) if kind is not None else ""


# What a person can do about a failed operation, by the kind of error AWS gave, most specific first.
ADVICE: tuple[tuple[type[AwsError], str], ...] = (
    (AwsNotFound, "AWS no longer has what this was about: it was deleted outside the portal."),
    (AwsAccessDenied, "The portal's AWS credentials may not do this: it fails the same way until an administrator "
                      "grants the permission in IAM."),
    (AwsQuotaExceeded, "An AWS limit is reached: it fails the same way until something is removed or the quota is "
                       "raised."),
    (AwsConflict, "AWS refused it because of the resource's state now: asking again unchanged fails the same way."),
    (AwsInvalid, "AWS does not accept the request as it was made: asking again unchanged fails the same way."),
)  # fmt: skip
TEMPORARY = "This error is temporary (throttling, an outage or a lost connection): asking again later can succeed."


@register.filter
def error_advice(error_code: str) -> dict[str, str] | None:
    """What to do after this AWS error code: {"retry": "helps" | "futile", "text": ...}; None when the code does not
    say. Nothing was changed in AWS by a failed operation, so every advice says so."""
    cls = aws_error_class(error_code)
    if cls is None:
        return None
    if cls.retryable:
        return {"retry": "helps", "text": f"{TEMPORARY} Nothing was changed."}
    text = next((text for error_class, text in ADVICE if issubclass(cls, error_class)), "")
    return {"retry": "futile", "text": f"{text} Nothing was changed."} if text else None


@register.filter
def operation_refusal(operation: Operation) -> DomainError | None:
    """Why this failed operation cannot succeed as asked, in the words of its kind, with what may help."""
    kind = operation_kind(operation)
    if kind is None or kind.explain_failure is None or operation.status != Operation.Status.FAILED:
        return None
    return kind.explain_failure(operation)


@register.filter
def may(user: Any, permission: str) -> bool:
    """`user|may:"core.sync_resources"`; an empty permission is everyone's."""
    return not permission or bool(user.has_perm(permission))


@register.filter
def operation_description(operation: Operation) -> str:
    """What was asked, in words ("Disconnect participant alice (p-1) from town-hall, token revoked")."""
    kind = operation_kind(operation)
    if kind is None:
        return operation.kind
    return kind.audit_summary(parameters=operation.parameters, resource_name=operation.resource_name)


@register.simple_tag(takes_context=True)
def secrets_offer_of(context: template.Context, operation: Operation) -> SecretsOffer:
    """The operation's one-time secrets as its result offers them: to its requester, once, into its result."""
    return SecretsOffer(
        url=reverse("operation_secrets_reveal", args=[operation.pk]),
        target=f"operation-{operation.pk}-result",
        owner_id=operation.actor_id,
        owner_name=operation.actor_name,
        waiting=secrets_waiting(operation=operation, user=context["user"]),
    )


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
