import getpass
import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.core.roles import Role, user_create_with_role


class Command(BaseCommand):
    help = "Create a portal user with one role (admin, support or viewer), or reset an existing one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[role.value.lower() for role in Role])
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password",
            help="Password; read from the terminal when omitted, or generated and printed with --no-input.",
        )
        parser.add_argument("--no-input", action="store_true", help="Never prompt; generate a password if needed.")

    def handle(self, *args: object, **options: object) -> None:
        role = Role(str(options["role"]).capitalize())
        password = options["password"]
        generated = False
        if not password:
            if options["no_input"]:
                password, generated = secrets.token_urlsafe(12), True
            else:
                password = getpass.getpass("Password: ")
                if password != getpass.getpass("Password (again): "):
                    raise CommandError("The passwords differ.")
        try:
            validate_password(str(password))
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        user = user_create_with_role(
            username=str(options["username"]), password=str(password), role=role, email=str(options["email"])
        )
        suffix = f" with password {password}" if generated else ""
        self.stdout.write(self.style.SUCCESS(f"{user.get_username()} is now {role.value}{suffix}."))
