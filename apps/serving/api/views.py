"""Outcomes (ground truth that arrives later): JSON or a CSV upload, joined by request id or by a
business key within one endpoint and environment of the caller's team. Unknown ids are reported
back, never a crash and never silently dropped; business owners get 403."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apps.accounts.api.parsers import LimitedJSONParser
from apps.serving.outcomes import outcomes_from_csv, outcomes_submit


class OutcomesSerializer(serializers.Serializer):
    endpoint = serializers.CharField(required=False, help_text="default endpoint for records without one")
    environment = serializers.CharField(
        required=False, help_text="default environment for records without one (production if not given)"
    )
    outcomes = serializers.ListField(child=serializers.DictField(), required=False)
    file = serializers.FileField(required=False, help_text="CSV: request_id[,row] or business_key, value")
    key_field = serializers.CharField(required=False, help_text="input field that holds the business key")


@extend_schema(request=OutcomesSerializer, responses={200: dict})
@api_view(["POST"])
@parser_classes([LimitedJSONParser, MultiPartParser])
def outcomes(request):
    data = OutcomesSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    records = outcomes_from_csv(values["file"]) if values.get("file") else values.get("outcomes")
    answer = outcomes_submit(
        user=request.user,
        records=list(records or []),
        endpoint=values.get("endpoint"),
        environment=values.get("environment"),
        key_field=values.get("key_field"),
    )
    return Response(
        {
            "accepted": answer.accepted,
            "overwritten": answer.overwritten,
            "unknown": answer.unknown[:1000],
            "unknown_count": len(answer.unknown),
        }
    )
