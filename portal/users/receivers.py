"""Logins, failed logins, lockouts and logouts go to the audit log, with the address they came from.

django-axes counts the failures and refuses a locked-out username or address; its receivers run before these
(axes comes first in INSTALLED_APPS), so a failed login already knows whether it was refused as locked out.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from portal.core.addresses import client_address
from portal.core.models import AuditEntry

NAME_LENGTH = AuditEntry._meta.get_field("actor_name").max_length


def _address(request: HttpRequest | None) -> str:
    return client_address(request) if request is not None else ""


def _record(*, name: str, kind: str, event: str, request: HttpRequest | None, detail: str = "") -> None:
    address = _address(request)
    AuditEntry.objects.create(
        actor_name=(name or "(no username)")[:NAME_LENGTH],
        kind=kind,
        target=address,
        event=event,
        detail=" ".join(part for part in (f"from {address}" if address else "", detail) if part),
    )


@receiver(user_logged_in, dispatch_uid="portal.users.login")
def login_recorded(sender: Any, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> None:
    _record(name=user.get_username(), kind="users.login", event=AuditEntry.Event.LOGGED_IN, request=request)


@receiver(user_login_failed, dispatch_uid="portal.users.login_failed")
def login_failure_recorded(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    refused = getattr(request, "axes_locked_out", False)
    _record(
        name=str(credentials.get("username") or ""),
        kind="users.login",
        event=AuditEntry.Event.LOGIN_FAILED,
        request=request,
        detail="(locked out)" if refused else "",
    )


@receiver(user_locked_out, dispatch_uid="portal.users.locked_out")
def lockout_recorded(sender: Any, request: HttpRequest, username: str | None, ip_address: str, **kwargs: Any) -> None:
    """Axes signals every refused attempt; the audit log records the one that started the lockout."""
    if getattr(request, "axes_failures_since_start", None) != settings.AXES_FAILURE_LIMIT:
        return
    _record(
        name=username or "",
        kind="users.login",
        event=AuditEntry.Event.LOCKED_OUT,
        request=request,
        detail=f"after {settings.AXES_FAILURE_LIMIT} failed logins for this username or from this address",
    )


@receiver(user_logged_out, dispatch_uid="portal.users.logout")
def logout_recorded(sender: Any, request: HttpRequest, user: AbstractBaseUser | None, **kwargs: Any) -> None:
    if user is not None:
        _record(name=user.get_username(), kind="users.logout", event=AuditEntry.Event.LOGGED_OUT, request=request)
