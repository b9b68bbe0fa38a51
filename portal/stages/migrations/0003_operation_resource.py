"""Operations recorded before Operation had a resource reference point at their stage."""

from django.db import migrations


def point_at_stages(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Operation = apps.get_model("core", "Operation")
    stage_type, _ = ContentType.objects.get_or_create(app_label="stages", model="stage")
    for operation in Operation.objects.filter(kind__startswith="stages.", resource_id__isnull=True).iterator():
        stage_id = operation.parameters.get("stage_id")
        if stage_id is not None:
            Operation.objects.filter(pk=operation.pk).update(resource_type=stage_type, resource_id=stage_id)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0003_operation_resource_effect_onetimesecret"),
        ("stages", "0002_one_time_secrets_in_core"),
    ]

    operations = [migrations.RunPython(point_at_stages, migrations.RunPython.noop)]
