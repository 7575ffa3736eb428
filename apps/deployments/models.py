from django.conf import settings
from django.db import models


class Environment(models.Model):
    """Where models run: staging and production by default; more can be added in the admin."""

    name = models.SlugField(max_length=50, unique=True)
    requires_approval = models.BooleanField(
        default=False, help_text="an IT operator approves each deployment"
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Endpoint(models.Model):
    """A named place predictions are asked for, e.g. ``credit-risk`` in production."""

    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="endpoints")
    name = models.SlugField(max_length=100)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="endpoints")
    allow_extra_fields = models.BooleanField(default=False, help_text="accept (and ignore) unknown features")
    sticky_key = models.CharField(
        max_length=100, blank=True, help_text="a request field that keeps a caller on one canary arm"
    )
    # By default a value outside the schema's range or categories is scored and counted: the data
    # of a later year is data. The features listed here refuse such values instead (a 422).
    refuse_outside_range = models.JSONField(
        default=list,
        blank=True,
        help_text="features whose values outside the schema's min-max or categories are refused",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["environment__order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="endpoint_unique_per_env")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.environment})"


class Deployment(models.Model):
    """A package put behind an endpoint in one role. History is kept: nothing is deleted."""

    class Strategy(models.TextChoices):
        DIRECT = "direct"
        CANARY = "canary"
        SHADOW = "shadow"

    class Role(models.TextChoices):
        PRIMARY = "primary"  # answers requests
        CANARY = "canary"  # answers a share of requests
        SHADOW = "shadow"  # scores copies; never answers

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval"
        REJECTED = "rejected"
        ROLLING_OUT = "rolling_out"
        LIVE = "live"
        RETIRED = "retired"
        FAILED = "failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="deployments")
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="deployments")
    package = models.ForeignKey(
        "packaging.PackageBuild", on_delete=models.PROTECT, related_name="deployments"
    )
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    role = models.CharField(max_length=16, choices=Role.choices)
    traffic_percent = models.FloatField(default=100.0)
    status = models.CharField(max_length=20, choices=Status.choices)
    package_dir = models.CharField(max_length=500, blank=True, help_text="where the package was unpacked")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    live_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["endpoint", "status"])]

    def __str__(self) -> str:
        return f"{self.version} → {self.endpoint} [{self.role}, {self.status}]"


class EndpointKey(models.Model):
    """A consumer key for one endpoint: what a caller of the inference service presents as
    ``Authorization: Bearer <key>``. Only its SHA-256 is stored; the key is shown once, at creation.
    Revoked keys are kept (revoked_at set) so the audit trail can name them."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="keys")
    name = models.CharField(max_length=100, help_text="who or what uses the key, e.g. loan-origination")
    prefix = models.CharField(max_length=12, help_text="the key's first characters, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["endpoint", "-created_at", "-id"]
        indexes = [models.Index(fields=["endpoint", "revoked_at"], name="deploy_endpointkey_active")]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) for {self.endpoint}"
