from rest_framework import serializers

from apps.accounts.api.parsers import LimitedJSONField
from apps.monitoring.config import WINDOWS
from apps.monitoring.models import Alert, AlertAction, CheckRun, Finding, Monitor, SliceAnalysis


class MonitorSerializer(serializers.ModelSerializer):
    deployment = serializers.IntegerField(source="deployment_id", read_only=True)
    endpoint = serializers.CharField(source="deployment.endpoint.name", read_only=True)
    environment = serializers.CharField(source="deployment.endpoint.environment.name", read_only=True)
    model_name = serializers.CharField(source="deployment.version.model.name", read_only=True)
    version_number = serializers.IntegerField(source="deployment.version.number", read_only=True)
    role = serializers.CharField(source="deployment.role", read_only=True)
    template = serializers.CharField(source="template.name", read_only=True)
    baseline_set_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    open_alerts = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = Monitor
        fields = [
            "id",
            "deployment",
            "endpoint",
            "environment",
            "model_name",
            "version_number",
            "role",
            "template",
            "config",
            "enabled",
            "baseline_window",
            "baseline_set_by",
            "baseline_set_at",
            "last_scheduled_at",
            "open_alerts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MonitorUpdateSerializer(serializers.Serializer):
    config = LimitedJSONField(required=False, help_text="top-level keys replace the monitor's")
    enabled = serializers.BooleanField(required=False)


class CheckRunSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CheckRun
        fields = [
            "id",
            "monitor",
            "job",
            "trigger",
            "window",
            "window_start",
            "window_end",
            "baseline",
            "status",
            "rows_current",
            "rows_baseline",
            "tests_run",
            "flagged_count",
            "q",
            "correction",
            "prediction_shares",
            "performance",
            "error",
            "requested_by",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class CheckRunRequestSerializer(serializers.Serializer):
    monitor = serializers.IntegerField(help_text="the monitor's id")
    window = serializers.ChoiceField(choices=list(WINDOWS), default="hour")
    end = serializers.DateTimeField(required=False, help_text="window end (rounded down to the hour)")


class FindingSerializer(serializers.ModelSerializer):
    check = serializers.CharField(source="check_name", read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "run",
            "feature",
            "check",
            "test",
            "statistic",
            "p_value",
            "adjusted_p",
            "effect_size",
            "effect_name",
            "floor",
            "n_reference",
            "n_current",
            "flagged",
            "severity",
            "details",
        ]
        read_only_fields = fields


class AlertActionSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AlertAction
        fields = ["id", "action", "actor", "reason", "details", "created_at"]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    check = serializers.CharField(source="check_name", read_only=True)
    model_name = serializers.CharField(source="monitor.deployment.version.model.name", read_only=True)
    version_number = serializers.IntegerField(source="monitor.deployment.version.number", read_only=True)
    endpoint = serializers.CharField(source="monitor.deployment.endpoint.name", read_only=True)
    actions = AlertActionSerializer(many=True, read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "monitor",
            "model_name",
            "version_number",
            "endpoint",
            "check",
            "feature",
            "severity",
            "state",
            "occurrences",
            "first_seen",
            "last_seen",
            "latest_run",
            "latest_finding",
            "summary",
            "evidence",
            "resolved_at",
            "actions",
        ]
        read_only_fields = fields


class AlertActionRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=AlertAction.Kind.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SliceAnalysisSerializer(serializers.ModelSerializer):
    """An alert's root-cause analysis; ``explanations`` is the slice finder's ranked result."""

    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = SliceAnalysis
        fields = [
            "id",
            "alert",
            "monitor",
            "run",
            "parent",
            "trigger",
            "within",
            "metric",
            "window_start",
            "window_end",
            "baseline",
            "status",
            "rows_reference",
            "rows_current",
            "tests_run",
            "q",
            "overall",
            "explanations",
            "error",
            "job",
            "requested_by",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class ExplainRequestSerializer(serializers.Serializer):
    parent = serializers.IntegerField(
        required=False, help_text="the analysis to drill into (needed when within is an index)"
    )
    within = LimitedJSONField(
        required=False,
        help_text='an explanation\'s index in the parent, or a slice {"conditions": [...]}; '
        "leave out for a new analysis of the alert's latest window",
    )
