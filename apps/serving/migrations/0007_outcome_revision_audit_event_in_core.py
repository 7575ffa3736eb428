"""An outcome revision's audit event is now ``core.AuditEvent``: the same table, so the column and
its foreign key stay as they are; only Django's state changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("serving", "0006_batch_model_starts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="outcomerevision",
                    name="audit_event",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="core.auditevent"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
