"""Outcomes (ground truth that arrives later): JSON or a CSV upload, joined by request id or by a
business key. Unknown ids are reported back, never a crash and never silently dropped."""

import io

import pandas as pd
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from apps.accounts import access
from apps.serving.ingest import outcomes_ingest

MAX_OUTCOMES = 100_000


class OutcomesSerializer(serializers.Serializer):
    endpoint = serializers.CharField(required=False, help_text="default endpoint for records without one")
    outcomes = serializers.ListField(child=serializers.DictField(), required=False)
    file = serializers.FileField(required=False, help_text="CSV: request_id[,row] or business_key, value")
    key_field = serializers.CharField(required=False, help_text="input field that holds the business key")


def _from_csv(upload) -> list[dict]:
    try:
        frame = pd.read_csv(io.BytesIO(upload.read()), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError({"file": f"cannot be read as CSV: {exc}"}) from exc
    if "value" not in frame.columns or not ({"request_id", "business_key"} & set(frame.columns)):
        raise ValidationError({"file": "needs a value column and a request_id or business_key column"})
    return frame.to_dict(orient="records")


@extend_schema(request=OutcomesSerializer, responses={200: dict})
@api_view(["POST"])
@parser_classes([JSONParser, MultiPartParser])
def outcomes(request):
    data = OutcomesSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    records = _from_csv(values["file"]) if values.get("file") else list(values.get("outcomes") or [])
    if not records:
        raise ValidationError({"outcomes": "send a list of outcomes or a CSV file"})
    if len(records) > MAX_OUTCOMES:
        raise ValidationError({"outcomes": f"at most {MAX_OUTCOMES} outcomes per call"})
    for record in records:
        record.setdefault("endpoint", values.get("endpoint"))
    names = {r.get("endpoint") for r in records}
    visible = set(
        access.endpoints_visible_to(request.user).filter(name__in=names).values_list("name", flat=True)
    )
    hidden = sorted(str(n) for n in names - visible)
    if hidden:
        raise ValidationError({"endpoint": f"no endpoint you can see named {', '.join(hidden)}"})
    try:
        accepted, unknown = outcomes_ingest(records, key_field=values.get("key_field"))
    except ValueError as exc:
        raise ValidationError({"outcomes": str(exc)}) from exc
    return Response({"accepted": accepted, "unknown": unknown[:1000], "unknown_count": len(unknown)})
