from django.urls import include, path
from rest_framework.routers import DefaultRouter

from apps.accounts.api.views import TeamViewSet, me, server, token_obtain
from apps.deployments.api.views import DeploymentViewSet, EndpointViewSet
from apps.jobs.api.views import JobViewSet
from apps.kpis.api.views import KpiAlertViewSet, KpiViewSet
from apps.libraries.api.views import (
    AdvisoryViewSet,
    ImportRunViewSet,
    LibraryExceptionViewSet,
    LibraryFindingViewSet,
    LibraryRuleViewSet,
    PipAuditReportViewSet,
)
from apps.monitoring.api.views import AlertViewSet, CheckRunViewSet, FindingViewSet, MonitorViewSet
from apps.notices.api.views import NoticeViewSet
from apps.packaging.api.views import PackageBuildViewSet
from apps.registry.api.views import AuditEventViewSet, ModelVersionViewSet, RegisteredModelViewSet
from apps.serving.api.batch import BatchJobViewSet
from apps.serving.api.views import outcomes
from apps.sla.api.views import endpoint_slo, sla_series, sla_workers

router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("models", RegisteredModelViewSet, basename="model")
router.register("versions", ModelVersionViewSet, basename="version")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("jobs", JobViewSet, basename="job")
router.register("packages", PackageBuildViewSet, basename="package")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("endpoints", EndpointViewSet, basename="endpoint")
router.register("monitors", MonitorViewSet, basename="monitor")
router.register("check-runs", CheckRunViewSet, basename="check-run")
router.register("findings", FindingViewSet, basename="finding")
router.register("alerts", AlertViewSet, basename="alert")
router.register("batch-jobs", BatchJobViewSet, basename="batch-job")
router.register("advisories", AdvisoryViewSet, basename="advisory")
router.register("advisory-imports", ImportRunViewSet, basename="advisory-import")
router.register("library-findings", LibraryFindingViewSet, basename="library-finding")
router.register("library-rules", LibraryRuleViewSet, basename="library-rule")
router.register("library-exceptions", LibraryExceptionViewSet, basename="library-exception")
router.register("pip-audit-reports", PipAuditReportViewSet, basename="pip-audit-report")
router.register("kpis", KpiViewSet, basename="kpi")
router.register("kpi-alerts", KpiAlertViewSet, basename="kpi-alert")
router.register("notices", NoticeViewSet, basename="notice")

app_name = "api"
urlpatterns = [
    path("me/", me, name="me"),
    path("server/", server, name="server"),
    path("outcomes/", outcomes, name="outcomes"),
    path("sla/", sla_series, name="sla-series"),
    path("sla/workers/", sla_workers, name="sla-workers"),
    path("endpoints/<int:pk>/slo/", endpoint_slo, name="endpoint-slo"),
    path("auth/token/", token_obtain, name="token-obtain"),
    path("", include(router.urls)),
]
