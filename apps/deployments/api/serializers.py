from rest_framework import serializers

from apps.deployments.models import Deployment, Endpoint, EndpointKey
from apps.sla.selectors import effective_slo


class DeploymentSerializer(serializers.ModelSerializer):
    endpoint = serializers.CharField(source="endpoint.name", read_only=True)
    environment = serializers.CharField(source="endpoint.environment.name", read_only=True)
    model_name = serializers.CharField(source="version.model.name", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "endpoint",
            "environment",
            "model_name",
            "version",
            "version_number",
            "package",
            "strategy",
            "role",
            "traffic_percent",
            "status",
            "requested_by",
            "decided_by",
            "decided_at",
            "decision_reason",
            "error",
            "created_at",
            "live_at",
            "retired_at",
        ]


class EndpointSerializer(serializers.ModelSerializer):
    environment = serializers.CharField(source="environment.name", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True)
    live = serializers.SerializerMethodField()
    slo = serializers.SerializerMethodField()

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "name",
            "environment",
            "team",
            "allow_extra_fields",
            "sticky_key",
            "refuse_outside_range",
            "slo",
            "live",
            "created_at",
        ]

    def get_slo(self, obj) -> dict:
        slo = effective_slo(obj)
        return {
            "latency_ms": slo.latency_ms,
            "latency_percentile": slo.latency_percentile,
            "availability_percent": slo.availability_percent,
            "is_default": slo.pk is None,
        }

    def get_live(self, obj) -> list[dict]:
        live = [d for d in obj.deployments.all() if d.status == Deployment.Status.LIVE]
        return [
            {"deployment": d.pk, "version": d.version.number, "role": d.role, "percent": d.traffic_percent}
            for d in live
        ]


class EndpointUpdateSerializer(serializers.Serializer):
    refuse_outside_range = serializers.ListField(
        child=serializers.CharField(max_length=200),
        max_length=1000,
        help_text="features whose values outside the schema's min-max or categories get a 422; "
        "by default such values are scored and counted",
    )


class DeployRequestSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="the version's id")
    endpoint = serializers.CharField(max_length=100)
    environment = serializers.CharField(max_length=50, default="staging")
    strategy = serializers.ChoiceField(choices=Deployment.Strategy.choices, default="direct")
    percent = serializers.FloatField(required=False, min_value=0, max_value=100)


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class EndpointKeySerializer(serializers.ModelSerializer):
    """A consumer key as listed: never the key itself, which only its creation answer carries."""

    endpoint = serializers.CharField(source="endpoint.name", read_only=True)
    environment = serializers.CharField(source="endpoint.environment.name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    revoked_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = EndpointKey
        fields = [
            "id",
            "endpoint",
            "environment",
            "name",
            "prefix",
            "active",
            "created_by",
            "created_at",
            "revoked_by",
            "revoked_at",
        ]


class EndpointKeyCreatedSerializer(EndpointKeySerializer):
    key = serializers.CharField(read_only=True, help_text="shown this once; only its hash is stored")

    class Meta(EndpointKeySerializer.Meta):
        fields = [*EndpointKeySerializer.Meta.fields, "key"]


class EndpointKeyRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="who or what uses the key")
