"""Syncing from AWS gets its own permission, granted to Support and Admin (it was gated by revoke_participants)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTED_TO = ["Support", "Admin"]


def grant_sync(apps, schema_editor):
    core = apps.get_app_config("core")
    original = getattr(core, "models_module", None)
    core.models_module = original or True  # historical app configs have no models module; create_permissions needs one
    create_permissions(core, apps=apps, verbosity=0)
    core.models_module = original
    Permission = apps.get_model("auth", "Permission")
    sync = Permission.objects.get(content_type__app_label="core", codename="sync_resources")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTED_TO):
        group.permissions.add(sync)


def revoke_sync(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="core", codename="sync_resources").delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0003_operation_resource_effect_onetimesecret")]

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
                ],
            },
        ),
        migrations.RunPython(grant_sync, revoke_sync),
    ]
