"""The audit trail becomes append-only in the database: each event keeps its actor's name, the
actor and team keys refuse the deletion of a user or team that events name (instead of blanking
them), and triggers refuse UPDATE, DELETE and (on PostgreSQL) TRUNCATE of the table."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

from apps.core import append_only


def backfill_actor_names(apps, schema_editor):
    AuditEvent = apps.get_model("registry", "AuditEvent")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    username = User.objects.filter(pk=OuterRef("actor_id")).values(User._meta.get_field("username").attname)
    AuditEvent.objects.filter(actor__isnull=False).update(actor_name=Subquery(username[:1]))


def install_triggers(apps, schema_editor):
    append_only.install(schema_editor.connection)


def remove_triggers(apps, schema_editor):
    append_only.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("registry", "0002_modelversion_holdout_data_and_more"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="actor_name",
            field=models.CharField(
                blank=True, default="", help_text="the actor's username when the event was recorded", max_length=150
            ),
        ),
        migrations.RunPython(backfill_actor_names, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="team",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to="accounts.team"
            ),
        ),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
