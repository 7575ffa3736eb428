import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """Flush ids are forgotten by when they were claimed, not by the minute they describe: a backlog
    of old minutes must stay protected against redelivery."""

    dependencies = [("sla", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="slaflush", name="minute"),
        migrations.AddField(
            model_name="slaflush",
            name="claimed_at",
            field=models.DateTimeField(auto_now_add=True, db_index=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
    ]
