from rest_framework import serializers

from apps.jobs.models import Job
from apps.packaging.models import PackageBuild


class PackageBuildSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="version.model.name", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    override_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    deployable_to_production = serializers.BooleanField(read_only=True)
    job = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = PackageBuild
        fields = [
            "id",
            "version",
            "model_name",
            "version_number",
            "status",
            "validation_passed",
            "deployable_to_production",
            "report",
            "lock_text",
            "lock_entries",
            "lock_problems",
            "archive_sha256",
            "archive_size",
            "download_url",
            "error",
            "override_by",
            "override_reason",
            "override_at",
            "inputs_digest",
            "job",
            "created_at",
            "finished_at",
        ]

    def get_job(self, obj) -> int | None:
        job = Job.objects.filter(subject_type="package", subject_id=obj.pk).order_by("-created_at").first()
        return job.pk if job else None

    def get_download_url(self, obj) -> str | None:
        return f"/api/v1/packages/{obj.pk}/download/" if obj.archive_sha256 else None


class OverrideSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
