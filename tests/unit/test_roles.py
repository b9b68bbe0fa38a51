from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from portal.core import permissions
from portal.core.models import Operation
from portal.core.permissions import (
    HANGUP_CALLS,
    MANAGE_RESOURCES,
    MANAGE_USERS,
    REVOKE_PARTICIPANTS,
    SYNC_RESOURCES,
    VIEW_RESOURCES,
)
from portal.core.roles import Role, role_of

pytestmark = pytest.mark.django_db


def _permissions(role: Role) -> set[str]:
    group = Group.objects.get(name=role.value)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_groups_hold_explicit_permissions():
    assert _permissions(Role.VIEWER) == {"core.view_resources"}
    assert _permissions(Role.SUPPORT) == {
        VIEW_RESOURCES, REVOKE_PARTICIPANTS, HANGUP_CALLS, SYNC_RESOURCES,
    }  # fmt: skip
    admin = _permissions(Role.ADMIN)
    assert admin == _permissions(Role.SUPPORT) | {MANAGE_RESOURCES, MANAGE_USERS}  # no raw auth permissions


def test_every_permission_the_portal_checks_is_declared():
    declared = {f"core.{codename}" for codename, _ in Operation._meta.permissions}
    named = {value for key, value in vars(permissions).items() if key.isupper()}
    assert named == declared


def test_only_support_and_admin_may_sync(admin, support, viewer):
    assert admin.has_perm(SYNC_RESOURCES)
    assert support.has_perm(SYNC_RESOURCES)
    assert not viewer.has_perm(SYNC_RESOURCES)
    assert not support.has_perm(MANAGE_RESOURCES)


def test_roles_grant_what_they_should(admin, support, viewer):
    assert role_of(admin) is Role.ADMIN
    assert not admin.is_staff  # Django's admin site is for superusers only
    assert not admin.is_superuser
    assert role_of(support) is Role.SUPPORT
    assert not support.is_staff
    assert role_of(viewer) is Role.VIEWER
    assert support.has_perm("core.revoke_participants")
    assert support.has_perm("core.hangup_calls")
    assert not support.has_perm("core.manage_resources")
    assert not viewer.has_perm("core.revoke_participants")


def test_command_creates_a_user_with_a_role(capsys):
    call_command("create_portal_user", "kim", "--role", "support", "--password", "a-long-pass-phrase")
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="kim")
    assert role_of(user) is Role.SUPPORT
    assert user.check_password("a-long-pass-phrase")
    assert "kim is now Support" in capsys.readouterr().out


def test_command_generates_a_password_without_input(capsys):
    call_command("create_portal_user", "lee", "--role", "viewer", "--no-input")
    out = capsys.readouterr().out
    password = out.rsplit("with password ", 1)[1].rstrip(".\n")
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="lee").check_password(password)


def test_command_refuses_a_weak_password():
    with pytest.raises(CommandError, match="too short"):
        call_command("create_portal_user", "pat", "--role", "admin", "--password", "abc")


def test_command_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("create_portal_user", "pat", "--role", "root", "--password", "a-long-pass-phrase")


def test_demo_users_cover_every_role(capsys):
    call_command("create_demo_users")
    out = capsys.readouterr().out
    for name in ("admin / admin-demo-pass", "support / support-demo-pass", "viewer / viewer-demo-pass"):
        assert name in out
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(username__in=["admin", "support", "viewer"])
    assert {role_of(user) for user in users} == {Role.ADMIN, Role.SUPPORT, Role.VIEWER}
