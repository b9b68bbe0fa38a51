"""Users are managed on the portal's Users page; Django's admin site is for superusers only (issue 9, item 1)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from portal.core.models import AuditEntry, OneTimeSecret, Operation
from portal.core.roles import Role, role_of
from portal.core.secrets import secrets_store
from tests.conftest import login
from tests.factories import OperationFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def root(make_user):
    user = make_user("root", Role.ADMIN)
    User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
    user.refresh_from_db()
    return user


def _entries(kind: str) -> list[tuple[str, str, str]]:
    return list(AuditEntry.objects.filter(kind=kind).order_by("id").values_list("actor_name", "target", "detail"))


def test_an_admin_cannot_make_itself_superuser_in_djangos_admin(admin):
    """The probe: POST is_superuser=on to /admin/auth/user/<own id>/change/ was accepted."""
    client = login(admin)
    for path in ("/admin/", f"/admin/auth/user/{admin.pk}/change/", "/admin/auth/group/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/"), path
    form = {"username": admin.username, "is_active": "on", "is_staff": "on", "is_superuser": "on"}
    client.post(f"/admin/auth/user/{admin.pk}/change/", form)
    client.post(f"/admin/auth/user/{admin.pk}/change/", {**form, "groups": [Group.objects.get(name="Admin").pk]})
    admin.refresh_from_db()
    assert not admin.is_superuser
    assert not admin.is_staff
    assert not admin.user_permissions.exists()


def test_a_superuser_still_has_djangos_admin(root):
    assert login(root).get(f"/admin/auth/user/{root.pk}/change/").status_code == 200


def test_admins_hold_no_raw_auth_permissions(admin):
    raw = Permission.objects.filter(content_type__app_label="auth")
    assert not Group.objects.get(name=Role.ADMIN.value).permissions.filter(pk__in=raw).exists()
    assert not admin.has_perm("auth.change_user")
    assert admin.has_perm("core.manage_users")


@pytest.mark.parametrize("role_fixture", ["support", "viewer"])
def test_only_admins_open_the_users_page(request, role_fixture):
    client = login(request.getfixturevalue(role_fixture))
    assert client.get("/users/").status_code == 403
    assert ">Users</a>" not in client.get("/").content.decode()


def test_admins_find_the_users_page_in_the_navigation(admin, support):
    client = login(admin)
    assert '<a href="/users/">Users</a>' in client.get("/").content.decode()
    page = client.get("/users/").content.decode()
    assert 'data-username="sam"' in page
    assert "you (another Admin changes your account)" in page


PASSWORD_FIELD = 'id="new-password" class="mono" readonly value="'


def _reveal(client, location: str) -> str:
    """The password on the page a creation or a reset led to, shown once: "" once it was."""
    page = client.get(location)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert PASSWORD_FIELD not in page.content.decode()  # offered, not shown, until asked
    response = client.post(f"{location}reveal/")
    assert "no-store" in response["Cache-Control"]
    content = response.content.decode()
    return content.split(PASSWORD_FIELD, 1)[1].split('"')[0] if PASSWORD_FIELD in content else ""


def test_an_admin_creates_a_user_and_sees_the_password_once(admin):
    client = login(admin)
    response = client.post("/users/new/", {"username": "kim", "email": "kim@example.com", "role": "Support"})
    assert response.status_code == 303
    kim = User.objects.get(username="kim")
    entry = AuditEntry.objects.get(kind="users.create")
    assert response["Location"] == f"/users/passwords/{entry.pk}/"
    assert client.get(response["Location"]).status_code == 200  # a reload creates nobody and says nothing exists
    assert User.objects.filter(username="kim").count() == 1
    assert "Show the password once" in client.get(response["Location"]).content.decode()
    password = _reveal(client, response["Location"])
    assert kim.check_password(password)
    assert role_of(kim) is Role.SUPPORT
    assert not kim.is_staff
    assert not kim.is_superuser
    assert _entries("users.create") == [("ada", "kim", "as Support")]
    assert password not in "".join(AuditEntry.objects.values_list("detail", flat=True))
    assert _reveal(client, response["Location"]) == ""  # shown once, then gone
    assert "already shown" in client.get(response["Location"]).content.decode()
    assert not OneTimeSecret.objects.exists()
    again = client.post("/users/new/", {"username": "kim", "role": "Viewer"})
    assert again.status_code == 400
    assert "A user with that username already exists." in again.content.decode()


def test_the_password_is_stored_encrypted_and_only_its_maker_sees_it(admin, make_user):
    other_admin = make_user("otto", Role.ADMIN)
    client = login(admin)
    location = client.post("/users/new/", {"username": "kim", "role": "Viewer"})["Location"]
    secret = OneTimeSecret.objects.get()
    assert secret.operation is None
    assert secret.owner == admin
    assert secret.expires_at > timezone.now()
    kim = User.objects.get(username="kim")
    theirs = login(other_admin)
    assert "only ada, who asked for it, can see it" in theirs.get(location).content.decode()
    assert _reveal(theirs, location) == ""
    assert kim.check_password(_reveal(client, location))


def test_an_admin_changes_roles_deactivates_after_confirming_and_reactivates(admin, support):
    client = login(admin)
    response = client.post(f"/users/{support.pk}/role/", {"role": "Viewer"})
    assert response.status_code == 303
    assert role_of(support) is Role.VIEWER
    list_page = client.get("/users/").content.decode()
    assert f'href="/users/{support.pk}/deactivate/"' in list_page
    assert f'action="/users/{support.pk}/deactivate/"' not in list_page  # the list only leads to the confirmation
    confirm = client.get(f"/users/{support.pk}/deactivate/").content.decode()
    assert "Type their username to confirm" in confirm
    for unconfirmed in ({}, {"confirm": "SAM"}, {"confirm": "someone"}):
        refused = client.post(f"/users/{support.pk}/deactivate/", unconfirmed)
        assert refused.status_code == 400
        support.refresh_from_db()
        assert support.is_active
    assert "Type &#x27;sam&#x27; exactly to deactivate them." in refused.content.decode()
    assert not AuditEntry.objects.filter(kind="users.deactivate").exists()
    deactivated = client.post(f"/users/{support.pk}/deactivate/", {"confirm": "sam"})
    assert (deactivated.status_code, deactivated["Location"]) == (303, "/users/")
    support.refresh_from_db()
    assert not support.is_active
    reactivated = client.post(f"/users/{support.pk}/reactivate/")
    assert reactivated.status_code == 303
    support.refresh_from_db()
    assert support.is_active
    assert _entries("users.role") == [("ada", "sam", "Support → Viewer")]
    assert _entries("users.deactivate") == [("ada", "sam", "")]
    assert _entries("users.reactivate") == [("ada", "sam", "")]
    assert client.post(f"/users/{support.pk}/role/", {"role": "Superuser"}).status_code == 400


def test_a_deactivated_users_sessions_end(admin, support):
    theirs = login(support)
    assert theirs.get("/").status_code == 200
    login(admin).post(f"/users/{support.pk}/deactivate/", {"confirm": "sam"})
    assert theirs.get("/").status_code == 302


def test_an_admin_cannot_touch_a_superuser_or_its_own_account(admin, root):
    client = login(admin)
    for path, data in (("role", {"role": "Viewer"}), ("deactivate", {"confirm": "root"}), ("reactivate", {}),
                       ("password", {"confirm": "root"})):  # fmt: skip
        assert client.post(f"/users/{root.pk}/{path}/", data).status_code == 403, path
        refused = client.post(f"/users/{admin.pk}/{path}/", {**data, "confirm": "ada"})
        assert refused.status_code == 409, path
        assert "ask another Admin" in refused.content.decode()
    for path in ("deactivate", "password"):  # not even the confirmation is offered
        assert client.get(f"/users/{root.pk}/{path}/").status_code == 403, path
        assert client.get(f"/users/{admin.pk}/{path}/").status_code == 409, path
    root.refresh_from_db(), admin.refresh_from_db()
    assert root.is_active
    assert root.is_superuser
    assert role_of(root) is Role.ADMIN
    assert admin.is_active
    assert role_of(admin) is Role.ADMIN
    assert not AuditEntry.objects.filter(kind__startswith="users.", event="succeeded").exists()
    page = client.get("/users/").content.decode()
    assert "superuser: Django's admin site" in page
    assert f'action="/users/{root.pk}/role/"' not in page


def test_a_superuser_may_manage_a_superuser(root, make_user):
    other = make_user("other-root", Role.VIEWER)
    User.objects.filter(pk=other.pk).update(is_superuser=True)
    assert login(root).post(f"/users/{other.pk}/role/", {"role": "Support"}).status_code == 303
    assert role_of(other) is Role.SUPPORT


def test_a_password_reset_asks_first_and_a_reload_never_resets_again(admin, support):
    client = login(admin)
    before = User.objects.get(pk=support.pk).password
    assert "Type their username to confirm" in client.get(f"/users/{support.pk}/password/").content.decode()
    for unconfirmed in ({}, {"confirm": "ada"}):
        assert client.post(f"/users/{support.pk}/password/", unconfirmed).status_code == 400
    assert User.objects.get(pk=support.pk).password == before
    assert not AuditEntry.objects.filter(kind="users.password").exists()

    response = client.post(f"/users/{support.pk}/password/", {"confirm": "sam"})
    assert response.status_code == 303
    reset = User.objects.get(pk=support.pk).password
    assert reset != before
    location = response["Location"]
    for _ in range(2):  # reloading the new password's page
        page = client.get(location).content.decode()
        assert "New password for sam" in page
    assert User.objects.get(pk=support.pk).password == reset
    assert len(_entries("users.password")) == 1
    password = _reveal(client, location)
    assert User.objects.get(pk=support.pk).check_password(password)
    assert _reveal(client, location) == ""
    assert "already shown" in client.get(location).content.decode()
    assert User.objects.get(pk=support.pk).password == reset


def test_a_second_reset_discards_the_first_password_not_yet_shown(admin, support):
    client = login(admin)
    first = client.post(f"/users/{support.pk}/password/", {"confirm": "sam"})["Location"]
    second = client.post(f"/users/{support.pk}/password/", {"confirm": "sam"})["Location"]
    assert _reveal(client, first) == ""  # it no longer works: it is not offered
    assert User.objects.get(pk=support.pk).check_password(_reveal(client, second))


def test_the_reveal_with_htmx_answers_the_password_alone(admin, support):
    client = login(admin)
    location = client.post(f"/users/{support.pk}/password/", {"confirm": "sam"})["Location"]
    response = client.post(f"{location}reveal/", headers={"HX-Request": "true"})
    content = response.content.decode()
    assert PASSWORD_FIELD in content
    assert "<h1>" not in content
    assert "HX-Request" in response["Vary"]


def test_a_password_reset_never_reveals_the_users_tokens(admin, make_user):
    """Resetting bob's password lets the Admin log in as bob, but bob's waiting one-time secrets are gone."""
    bob = make_user("bob", Role.ADMIN)
    operation = OperationFactory(kind="stages.create", actor=bob, status=Operation.Status.SUCCEEDED)
    secrets_store(operation=operation, secrets=[("p1", "bobs-participant-token")])
    bobs_session = login(bob)
    client = login(admin)
    assert client.post(f"/operations/{operation.pk}/secrets/").status_code == 403  # owner-only, as before

    response = client.post(f"/users/{bob.pk}/password/", {"confirm": "bob"})
    assert response.status_code == 303
    assert not OneTimeSecret.objects.filter(operation=operation).exists()
    password = _reveal(client, response["Location"])
    assert _entries("users.password") == [("ada", "bob", "1 unrevealed secret discarded")]
    assert bobs_session.get("/").status_code == 302  # the reset ended bob's sessions

    as_bob = login(bob)
    as_bob.logout()
    assert as_bob.login(username="bob", password=password)
    revealed = as_bob.post(f"/operations/{operation.pk}/secrets/").content.decode()
    assert "bobs-participant-token" not in revealed


def test_the_users_page_asks_for_the_permission_not_the_role(make_user):
    """A user given core.manage_users some other way is still held to the superuser rule."""
    helper = UserFactory(username="helper")
    helper.user_permissions.add(Permission.objects.get(codename="manage_users"))
    root = make_user("root2", Role.VIEWER)
    User.objects.filter(pk=root.pk).update(is_superuser=True)
    client = login(helper)
    assert client.get("/users/").status_code == 200
    assert client.post(f"/users/{root.pk}/password/", {"confirm": "root2"}).status_code == 403
