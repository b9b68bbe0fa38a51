from django.core.management.base import BaseCommand

from portal.core.roles import Role, user_create_with_role

DEMO_USERS = (("admin", Role.ADMIN), ("support", Role.SUPPORT), ("viewer", Role.VIEWER))


class Command(BaseCommand):
    help = "Create one demo user per role (for local development only) and print their logins."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write("Demo logins (local development only):")
        for username, role in DEMO_USERS:
            password = f"{username}-demo-pass"
            user_create_with_role(username=username, password=password, role=role)
            self.stdout.write(f"  {role.value:<8} {username} / {password}")
