from django.conf import settings
from django.db import models


class PackagingPolicy(models.Model):
    """What IT allows when models are loaded and validated. One row; edited in the admin."""

    skops_trusted_types = models.JSONField(
        default=list,
        blank=True,
        help_text="types a skops file may contain beyond skops' defaults, e.g. sklearn.pipeline.Pipeline",
    )
    latency_budget_ms_per_row = models.FloatField(default=20.0)
    sandbox_memory_mb = models.PositiveIntegerField(default=2048)
    sandbox_cpu_seconds = models.PositiveIntegerField(default=120)
    sandbox_timeout_seconds = models.PositiveIntegerField(default=180)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "packaging policy"

    @classmethod
    def current(cls) -> "PackagingPolicy":
        return cls.objects.order_by("pk").first() or cls.objects.create()

    def __str__(self) -> str:
        return "Packaging policy"


class PackageBuild(models.Model):
    """One build of a deployable package for a model version: validation, lock, scaffold, archive."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"  # a package exists; its validation may still have failed
        FAILED = "failed"  # no package: the model could not be loaded or scored

    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="packages")
    inputs_digest = models.CharField(max_length=64, help_text="SHA-256 of everything the build depends on")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    validation_passed = models.BooleanField(null=True)
    report = models.JSONField(default=dict, blank=True)
    lock_text = models.TextField(blank=True)
    lock_entries = models.JSONField(default=list, blank=True)
    lock_problems = models.JSONField(default=list, blank=True)
    archive = models.FileField(max_length=300, blank=True)
    archive_sha256 = models.CharField(max_length=64, blank=True)
    archive_size = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    override_reason = models.TextField(blank=True)
    override_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "inputs_digest"], name="one_build_per_input_digest")
        ]

    @property
    def deployable_to_production(self) -> bool:
        return self.status == self.Status.SUCCEEDED and (
            self.validation_passed or self.override_at is not None
        )

    def __str__(self) -> str:
        return f"package of {self.version} ({self.status})"
