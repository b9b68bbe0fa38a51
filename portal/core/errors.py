"""Domain errors: a request the portal refuses for a reason the person can act on.

Services raise them; `portal.core.middleware.DomainErrorMiddleware` turns each into a message shown where the
action's answer goes (the htmx target, or a page of its own without htmx). Views write no rules about them.
"""

from __future__ import annotations


class DomainError(Exception):
    """Refused. `message` says why in the user's words; `remedy` is an optional (label, url) that may help."""

    code = "refused"

    def __init__(self, message: str, *, remedy: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy


class Conflict(DomainError):
    """The request conflicts with what the resource already holds (a limit reached, a duplicate)."""

    code = "conflict"


class NotAllowedInState(DomainError):
    """The resource's state does not allow this change (being created, deleted, gone from AWS)."""

    code = "not-allowed-in-state"
