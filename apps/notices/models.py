"""A notice: one person's in-app message about something they may act on or should know (an alert
on their model, a KPI alert on what they sponsor, a patch or an approval waiting for IT, the outcome
of their own request). Low in the stack (above accounts only): every domain app creates notices
through ``apps.notices.services.notices_send`` without knowing the others."""

from django.conf import settings
from django.db import models


class Notice(models.Model):
    class Kind(models.TextChoices):
        ALERT = "alert", "Alerts on my models"
        KPI_ALERT = "kpi_alert", "KPI alerts"
        LIBRARY = "library", "Library findings and patches"
        APPROVAL = "approval", "Approvals waiting"
        OUTCOME = "outcome", "Outcomes of my requests"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    event = models.CharField(max_length=64, blank=True, help_text="what happened, e.g. alert.opened")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="the object's page")
    # The object the notice is about, named like the audit trail names objects.
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True, help_text="sent alone or in a digest")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notice_unread")]

    def __str__(self) -> str:
        return f"{self.recipient} · {self.title}"


class NoticePreference(models.Model):
    """What one person wants: which kinds of notice at all, and e-mail at once, in a daily digest
    or never (in-app only). Someone without a row gets every kind and e-mail at once."""

    class Email(models.TextChoices):
        IMMEDIATE = "immediate", "at once, one e-mail per notice"
        DIGEST = "digest", "a daily digest of unread notices"
        NEVER = "never", "never (in-app only)"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notice_preference"
    )
    muted = models.JSONField(default=list, blank=True, help_text="the kinds of notice not wanted")
    email = models.CharField(max_length=12, choices=Email.choices, default=Email.IMMEDIATE)
    last_digest_at = models.DateTimeField(null=True, blank=True)

    def wants(self, kind: str) -> bool:
        return kind not in self.muted

    def __str__(self) -> str:
        return f"{self.user}: {self.email}"
