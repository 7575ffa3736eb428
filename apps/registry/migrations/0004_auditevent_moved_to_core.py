"""The audit trail now belongs to ``core`` (its migration 0001): removed from the registry's state
only. The table ``registry_auditevent`` and its rows stay, owned by ``core.AuditEvent``."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("registry", "0003_auditevent_append_only"),
        ("serving", "0007_outcome_revision_audit_event_in_core"),  # its key now points at core's model
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
