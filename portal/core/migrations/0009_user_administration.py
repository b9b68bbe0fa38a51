"""Users are managed in the portal: Admins get core.manage_users instead of Django's raw auth permissions, and
Django's admin site is for superusers only, so is_staff no longer means anything for the others. The audit log
records logins, failed logins, lockouts and logouts."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

RAW_AUTH_PERMISSIONS = ["view_user", "add_user", "change_user", "delete_user", "view_group"]


def grant_manage_users(apps, schema_editor):
    core = apps.get_app_config("core")
    original = getattr(core, "models_module", None)
    core.models_module = original or True  # historical app configs have no models module; create_permissions needs one
    create_permissions(core, apps=apps, verbosity=0)
    core.models_module = original
    Permission = apps.get_model("auth", "Permission")
    manage_users = Permission.objects.get(content_type__app_label="core", codename="manage_users")
    raw = Permission.objects.filter(content_type__app_label="auth", codename__in=RAW_AUTH_PERMISSIONS)
    for group in apps.get_model("auth", "Group").objects.filter(name="Admin"):
        group.permissions.add(manage_users)
        group.permissions.remove(*raw)
    apps.get_model("auth", "User").objects.filter(is_superuser=False).update(is_staff=False)


def restore_raw_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    raw = Permission.objects.filter(content_type__app_label="auth", codename__in=RAW_AUTH_PERMISSIONS)
    for group in apps.get_model("auth", "Group").objects.filter(name="Admin"):
        group.permissions.add(*raw)
        group.user_set.update(is_staff=True)
    Permission.objects.filter(content_type__app_label="core", codename="manage_users").delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0008_operation_batch"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.AlterModelOptions(
            name="operation",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [
                    ("view_resources", "Can see every resource, operation and audit entry"),
                    ("manage_resources", "Can create, change and delete AWS resources"),
                    ("revoke_participants", "Can revoke stage participants and meeting attendees"),
                    ("hangup_calls", "Can hang up PSTN calls"),
                    ("sync_resources", "Can sync the portal's registry from AWS"),
                    ("manage_users", "Can manage the portal's users (never superusers)"),
                ],
            },
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="event",
            field=models.CharField(
                choices=[
                    ("requested", "Requested"),
                    ("retrying", "Retrying"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("logged_in", "Logged in"),
                    ("login_failed", "Login failed"),
                    ("locked_out", "Locked out"),
                    ("logged_out", "Logged out"),
                ],
                db_index=True,
                max_length=16,
            ),
        ),
        migrations.RunPython(grant_manage_users, restore_raw_permissions),
    ]
