"""The audit trail moves here from the registry, in Django's state only: the table keeps its name
(``registry_auditevent``), its rows, keys, indexes and append-only triggers; nothing is copied.
Run after the registry's migrations that built the table, so a fresh database has it first."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        ("registry", "0003_auditevent_append_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "actor_name",
                            models.CharField(
                                blank=True,
                                default="",
                                help_text="the actor's username when the event was recorded",
                                max_length=150,
                            ),
                        ),
                        ("action", models.CharField(db_index=True, max_length=64)),
                        ("object_type", models.CharField(max_length=64)),
                        ("object_id", models.BigIntegerField()),
                        ("object_repr", models.CharField(max_length=200)),
                        ("details", models.JSONField(blank=True, default=dict)),
                        (
                            "actor",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to="accounts.team"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "registry_auditevent",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["object_type", "object_id"], name="registry_au_object__49c75b_idx")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
