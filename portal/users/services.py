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

from portal.core.audit import audit_record
from portal.core.errors import NotAllowedInState
from portal.core.models import AuditEntry, OneTimeSecret
from portal.core.permissions import MANAGE_USERS
from portal.core.roles import Role, role_of
from portal.core.secrets import secret_keep

Actor = AbstractBaseUser | AnonymousUser
PASSWORD_KINDS = ("users.create", "users.password")  # the entries whose one-time secret is a generated password


def password_generate() -> str:
    """16 random URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def users_audit(*, actor: Actor, kind: str, target: str, detail: str) -> AuditEntry:
    return audit_record(actor=actor, kind=kind, target=target, summary="", detail=detail)


def _check_may_manage(actor: Actor, user: AbstractBaseUser | None = None) -> None:
    if not actor.has_perm(MANAGE_USERS):
        raise PermissionDenied("You may not manage users.")
    if user is None:
        return
    if user.is_superuser and not actor.is_superuser:  # type: ignore[attr-defined]
        raise PermissionDenied("Only a superuser may change a superuser.")
    if user.pk == actor.pk:
        raise NotAllowedInState("You cannot change your own account here: ask another Admin.")


def user_require_changeable(*, user: AbstractBaseUser, actor: Actor) -> None:
    """Refuse before a confirmation is even asked for what the change itself would refuse."""
    _check_may_manage(actor, user)


def _password_keep(*, user: AbstractBaseUser, entry: AuditEntry, password: str, actor: Actor) -> None:
    """The generated password, for `actor` to read once on its page; a password of theirs not yet read no longer
    works, so it is discarded."""
    earlier = OneTimeSecret.objects.filter(audit_entry__kind__in=PASSWORD_KINDS, audit_entry__target=entry.target)
    earlier.exclude(audit_entry=entry).delete()
    secret_keep(entry=entry, owner=actor, label=user.get_username(), secret=password)  # type: ignore[arg-type]


def user_create(*, username: str, email: str, role: Role, actor: Actor) -> tuple[AbstractBaseUser, AuditEntry]:
    """A new user holding `role`, with a generated password kept as a one-time secret of the entry that records
    the creation, for the actor to read once (the user's row keeps it only hashed)."""
    _check_may_manage(actor)
    password = password_generate()
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, email=email, password=password)
        user.groups.set([Group.objects.get(name=role.value)])
        entry = users_audit(actor=actor, kind="users.create", target=username, detail=f"as {role.value}")
        _password_keep(user=user, entry=entry, password=password, actor=actor)
    return user, entry


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


def user_reset_password(*, user: AbstractBaseUser, actor: Actor) -> AuditEntry:
    """A new generated password, kept as a one-time secret of the entry that records the reset, for the actor to
    read once. Every session the user has ends (the password is part of the session's hash), and the one-time
    secrets still waiting for them are discarded: whoever learns the new password can log in as them, but can never
    reveal a token issued to them."""
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
        entry = users_audit(actor=actor, kind="users.password", target=user.get_username(), detail=detail)
        _password_keep(user=user, entry=entry, password=password, actor=actor)
    return entry


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
