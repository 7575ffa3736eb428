from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Append-only record of every state change: who, what, when, on which object.

    Append-only in the database too: triggers refuse UPDATE and DELETE (apps/core/append_only.py).
    A user or team that events name cannot be deleted (PROTECT); deactivate the user instead. The
    actor's username is kept on the row as it was when they acted."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(
        max_length=150, blank=True, default="", help_text="the actor's username when the event was recorded"
    )
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.BigIntegerField()
    object_repr = models.CharField(max_length=200)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.PROTECT)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "registry_auditevent"  # named when it lived in the registry; kept, rows and all
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        if self.actor is not None and not self.actor_name:
            self.actor_name = self.actor.get_username()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.action} {self.object_repr}"
        )
