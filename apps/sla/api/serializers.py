from rest_framework import serializers

from apps.sla.models import Slo


class SloSerializer(serializers.ModelSerializer):
    endpoint = serializers.CharField(source="endpoint.name", read_only=True)
    environment = serializers.CharField(source="endpoint.environment.name", read_only=True)
    set_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    set_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="null while the defaults apply"
    )
    is_default = serializers.SerializerMethodField(help_text="not set by IT yet: the endpoint's defaults")

    class Meta:
        model = Slo
        fields = [
            "endpoint",
            "environment",
            "latency_ms",
            "latency_percentile",
            "availability_percent",
            "set_by",
            "set_at",
            "is_default",
        ]

    def get_is_default(self, obj) -> bool:
        return obj.pk is None


class SloInputSerializer(serializers.Serializer):
    latency_ms = serializers.FloatField(help_text="the percentile's target in milliseconds, above 0")
    latency_percentile = serializers.ChoiceField(choices=Slo.Percentile.values, default=99)
    availability_percent = serializers.FloatField(help_text="above 0 and below 100, e.g. 99.5")


class SlaQuerySerializer(serializers.Serializer):
    endpoint = serializers.CharField(max_length=200)
    environment = serializers.CharField(max_length=50, default="production")
    since = serializers.CharField(required=False, help_text="ISO 8601; default: an hour before until")
    until = serializers.CharField(required=False, help_text="ISO 8601; default: now")
    step = serializers.IntegerField(
        required=False, help_text="seconds, a multiple of 60; default: ~120 points"
    )
