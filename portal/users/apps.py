from django.apps import AppConfig

from portal.core.permissions import MANAGE_USERS
from portal.core.sections import Section


class UsersConfig(AppConfig):
    name = "portal.users"
    label = "users"
    verbose_name = "Users, logins and lockouts"
    sections = (Section(label="Users", url_name="users", position=98, permission=MANAGE_USERS),)
    audit_kinds = {
        "users.login": "Log in",
        "users.logout": "Log out",
        "users.create": "Create user",
        "users.role": "Change role",
        "users.deactivate": "Deactivate user",
        "users.reactivate": "Reactivate user",
        "users.password": "Reset password",
        "users.unlock": "Unlock logins",
    }

    def ready(self) -> None:
        from portal.users import receivers  # noqa: F401  (connects the login, logout and lockout receivers)
