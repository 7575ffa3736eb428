"""Service levels over the API: an endpoint's series, its SLO (IT sets it), worker samples."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view
from rest_framework.response import Response

from apps.accounts import access
from apps.deployments.selectors import endpoints_visible_to
from apps.sla import selectors, services
from apps.sla.api.serializers import SlaQuerySerializer, SloInputSerializer, SloSerializer


def _report_json(report: dict) -> dict:
    return {
        "endpoint": report["endpoint"],
        "environment": report["environment"],
        "since": report["since"],
        "until": report["until"],
        "step_seconds": report["step_seconds"],
        "slo": SloSerializer(report["slo"]).data,
        "summary": report["summary"],
        "total": report["total"],
        "versions": [{"version": number, "points": points} for number, points in report["versions"].items()],
        "budget": report["budget"],
        "events": report["events"],
    }


@extend_schema(
    parameters=[SlaQuerySerializer],
    responses=OpenApiTypes.OBJECT,
    description="Per step of the period: requests, req/s, error rates and latency p50/p95/p99 (ms), per "
    "version and in total; the summary against the SLO, the error budget along the period and the "
    "deployments that went live, were promoted or rolled back.",
)
@api_view(["GET"])
def sla_series(request):
    query = SlaQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    values = query.validated_data
    endpoint = selectors.endpoint_for_user(
        request.user, name=values["endpoint"], environment=values["environment"]
    )
    period = selectors.parse_period(
        since=values.get("since"), until=values.get("until"), step=values.get("step")
    )
    return Response(_report_json(selectors.endpoint_report(endpoint, period)))


@extend_schema(
    methods=["GET"],
    responses=SloSerializer,
    description="The endpoint's SLO (its defaults until IT sets one).",
)
@extend_schema(
    methods=["PUT"],
    request=SloInputSerializer,
    responses=SloSerializer,
    description="Set the endpoint's SLO (IT operators only; audited).",
)
@api_view(["GET", "PUT"])
def endpoint_slo(request, pk: int):
    endpoint = get_object_or_404(
        endpoints_visible_to(request.user).select_related("environment", "team"), pk=pk
    )
    if request.method == "PUT":
        data = SloInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.slo_set(user=request.user, endpoint=endpoint, **data.validated_data)
        endpoint.refresh_from_db()
    return Response(SloSerializer(selectors.effective_slo(endpoint)).data)


@extend_schema(
    parameters=[
        OpenApiParameter("since", str, description="ISO 8601; default: an hour before until"),
        OpenApiParameter("until", str, description="ISO 8601; default: now"),
        OpenApiParameter("step", int, description="seconds, a multiple of 60"),
        OpenApiParameter("host", str, description="only this host's workers"),
    ],
    responses=OpenApiTypes.OBJECT,
    description="Inference worker processes (IT only): CPU percent of one core, resident memory and "
    "requests answered, averaged per step.",
)
@api_view(["GET"])
def sla_workers(request):
    if not access.sees_every_model(request.user):
        raise PermissionDenied("worker samples are for IT operators")
    params = request.query_params
    period = selectors.parse_period(
        since=params.get("since"), until=params.get("until"), step=params.get("step")
    )
    workers = selectors.worker_report(period, host=params.get("host") or None)
    return Response(
        {
            "since": period.since,
            "until": period.until,
            "step_seconds": period.step_seconds,
            "workers": workers,
        }
    )
