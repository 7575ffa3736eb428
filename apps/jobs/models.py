from django.conf import settings
from django.db import models


class Job(models.Model):
    """Long work, one row each. Celery tasks update it; pages, the API and the client read it,
    so progress and outcome survive restarts. Celery's result backend is not the source of truth."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kind = models.CharField(max_length=64, help_text="what is being done, e.g. registry.profile_reference")
    subject_type = models.CharField(max_length=64, help_text="the kind of object worked on, e.g. version")
    subject_id = models.BigIntegerField()
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent done")
    steps = models.JSONField(default=list, blank=True, help_text="[{at, message}] in order")
    error = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status}, {self.progress}%)"
