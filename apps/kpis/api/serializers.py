from django.contrib.auth import get_user_model
from rest_framework import serializers

from apps.accounts.api.parsers import LimitedJSONField
from apps.kpis.formatting import format_value
from apps.kpis.models import KpiAlert, KpiAlertAction, KpiDefinition, KpiPoint
from apps.monitoring import display_names as names


class KpiSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    window_display = serializers.SerializerMethodField(help_text='"daily" or "weekly"')

    def get_window_display(self, kpi) -> str:
        return names.window_adjective(kpi.window)

    class Meta:
        model = KpiDefinition
        fields = [
            "id",
            "name",
            "description",
            "model",
            "model_name",
            "endpoint",
            "environment",
            "deployment_ids",
            "kind",
            "params",
            "segments",
            "window",
            "window_display",
            "unit",
            "currency",
            "decimals",
            "target",
            "band_low",
            "band_high",
            "owner",
            "created_by",
            "enabled",
            "last_rollup_at",
            "unmatched_outcomes",
            "problem",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class KpiWriteSerializer(serializers.Serializer):
    """The fields a person sets; the service checks what they mean (fields, endpoint, band)."""

    model = serializers.IntegerField(required=False, help_text="the registered model's id (on create)")
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    endpoint = serializers.CharField(max_length=200, required=False)
    environment = serializers.CharField(max_length=50, required=False)
    deployment_ids = LimitedJSONField(required=False)
    kind = serializers.ChoiceField(choices=KpiDefinition.Kind.values, required=False)
    params = LimitedJSONField(required=False)
    segments = LimitedJSONField(required=False)
    window = serializers.ChoiceField(choices=KpiDefinition.Window.values, required=False)
    unit = serializers.ChoiceField(choices=KpiDefinition.Unit.values, required=False)
    currency = serializers.CharField(max_length=8, required=False, allow_blank=True)
    decimals = serializers.IntegerField(min_value=0, max_value=6, required=False)
    target = serializers.FloatField(required=False, allow_null=True)
    band_low = serializers.FloatField(required=False, allow_null=True)
    band_high = serializers.FloatField(required=False, allow_null=True)
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.all(), required=False
    )
    enabled = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if self.context.get("creating"):
            missing = [f for f in ("model", "name", "endpoint", "kind", "params") if f not in attrs]
            if missing:
                raise serializers.ValidationError({f: "This field is required." for f in missing})
        return attrs


class KpiPointSerializer(serializers.ModelSerializer):
    display = serializers.SerializerMethodField()
    window_label = serializers.SerializerMethodField(
        help_text='the period the window covers, in the site\'s time zone: "Sat 5 Dec 2026 (UTC)"'
    )

    class Meta:
        model = KpiPoint
        fields = [
            "id",
            "start",
            "end",
            "window_label",
            "value",
            "display",
            "interval_low",
            "interval_high",
            "numerator",
            "denominator",
            "n",
            "labelled",
            "status",
            "message",
            "computed_at",
            "revisions",
        ]
        read_only_fields = fields

    def get_display(self, point) -> str:
        return format_value(point.kpi, point.value)

    def get_window_label(self, point) -> str:
        return f"{names.window_label(point.start, point.end)} ({names.zone_name()})"


class KpiAlertActionSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = KpiAlertAction
        fields = ["id", "action", "actor", "reason", "created_at"]
        read_only_fields = fields


class KpiAlertSerializer(serializers.ModelSerializer):
    kpi_name = serializers.CharField(source="kpi.name", read_only=True)
    model_name = serializers.CharField(source="kpi.model.name", read_only=True)
    actions = KpiAlertActionSerializer(many=True, read_only=True)

    class Meta:
        model = KpiAlert
        fields = [
            "id",
            "kpi",
            "kpi_name",
            "model_name",
            "severity",
            "state",
            "occurrences",
            "first_seen",
            "last_seen",
            "latest_point",
            "summary",
            "evidence",
            "resolved_at",
            "actions",
        ]
        read_only_fields = fields


class KpiAlertActionRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=KpiAlertAction.Kind.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class KpiImpactQuerySerializer(serializers.Serializer):
    """One of: deployment (+ days), before_start/before_end/after_start/after_end, or arm_a/arm_b
    (primary and canary deployment ids, + start/end)."""

    deployment = serializers.IntegerField(required=False)
    days = serializers.IntegerField(required=False, min_value=1, max_value=90, default=7)
    before_start = serializers.DateTimeField(required=False)
    before_end = serializers.DateTimeField(required=False)
    after_start = serializers.DateTimeField(required=False)
    after_end = serializers.DateTimeField(required=False)
    arm_a = serializers.IntegerField(required=False, help_text="the primary's deployment id")
    arm_b = serializers.IntegerField(required=False, help_text="the canary's deployment id")
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    segment = serializers.CharField(required=False, allow_blank=True, help_text="e.g. inputs.Home")
    confidence = serializers.FloatField(required=False, default=0.95)
