from rest_framework import serializers

from apps.accounts.models import Team
from apps.libraries.models import (
    Advisory,
    AffectedPackage,
    ImportRun,
    LibraryException,
    LibraryFinding,
    LibraryRule,
    PipAuditReport,
)
from apps.libraries.selectors import affected_deployments


class AffectedPackageSerializer(serializers.ModelSerializer):
    class Meta:
        model = AffectedPackage
        fields = ["name", "ranges", "versions"]


class AdvisorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Advisory
        fields = [
            "osv_id",
            "aliases",
            "summary",
            "severity",
            "severity_source",
            "severity_detail",
            "cvss_score",
            "cvss_vector",
            "published",
            "modified",
            "source",
        ]
        read_only_fields = fields


class AdvisoryDetailSerializer(AdvisorySerializer):
    affected = AffectedPackageSerializer(many=True, read_only=True)

    class Meta(AdvisorySerializer.Meta):
        fields = [*AdvisorySerializer.Meta.fields, "details", "references", "affected"]
        read_only_fields = fields


class ImportRunSerializer(serializers.ModelSerializer):
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ImportRun
        fields = [
            "id",
            "source",
            "status",
            "files_seen",
            "created",
            "updated",
            "unchanged",
            "withdrawn",
            "skipped",
            "problems",
            "error",
            "started_by",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class AdvisoryImportRequestSerializer(serializers.Serializer):
    archive = serializers.FileField(help_text=".zip or .tar.gz of OSV files, or one .json/.yaml advisory")


class LibraryFindingSerializer(serializers.ModelSerializer):
    advisory = serializers.CharField(source="osv_id", read_only=True)
    model = serializers.CharField(source="version.model.name", read_only=True, default=None)
    model_id = serializers.IntegerField(source="version.model_id", read_only=True, default=None)
    version_number = serializers.IntegerField(source="version.number", read_only=True, default=None)
    severity_source = serializers.CharField(
        source="advisory.severity_source",
        read_only=True,
        default=None,
        help_text="cvss (the advisory's vector), database (a severity its database states), alias "
        "(another imported advisory for the same flaw) or none",
    )
    team = serializers.SerializerMethodField()
    deployments = serializers.SerializerMethodField()

    class Meta:
        model = LibraryFinding
        fields = [
            "id",
            "kind",
            "source",
            "team",
            "model",
            "model_id",
            "version",
            "version_number",
            "report",
            "package",
            "installed_version",
            "advisory",
            "aliases",
            "severity",
            "severity_source",
            "summary",
            "fixed_version",
            "fix_note",
            "status",
            "deployments",
            "first_seen",
            "last_seen",
            "resolved_at",
            "notified_at",
        ]
        read_only_fields = fields

    def get_team(self, finding) -> str | None:
        if finding.version is not None:
            return finding.version.model.team.name
        return finding.report.team.name if finding.report and finding.report.team else None

    def get_deployments(self, finding) -> list[dict]:
        return affected_deployments(finding)


class LibraryRuleSerializer(serializers.ModelSerializer):
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = LibraryRule
        fields = ["id", "package", "rule", "minimum_version", "reason", "updated_by", "updated_at"]
        read_only_fields = ["id", "updated_by", "updated_at"]
        extra_kwargs = {"package": {"validators": []}}  # the service replaces an existing rule


class LibraryExceptionSerializer(serializers.ModelSerializer):
    package = serializers.CharField(source="rule.package", read_only=True)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    granted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = LibraryException
        fields = ["id", "rule", "package", "team", "expires_at", "reason", "granted_by", "created_at"]
        read_only_fields = ["id", "package", "granted_by", "created_at"]


class PipAuditReportSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    team = serializers.CharField(source="team.name", read_only=True, default=None)
    findings = serializers.IntegerField(source="findings.count", read_only=True)

    class Meta:
        model = PipAuditReport
        fields = ["id", "name", "version", "team", "dependencies", "findings", "uploaded_by", "created_at"]
        read_only_fields = fields


class PipAuditUploadSerializer(serializers.Serializer):
    report = serializers.FileField(help_text="the JSON written by `pip-audit --format json`")
    version = serializers.IntegerField(required=False, help_text="model version the report is about")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
