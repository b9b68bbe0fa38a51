"""DeadLetter moves from meetings to core, its rows kept: the model's state is created here over the table meetings
made (meetings 0002 forgets it without touching the table), the table is renamed core_deadletter, and its content
type follows so its permissions stay the same rows."""

from django.db import migrations, models


def _content_type_move(apps, schema_editor, *, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.using(schema_editor.connection.alias).filter(app_label=source, model="deadletter").update(
        app_label=target
    )


def content_type_to_core(apps, schema_editor) -> None:
    _content_type_move(apps, schema_editor, source="meetings", target="core")


def content_type_to_meetings(apps, schema_editor) -> None:
    _content_type_move(apps, schema_editor, source="core", target="meetings")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0012_one_time_secret_audit_entry"),
        ("meetings", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="DeadLetter",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("message_id", models.CharField(blank=True, max_length=128)),
                        ("body", models.TextField()),
                        ("error", models.TextField()),
                        ("received_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                    ],
                    options={"ordering": ["-received_at", "-id"], "db_table": "meetings_deadletter"},
                ),
            ],
        ),
        migrations.AlterModelTable(name="deadletter", table=None),
        migrations.RunPython(content_type_to_core, content_type_to_meetings),
    ]
