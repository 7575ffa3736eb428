from rest_framework import serializers

from apps.accounts.api.parsers import LimitedJSONField
from apps.monitoring import display_names as names
from apps.monitoring.alerts import evidence_period
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
    # Display fields: the raw names stay beside them (display_names holds the words).
    window_display = serializers.SerializerMethodField(help_text='"hourly", "daily" or "weekly"')
    window_label = serializers.SerializerMethodField(
        help_text='the period the window covers, in the site\'s time zone: "Sat 5 Dec 2026 (UTC)"'
    )

    def get_window_display(self, run) -> str:
        return names.window_adjective(run.window)

    def get_window_label(self, run) -> str:
        return f"{names.window_label(run.window_start, run.window_end)} ({names.zone_name()})"

    class Meta:
        model = CheckRun
        fields = [
            "id",
            "monitor",
            "job",
            "trigger",
            "window",
            "window_display",
            "window_start",
            "window_end",
            "window_label",
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
    feature_display = serializers.SerializerMethodField()
    check_display = serializers.SerializerMethodField()
    test_display = serializers.SerializerMethodField()
    effect_display = serializers.SerializerMethodField()

    def get_feature_display(self, finding) -> str:
        return names.feature_display(finding.feature)

    def get_check_display(self, finding) -> str:
        return names.check_display(finding.check_name)

    def get_test_display(self, finding) -> str:
        return names.test_display(finding.test)

    def get_effect_display(self, finding) -> str:
        return names.effect_display(finding.effect_name)

    class Meta:
        model = Finding
        fields = [
            "id",
            "run",
            "feature",
            "feature_display",
            "check",
            "check_display",
            "test",
            "test_display",
            "statistic",
            "p_value",
            "adjusted_p",
            "effect_size",
            "effect_name",
            "effect_display",
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
    check_display = serializers.SerializerMethodField()
    feature_display = serializers.SerializerMethodField()
    window_label = serializers.SerializerMethodField(help_text="the period of the latest evidence's window")

    def get_check_display(self, alert) -> str:
        return names.check_display(alert.check_name)

    def get_feature_display(self, alert) -> str:
        return names.feature_display(alert.feature)

    def get_window_label(self, alert) -> str:
        return evidence_period(alert.evidence or {})

    class Meta:
        model = Alert
        fields = [
            "id",
            "monitor",
            "model_name",
            "version_number",
            "endpoint",
            "check",
            "check_display",
            "feature",
            "feature_display",
            "window_label",
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
