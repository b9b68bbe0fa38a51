"""The three roles. Each is a Django group holding explicit permissions, created by migration core 0002."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db import transaction


class Role(StrEnum):
    ADMIN = "Admin"
    SUPPORT = "Support"
    VIEWER = "Viewer"


def role_of(user: AbstractBaseUser | AnonymousUser) -> Role | None:
    """The strongest role the user holds, or None."""
    if not user.is_authenticated:
        return None
    names = {group.name for group in user.groups.all()}  # type: ignore[attr-defined]
    for role in (Role.ADMIN, Role.SUPPORT, Role.VIEWER):
        if role.value in names:
            return role
    return None


def user_create_with_role(*, username: str, password: str, role: Role, email: str = "") -> AbstractBaseUser:
    """Create (or reset) a user holding exactly one role (the command line's way; Admins use the Users page)."""
    user_model = get_user_model()
    with transaction.atomic():
        user, _ = user_model.objects.get_or_create(username=username, defaults={"email": email})
        user.email = email or user.email
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role.value)])
    return user
