# Each audit entry keeps the resource's name and a readable summary of what was asked. Entries written before this
# migration get them here, where it can: the summary from the operation's parameters, and the name the resource has
# now (a stage renamed since shows its current name; one that no longer exists shows none).

from django.db import migrations, models

NAME_FIELDS = ("name", "arn")


def _resource_name(apps, resource_type_id, resource_id, content_types, names):
    """What the resource's `__str__` gives today (historical models have none): its name, else its ARN."""
    key = (resource_type_id, resource_id)
    if key not in names:
        content_type = content_types.get(resource_type_id)
        try:
            model = apps.get_model(content_type.app_label, content_type.model)
        except (AttributeError, LookupError):
            names[key] = ""
            return ""
        fields = [field for field in NAME_FIELDS if any(f.name == field for f in model._meta.fields)]
        row = model.objects.filter(pk=resource_id).values(*fields).first() if fields else None
        names[key] = next((row[field] for field in fields if row and row[field]), "")
    return names[key]


def backfill(apps, schema_editor):
    from portal.core.operation_kinds import operation_kind_get

    ContentType = apps.get_model("contenttypes", "ContentType")
    Operation = apps.get_model("core", "Operation")
    AuditEntry = apps.get_model("core", "AuditEntry")
    content_types = ContentType.objects.in_bulk()
    names = {}
    operations = Operation.objects.filter(audit_entries__isnull=False).distinct().order_by("pk")
    for operation in operations.iterator(chunk_size=1000):
        resource_name = ""
        if operation.resource_type_id is not None and operation.resource_id is not None:
            resource_name = _resource_name(
                apps, operation.resource_type_id, operation.resource_id, content_types, names
            )
        try:
            kind = operation_kind_get(operation.kind)
        except LookupError:
            summary = ""
        else:
            summary = kind.audit_summary(parameters=operation.parameters, resource_name=resource_name)
        AuditEntry.objects.filter(operation_id=operation.pk).update(resource_name=resource_name[:256], summary=summary)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0005_refresher_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="resource_name",
            field=models.CharField(blank=True, help_text="The resource's name at the time.", max_length=256),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="summary",
            field=models.TextField(
                blank=True, help_text="What was asked, in words, e.g. which participant or which tags."
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
