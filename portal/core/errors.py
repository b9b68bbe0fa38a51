"""Domain errors: a request the portal refuses for a reason the person can act on.

Services raise them; `portal.core.middleware.DomainErrorMiddleware` turns each into a message shown where the
action's answer goes (the htmx target, or a page of its own without htmx). Views write no rules about them.
An operation kind may also explain, with one of them, why an operation AWS refused cannot succeed as asked
(`OperationKind.explain_failure`): its progress shows that message and remedy the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Remedy:
    """What may help, offered beside the message: a link, or with `post`, a button that does it (shown to those who
    hold `permission`, when one is named)."""

    label: str
    url: str
    post: bool = False
    permission: str = ""


class DomainError(Exception):
    """Refused. `message` says why in the user's words; `remedy` is what may help, if anything."""

    code = "refused"

    def __init__(self, message: str, *, remedy: Remedy | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy


class Conflict(DomainError):
    """The request conflicts with what the resource already holds (a limit reached, a duplicate)."""

    code = "conflict"


class NotAllowedInState(DomainError):
    """The resource's state does not allow this change (being created, deleted, gone from AWS)."""

    code = "not-allowed-in-state"
