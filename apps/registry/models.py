from django.conf import settings
from django.db import models


class TaskType(models.TextChoices):
    BINARY = "binary_classification", "Binary classification"
    MULTICLASS = "multiclass_classification", "Multiclass classification"
    REGRESSION = "regression", "Regression"
    RANKING = "ranking", "Ranking / recommender"
    TEXT = "text_classification", "Text classification"


class Stage(models.TextChoices):
    NONE = "none", "None"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


class RegisteredModel(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    task_type = models.CharField(max_length=32, choices=TaskType.choices)
    business_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sponsored_models",
        help_text="the line-of-business owner who sponsors this model",
    )
    tags = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="model_name_unique_in_team")]

    def __str__(self) -> str:
        return f"{self.team.slug}/{self.name}"


class ModelVersion(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(blank=True)

    artifact = models.FileField(max_length=300)
    artifact_filename = models.CharField(max_length=255)
    artifact_sha256 = models.CharField(max_length=64)
    artifact_size = models.BigIntegerField()
    framework = models.CharField(max_length=32)
    format = models.CharField(max_length=32)
    safe_format = models.BooleanField(help_text="loading it cannot run arbitrary code")
    format_details = models.JSONField(default=dict, blank=True)

    input_schema = models.JSONField(default=dict)
    output_schema = models.JSONField(default=dict, blank=True)
    schema_source = models.CharField(max_length=16, choices=[("given", "given"), ("inferred", "inferred")])

    reference_data = models.FileField(max_length=300, blank=True)
    reference_filename = models.CharField(max_length=255, blank=True)
    reference_sha256 = models.CharField(max_length=64, blank=True)
    reference_format = models.CharField(max_length=16, blank=True)
    reference_rows = models.PositiveIntegerField(null=True, blank=True)
    target_column = models.CharField(max_length=200, blank=True)
    reference_profile = models.JSONField(null=True, blank=True)

    holdout_data = models.FileField(
        max_length=300, blank=True, help_text="labelled rows kept out of training"
    )
    holdout_filename = models.CharField(max_length=255, blank=True)
    holdout_sha256 = models.CharField(max_length=64, blank=True)
    validation_thresholds = models.JSONField(
        default=dict, blank=True, help_text='metric → bound the holdout must meet, e.g. {"roc_auc": 0.75}'
    )

    metrics = models.JSONField(default=dict, blank=True, help_text="training metrics, name → number")
    requirements = models.TextField(blank=True, help_text="declared requirements, one per line")
    environment = models.JSONField(default=dict, blank=True, help_text="captured: python and packages")

    code_commit = models.CharField(max_length=100, blank=True)
    data_uri = models.CharField(max_length=500, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )

    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.NONE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model", "-number"]
        constraints = [models.UniqueConstraint(fields=["model", "number"], name="version_number_unique")]

    def __str__(self) -> str:
        return f"{self.model} v{self.number}"

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.input_schema.get("features", [])]
