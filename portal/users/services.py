"""Managing the portal's users: create, give a role, deactivate and reactivate, reset a password, unlock logins.

Every change is one audit entry. Only people holding core.manage_users may make them; nobody but a superuser may
touch a superuser, and nobody changes their own account here (another Admin does, so an Admin never locks
themselves out by mistake). Superuser status and raw permissions are given in Django's admin site, which only
superusers may open.
"""

from __future__ import annotations

import secrets

from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import ngettext

from portal.core.errors import NotAllowedInState
from portal.core.models import AuditEntry, OneTimeSecret
from portal.core.permissions import MANAGE_USERS
from portal.core.roles import Role, role_of

Actor = AbstractBaseUser | AnonymousUser


def password_generate() -> str:
    """16 random URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def users_audit(*, actor: Actor, kind: str, target: str, detail: str) -> None:
    AuditEntry.objects.create(
        actor_name=actor.get_username(), kind=kind, target=target, event=AuditEntry.Event.SUCCEEDED, detail=detail
    )


def _check_may_manage(actor: Actor, user: AbstractBaseUser | None = None) -> None:
    if not actor.has_perm(MANAGE_USERS):
        raise PermissionDenied("You may not manage users.")
    if user is None:
        return
    if user.is_superuser and not actor.is_superuser:  # type: ignore[attr-defined]
        raise PermissionDenied("Only a superuser may change a superuser.")
    if user.pk == actor.pk:
        raise NotAllowedInState("You cannot change your own account here: ask another Admin.")


def user_create(*, username: str, email: str, role: Role, actor: Actor) -> tuple[AbstractBaseUser, str]:
    """A new user holding `role`, with a generated password returned to show once (it is stored only hashed)."""
    _check_may_manage(actor)
    password = password_generate()
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, email=email, password=password)
        user.groups.set([Group.objects.get(name=role.value)])
        users_audit(actor=actor, kind="users.create", target=username, detail=f"as {role.value}")
    return user, password


def user_set_role(*, user: AbstractBaseUser, role: Role, actor: Actor) -> None:
    _check_may_manage(actor, user)
    before = role_of(user)
    if before is role:
        return
    with transaction.atomic():
        user.groups.set([Group.objects.get(name=role.value)])  # type: ignore[attr-defined]
        was = before.value if before else "no role"
        users_audit(actor=actor, kind="users.role", target=user.get_username(), detail=f"{was} → {role.value}")


def user_set_active(*, user: AbstractBaseUser, active: bool, actor: Actor) -> None:
    """A deactivated user cannot log in, and every session they have ends at its next request."""
    _check_may_manage(actor, user)
    if user.is_active == active:
        return
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        kind = "users.reactivate" if active else "users.deactivate"
        users_audit(actor=actor, kind=kind, target=user.get_username(), detail="")


def user_reset_password(*, user: AbstractBaseUser, actor: Actor) -> str:
    """A new generated password, returned to show once. Every session the user has ends (the password is part of
    the session's hash), and the one-time secrets still waiting for them are discarded: whoever learns the new
    password can log in as them, but can never reveal a token issued to them."""
    _check_may_manage(actor, user)
    password = password_generate()
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        discarded, _ = OneTimeSecret.objects.filter(owner_id=user.pk).delete()
        detail = (
            ngettext("%(n)d unrevealed secret discarded", "%(n)d unrevealed secrets discarded", discarded)
            % {"n": discarded}
            if discarded
            else ""
        )
        users_audit(actor=actor, kind="users.password", target=user.get_username(), detail=detail)
    return password


def login_unlock(*, actor: Actor, username: str = "", ip_address: str = "") -> int:
    """Forget the failed logins of a username or of an address: its lockout ends now. Returns the rows removed."""
    _check_may_manage(actor)
    if bool(username) == bool(ip_address):
        raise ValueError("Unlock either a username or an address.")
    with transaction.atomic():
        removed = axes_reset(username=username) if username else axes_reset(ip=ip_address)
        users_audit(
            actor=actor,
            kind="users.unlock",
            target=username or ip_address,
            detail=ngettext("%(n)d record", "%(n)d records", removed) % {"n": removed},
        )
    return removed
