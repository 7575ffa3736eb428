from django.contrib.auth import get_user_model
from rest_framework import serializers

from apps.accounts.api.parsers import LimitedJSONField
from apps.core.models import AuditEvent
from apps.jobs.models import Job
from apps.registry.models import ModelVersion, RegisteredModel, Stage, TaskType
from apps.registry.names import model_name_validator


class RegisteredModelSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    business_owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    latest_version = serializers.SerializerMethodField()
    version_count = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "id",
            "name",
            "team",
            "description",
            "task_type",
            "business_owner",
            "tags",
            "latest_version",
            "version_count",
            "created_at",
            "updated_at",
        ]

    def get_latest_version(self, obj) -> int | None:
        numbers = [v.number for v in obj.versions.all()]
        return max(numbers) if numbers else None

    def get_version_count(self, obj) -> int:
        return len(obj.versions.all())


class ModelCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, validators=[model_name_validator])
    team = serializers.CharField(required=False, help_text="team slug; optional when you belong to one team")
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)
    business_owner = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.all(), required=False, allow_null=True
    )


class ModelUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    business_owner = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.all(), required=False, allow_null=True
    )


class ModelVersionSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    team = serializers.CharField(source="model.team.slug", read_only=True)
    parent_version = serializers.IntegerField(source="parent.number", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    status = serializers.SerializerMethodField(help_text="ready, profiling, profile_failed or no_reference")
    job = serializers.SerializerMethodField(help_text="id of the latest job working on this version")
    package = serializers.SerializerMethodField(help_text="the latest package build, in short")

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "model",
            "model_name",
            "team",
            "number",
            "description",
            "stage",
            "status",
            "job",
            "package",
            "framework",
            "format",
            "safe_format",
            "format_details",
            "artifact_filename",
            "artifact_sha256",
            "artifact_size",
            "input_schema",
            "output_schema",
            "schema_source",
            "reference_filename",
            "reference_sha256",
            "reference_format",
            "reference_rows",
            "target_column",
            "holdout_filename",
            "holdout_sha256",
            "validation_thresholds",
            "reference_profile",
            "metrics",
            "requirements",
            "environment",
            "code_commit",
            "data_uri",
            "parent_version",
            "created_by",
            "created_at",
        ]

    def _latest_job(self, obj):
        jobs = self.context.get("jobs_by_version")
        if jobs is not None:
            return jobs.get(obj.pk)
        return Job.objects.filter(subject_type="version", subject_id=obj.pk).order_by("-created_at").first()

    def get_status(self, obj) -> str:
        if not obj.reference_sha256:
            return "no_reference"
        if obj.reference_profile is not None:
            return "ready"
        job = self._latest_job(obj)
        return "profile_failed" if job is not None and job.status == Job.Status.FAILED else "profiling"

    def get_job(self, obj) -> int | None:
        job = self._latest_job(obj)
        return job.pk if job else None

    def get_package(self, obj) -> dict | None:
        # Read from the prefetched builds (list views prefetch them), newest first.
        builds = sorted(obj.packages.all(), key=lambda b: (b.created_at, b.pk), reverse=True)
        build = builds[0] if builds else None
        if build is None:
            return None
        return {
            "id": build.pk,
            "status": build.status,
            "validation_passed": build.validation_passed,
            "deployable_to_production": build.deployable_to_production,
        }


class VersionListSerializer(ModelVersionSerializer):
    class Meta(ModelVersionSerializer.Meta):
        fields = [
            f
            for f in ModelVersionSerializer.Meta.fields
            if f not in ("reference_profile", "input_schema", "environment", "format_details")
        ]


class VersionRegisterSerializer(serializers.Serializer):
    """multipart/form-data. JSON-valued fields are sent as JSON text."""

    model = serializers.CharField(
        max_length=100,
        validators=[model_name_validator],
        help_text="model name; created on its first version",
    )
    team = serializers.CharField(required=False, help_text="team slug; optional when you belong to one team")
    task_type = serializers.ChoiceField(choices=TaskType.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    # Empty files pass here so that the registry's own check names the problem precisely.
    artifact = serializers.FileField(help_text="the model file", allow_empty_file=True)
    reference = serializers.FileField(
        required=False, allow_empty_file=True, help_text="reference (training) data, CSV or Parquet"
    )
    target = serializers.CharField(required=False, allow_blank=True, default="", help_text="label column")
    input_schema = LimitedJSONField(required=False)
    output_schema = LimitedJSONField(required=False)
    metrics = LimitedJSONField(required=False)
    requirements = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    environment = LimitedJSONField(required=False)
    code_commit = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    data_uri = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    parent_version = serializers.IntegerField(required=False, min_value=1)
    holdout = serializers.FileField(
        required=False, allow_empty_file=True, help_text="labelled rows kept out of training, CSV or Parquet"
    )
    thresholds = LimitedJSONField(
        required=False,
        help_text='holdout metric bounds, e.g. {"roc_auc": 0.75}; rmse/mae/log_loss are maxima',
    )
    tags = LimitedJSONField(required=False)
    business_owner = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.all(), required=False, allow_null=True
    )

    def _expect(self, value, kind, name):
        if value is not None and not isinstance(value, kind):
            raise serializers.ValidationError(f"{name} must be a JSON {kind.__name__}")
        return value

    def validate_input_schema(self, value):
        return self._expect(value, dict, "input_schema")

    def validate_output_schema(self, value):
        return self._expect(value, dict, "output_schema")

    def validate_metrics(self, value):
        value = self._expect(value, dict, "metrics")
        bad = [k for k, v in (value or {}).items() if not isinstance(v, int | float)]
        if bad:
            raise serializers.ValidationError(f"metric values must be numbers: {', '.join(bad)}")
        return value

    def validate_thresholds(self, value):
        return self._expect(value, dict, "thresholds")

    def validate_environment(self, value):
        return self._expect(value, dict, "environment")

    def validate_tags(self, value):
        value = self._expect(value, list, "tags")
        if value and not all(isinstance(t, str) for t in value):
            raise serializers.ValidationError("tags must be strings")
        return value


class StageChangeSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField(
        help_text="the actor's username when they acted; null for the system"
    )
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "team",
            "details",
        ]

    def get_actor(self, event) -> str | None:
        return event.actor_name or None
