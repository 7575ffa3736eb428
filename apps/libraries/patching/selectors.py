"""Reads for the library page and patch pages, scoped the way apps.accounts.access scopes versions:
IT operators and admins see every model's findings and patches, data scientists their teams'
(read-only), nobody else any."""

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.severity import SEVERITY_RANK
from apps.deployments.models import Deployment
from apps.libraries.models import LibraryFinding, PatchRequest

FILTERS = ("severity", "package", "status", "team", "model")
# Production first, then the other environments in their own order.
_ENVIRONMENT_ORDER = {"production": 0}


def may_see_libraries(user) -> bool:
    return access.has_role(user, Role.IT_OPERATOR, Role.ADMIN, Role.DATA_SCIENTIST)


def may_approve(user) -> bool:
    return access.has_role(user, Role.IT_OPERATOR, Role.ADMIN)


def _visible_versions(user) -> QuerySet:
    from apps.registry.models import ModelVersion

    if not may_see_libraries(user):
        return ModelVersion.objects.none()
    if access.sees_every_model(user):
        return ModelVersion.objects.all()
    return ModelVersion.objects.filter(model__team__in=access.team_ids_of(user))


def findings_for_page(user, params) -> QuerySet:
    """Findings in model versions' locks, filtered by the page's query parameters."""
    live = Deployment.objects.filter(
        status__in=(Deployment.Status.LIVE, Deployment.Status.ROLLING_OUT, Deployment.Status.PENDING_APPROVAL)
    ).select_related("endpoint__environment")
    qs = (
        LibraryFinding.objects.filter(version__in=_visible_versions(user).values("id"), report__isnull=True)
        .select_related("version__model__team", "advisory")
        .prefetch_related(
            Prefetch("version__deployments", queryset=live, to_attr="open_deployments"),
            Prefetch(
                "patch_requests",
                queryset=PatchRequest.objects.select_related("resulting_version").order_by("-approved_at"),
                to_attr="patches",
            ),
        )
    )
    if params.get("severity"):
        qs = qs.filter(severity=params["severity"])
    if params.get("package"):
        qs = qs.filter(package__icontains=params["package"].strip())
    if params.get("status"):
        qs = qs.filter(status=params["status"])
    else:
        qs = qs.exclude(status=LibraryFinding.Status.RESOLVED)
    if params.get("team"):
        qs = qs.filter(version__model__team__slug=params["team"])
    if params.get("model"):
        qs = qs.filter(Q(version__model__name__icontains=params["model"].strip()))
    order = ("version__model__team__name", "version__model__name", "-version__number", "package", "id")
    return qs.order_by(*order)


def sorted_findings(findings) -> list[LibraryFinding]:
    """Attach what the template shows: the version's deployments (production first) and the
    finding's latest patch."""
    rows = list(findings)
    for finding in rows:
        deployments = getattr(finding.version, "open_deployments", [])
        finding.deployments_shown = sorted(deployments, key=_production_first)
        finding.latest_patch = finding.patches[0] if getattr(finding, "patches", None) else None
        finding.severity_rank = SEVERITY_RANK.get(finding.severity, 0)
    return rows


def _production_first(deployment) -> tuple:
    return (_ENVIRONMENT_ORDER.get(deployment.endpoint.environment.name, 1), deployment.endpoint.name)


def summary(findings: list[LibraryFinding]) -> dict:
    by_status: dict[str, int] = {}
    for finding in findings:
        by_status[finding.status] = by_status.get(finding.status, 0) + 1
    return {
        "findings": len(findings),
        "versions": len({f.version_id for f in findings}),
        "packages": len({f.package for f in findings}),
        "by_status": by_status,
    }


def patch_for_user(user, pk: int) -> PatchRequest:
    return get_object_or_404(
        PatchRequest.objects.filter(version__in=_visible_versions(user).values("id")).select_related(
            "version__model__team", "resulting_version", "approved_by", "job"
        ),
        pk=pk,
    )


def patches_for_page(user, limit: int = 20) -> QuerySet:
    return (
        PatchRequest.objects.filter(version__in=_visible_versions(user).values("id"))
        .select_related("version__model__team", "resulting_version", "approved_by", "job")
        .order_by("-approved_at")[:limit]
    )


def open_finding_count(user) -> dict:
    """The IT home tile: open findings and affected versions."""
    qs = LibraryFinding.objects.filter(
        version__in=_visible_versions(user).values("id"),
        report__isnull=True,
        status__in=(LibraryFinding.Status.OPEN, LibraryFinding.Status.FAILED),
    )
    return {"findings": qs.count(), "versions": qs.values("version_id").distinct().count()}


def pip_audits_for_page(user, limit: int = 10):
    """Recent pip-audit reports: IT sees all, data scientists their teams'."""
    from django.db.models import Count

    from apps.libraries.models import PipAuditReport

    if not may_see_libraries(user):
        return PipAuditReport.objects.none()
    qs = PipAuditReport.objects.all()
    if not access.sees_every_model(user):
        qs = qs.filter(team__in=access.team_ids_of(user))
    return qs.select_related("version__model", "uploaded_by").annotate(n=Count("findings"))[:limit]
