"""DeadLetter is core's now (core 0013 took its table and rows): meetings forgets the model, the table untouched."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("meetings", "0001_initial"),
        ("core", "0013_dead_letter_from_meetings"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="DeadLetter")]),
    ]
