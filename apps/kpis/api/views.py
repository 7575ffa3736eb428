"""KPI API: definitions (CRUD, field errors by path), their points, impact and KPI alerts with
people's actions. Every queryset comes from apps.accounts.access: another team's KPI is a 404."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts import access
from apps.deployments.selectors import deployments_visible_to
from apps.kpis import services
from apps.kpis.alerts import kpi_alert_act
from apps.kpis.api.serializers import (
    KpiAlertActionRequestSerializer,
    KpiAlertSerializer,
    KpiImpactQuerySerializer,
    KpiPointSerializer,
    KpiSerializer,
    KpiWriteSerializer,
)
from apps.kpis.impact import kpi_impact
from apps.kpis.models import KpiAlert, KpiDefinition
from apps.kpis.selectors import kpi_alerts_visible_to, kpi_points, kpis_visible_to
from apps.registry.selectors import models_visible_to


class KpiViewSet(viewsets.ModelViewSet):
    """Business KPIs. Create and change: the model's data scientists and its sponsoring business
    owner. ``GET points/?start=&end=``, ``GET impact/?deployment=…`` (see KpiImpactQuerySerializer)."""

    queryset = KpiDefinition.objects.none()
    serializer_class = KpiSerializer

    def get_queryset(self):
        qs = kpis_visible_to(self.request.user).select_related("model__team", "owner", "created_by")
        model = self.request.query_params.get("model")
        return qs.filter(model_id=model) if model and model.isdigit() else qs

    def _values(self, creating: bool) -> dict:
        data = KpiWriteSerializer(
            data=self.request.data, context={"creating": creating}, partial=not creating
        )
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    @extend_schema(request=KpiWriteSerializer, responses={201: KpiSerializer})
    def create(self, request, *args, **kwargs):
        values = self._values(creating=True)
        model_id = values.pop("model")
        model = models_visible_to(request.user).filter(pk=model_id).first()
        if model is None:
            raise ValidationError({"model": f"no model you can see has id {model_id}"})
        kpi = services.kpi_create(user=request.user, model=model, **values)
        return Response(KpiSerializer(kpi).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=KpiWriteSerializer, responses=KpiSerializer)
    def update(self, request, *args, **kwargs):
        values = self._values(creating=False)
        if "model" in values:
            raise ValidationError({"model": "a KPI stays with its model; define a new one instead"})
        kpi = services.kpi_update(user=request.user, kpi=self.get_object(), **values)
        return Response(KpiSerializer(kpi).data)

    def destroy(self, request, *args, **kwargs):
        services.kpi_delete(user=request.user, kpi=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str)],
        responses=KpiPointSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None)  # the whole series, not pages
    def points(self, request, pk=None):
        """The KPI's series, oldest window first."""
        kpi = self.get_object()
        window = KpiImpactQuerySerializer(
            data={k: request.query_params[k] for k in ("start", "end") if k in request.query_params}
        )
        window.is_valid(raise_exception=True)
        points = kpi_points(kpi, window.validated_data.get("start"), window.validated_data.get("end"))
        return Response(KpiPointSerializer(points.select_related("kpi"), many=True).data)

    @extend_schema(parameters=[KpiImpactQuerySerializer], responses={200: dict})
    @action(detail=True, methods=["get"])
    def impact(self, request, pk=None):
        """Before/after a deployment, two ranges, or canary arms; the difference with its interval,
        per segment when ``segment`` names a field."""
        kpi = self.get_object()
        query = KpiImpactQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        deployments = deployments_visible_to(request.user).select_related("endpoint__environment")
        kwargs = {
            "kpi": kpi,
            "days": q["days"],
            "segment": q.get("segment") or None,
            "confidence": q["confidence"],
        }
        if "deployment" in q:
            kwargs["deployment"] = get_object_or_404(deployments, pk=q["deployment"])
        ranges = [q.get(k) for k in ("before_start", "before_end", "after_start", "after_end")]
        if any(ranges):
            if not all(ranges):
                raise ValidationError(
                    {"before_start": "give before_start, before_end, after_start and after_end"}
                )
            kwargs["before"], kwargs["after"] = (ranges[0], ranges[1]), (ranges[2], ranges[3])
        if "arm_a" in q or "arm_b" in q:
            if not ("arm_a" in q and "arm_b" in q):
                raise ValidationError({"arm_b": "give both arms: arm_a (primary) and arm_b (canary)"})
            kwargs["arms"] = (
                get_object_or_404(deployments, pk=q["arm_a"]),
                get_object_or_404(deployments, pk=q["arm_b"]),
            )
            kwargs["within"] = (q.get("start"), q.get("end"))
        return Response(kpi_impact(**kwargs))


class KpiAlertViewSet(viewsets.ReadOnlyModelViewSet):
    """KPI alerts. POST ``{action, reason}`` to ``/kpi-alerts/{id}/actions/``: acknowledge, resolve
    or note (a reason is required but to acknowledge)."""

    queryset = KpiAlert.objects.none()
    serializer_class = KpiAlertSerializer

    def get_queryset(self):
        qs = (
            kpi_alerts_visible_to(self.request.user)
            .select_related("kpi__model")
            .prefetch_related("actions__actor")
        )
        wanted = self.request.query_params.get("state")
        return qs.filter(state=wanted) if wanted in KpiAlert.State.values else qs

    @extend_schema(request=KpiAlertActionRequestSerializer, responses=KpiAlertSerializer)
    @action(detail=True, methods=["post"], url_path="actions")
    def act(self, request, pk=None):
        data = KpiAlertActionRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = self.get_object()
        if not access.can_act_on_kpi_alert(request.user, alert):
            raise PermissionDenied("only the KPI's owner, the model's data scientists or IT may act on it")
        kpi_alert_act(user=request.user, alert=alert, **data.validated_data)
        return Response(KpiAlertSerializer(self.get_queryset().get(pk=alert.pk)).data)
