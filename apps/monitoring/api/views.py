"""Monitoring API: monitors (read, PATCH config), check runs (read, POST to run now), findings and
alerts (read, POST a person's action). Every queryset comes from apps.accounts.access."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts import access
from apps.monitoring import services
from apps.monitoring.actions import alert_act, can_act_on_alert
from apps.monitoring.api.serializers import (
    AlertActionRequestSerializer,
    AlertSerializer,
    CheckRunRequestSerializer,
    CheckRunSerializer,
    ExplainRequestSerializer,
    FindingSerializer,
    MonitorSerializer,
    MonitorUpdateSerializer,
    SliceAnalysisSerializer,
)
from apps.monitoring.filters import AlertFilter, CheckRunFilter, FindingFilter, MonitorFilter
from apps.monitoring.models import Alert, CheckRun, Finding, Monitor, SliceAnalysis
from apps.monitoring.selectors import (
    alerts_visible_to,
    check_runs_visible_to,
    findings_visible_to,
    monitors_visible_to,
)


class MonitorViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Monitors of live deployments. PATCH ``config`` (top-level keys replace) or ``enabled``;
    only the model's data scientists may."""

    queryset = Monitor.objects.none()
    serializer_class = MonitorSerializer
    filterset_class = MonitorFilter

    def get_queryset(self):
        return (
            monitors_visible_to(self.request.user)
            .select_related(
                "deployment__endpoint__environment",
                "deployment__version__model",
                "template",
                "baseline_set_by",
            )
            .annotate(open_alerts=Count("alerts", filter=~Q(alerts__state=Alert.State.RESOLVED)))
        )

    @extend_schema(request=MonitorUpdateSerializer, responses=MonitorSerializer)
    def partial_update(self, request, *args, **kwargs):
        data = MonitorUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        monitor = services.monitor_update(user=request.user, monitor=self.get_object(), **data.validated_data)
        return Response(MonitorSerializer(self.get_queryset().get(pk=monitor.pk)).data)


class CheckRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Check runs. POST ``{monitor, window, end?}`` runs one now: 202 with the run and its job."""

    queryset = CheckRun.objects.none()
    serializer_class = CheckRunSerializer
    filterset_class = CheckRunFilter

    def get_queryset(self):
        return check_runs_visible_to(self.request.user).select_related("requested_by")

    @extend_schema(request=CheckRunRequestSerializer, responses={202: CheckRunSerializer})
    def create(self, request, *args, **kwargs):
        data = CheckRunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        monitor = get_object_or_404(monitors_visible_to(request.user), pk=values["monitor"])
        if not services.can_edit_monitor(request.user, monitor) and not access.sees_every_model(request.user):
            raise PermissionDenied("only the model's data scientists or IT may run its checks")
        from apps.monitoring.runs import check_run_enqueue  # imports the statistics only when asked

        run = check_run_enqueue(
            monitor=monitor,
            window=values["window"],
            end=values.get("end"),
            trigger="manual",
            user=request.user,
        )
        return Response(CheckRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class FindingViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Finding.objects.none()
    serializer_class = FindingSerializer
    filterset_class = FindingFilter

    def get_queryset(self):
        return findings_visible_to(self.request.user)


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts. POST ``{action, reason}`` to ``/alerts/{id}/actions/``: acknowledge, resolve,
    request_retraining, rollback, retire or rebaseline (a reason is required but to acknowledge)."""

    queryset = Alert.objects.none()
    serializer_class = AlertSerializer
    filterset_class = AlertFilter

    def get_queryset(self):
        return (
            alerts_visible_to(self.request.user)
            .select_related("monitor__deployment__version__model", "monitor__deployment__endpoint")
            .prefetch_related("actions__actor")
        )

    @extend_schema(request=AlertActionRequestSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"], url_path="actions")
    def act(self, request, pk=None):
        data = AlertActionRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = self.get_object()
        alert_act(user=request.user, alert=alert, **data.validated_data)
        return Response(AlertSerializer(self.get_queryset().get(pk=alert.pk)).data)

    @extend_schema(methods=["GET"], responses={200: SliceAnalysisSerializer(many=True)})
    @extend_schema(
        methods=["POST"], request=ExplainRequestSerializer, responses={202: SliceAnalysisSerializer}
    )
    @action(detail=True, methods=["get", "post"], url_path="explanations", pagination_class=None)
    def explanations(self, request, pk=None):
        """GET: the alert's root-cause analyses, newest first. POST ``{}`` explains the alert's latest
        window again; ``{"parent": id, "within": index}`` drills into one explanation of an analysis
        (or ``{"within": {"conditions": [...]}}`` into any slice): 202 with the analysis and its job."""
        alert = self.get_object()
        if request.method == "GET":
            analyses = alert.slice_analyses.select_related("requested_by").order_by("-created_at", "-id")
            return Response(SliceAnalysisSerializer(analyses, many=True).data)
        if not can_act_on_alert(request.user, alert):
            raise PermissionDenied("only the model's data scientists or IT may start an analysis")
        data = ExplainRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        from apps.monitoring.explain import explain_drill_down, explain_enqueue

        values = data.validated_data
        parent = None
        if "parent" in values:
            parent = alert.slice_analyses.filter(pk=values["parent"]).first()
            if parent is None:
                raise ValidationError({"parent": f"analysis {values['parent']} is not one of this alert's"})
        if "within" in values:
            within = values["within"]
            analysis = explain_drill_down(alert=alert, parent=parent, within=within, user=request.user)
        elif parent is not None:
            raise ValidationError({"within": "say which explanation of the parent to drill into"})
        else:
            analysis = explain_enqueue(alert=alert, user=request.user)
        return Response(SliceAnalysisSerializer(analysis).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=SliceAnalysisSerializer)
    @action(detail=True, methods=["get"], url_path=r"explanations/(?P<analysis_id>\d+)")
    def explanation(self, request, pk=None, analysis_id=None):
        analysis = get_object_or_404(SliceAnalysis, alert=self.get_object(), pk=analysis_id)
        return Response(SliceAnalysisSerializer(analysis).data)
