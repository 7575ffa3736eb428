"""Reads for the library pages and API: findings with the deployments they affect."""

import csv
import io

from django.db.models import Prefetch, Q, QuerySet

from apps.accounts import access
from apps.core.severity import SEVERITY_RANK
from apps.deployments.models import Deployment
from apps.libraries.models import Advisory, LibraryFinding, PipAuditReport
from apps.registry.selectors import versions_visible_to

LIVE = (Deployment.Status.LIVE, Deployment.Status.ROLLING_OUT, Deployment.Status.PENDING_APPROVAL)


def library_findings_visible_to(user) -> QuerySet:
    """Library findings: all for IT and admins; otherwise those of the model versions the user may
    see, and of standalone pip-audit reports of their teams or their own upload."""
    qs = LibraryFinding.objects.all()
    if access.sees_every_model(user):
        return qs
    if not user.is_authenticated or not access.roles_of(user):
        return qs.none()
    return qs.filter(
        Q(version__in=versions_visible_to(user).values("id"))
        | Q(version__isnull=True, report__team__in=access.team_ids_of(user))
        | Q(version__isnull=True, report__uploaded_by=user)
    )


def pip_audit_reports_visible_to(user) -> QuerySet:
    qs = PipAuditReport.objects.all()
    if access.sees_every_model(user):
        return qs
    if not user.is_authenticated or not access.roles_of(user):
        return qs.none()
    return qs.filter(
        Q(version__in=versions_visible_to(user).values("id"))
        | Q(version__isnull=True, team__in=access.team_ids_of(user))
        | Q(uploaded_by=user)
    )


def findings_for(user) -> QuerySet:
    """The user's findings with what the list needs, deployments prefetched (no N+1)."""
    deployments = Deployment.objects.filter(status__in=LIVE).select_related("endpoint__environment")
    return (
        library_findings_visible_to(user)
        .select_related("version__model__team", "report__team", "advisory")
        .prefetch_related(Prefetch("version__deployments", queryset=deployments, to_attr="live_deployments"))
    )


def advisory_for_page(osv_id: str) -> Advisory | None:
    """Advisories are public text: every library viewer reads any of them (not their findings)."""
    return Advisory.objects.filter(osv_id=osv_id[:100]).prefetch_related("affected").first()


def advisory_findings_for(user, advisory: Advisory) -> list[LibraryFinding]:
    """The findings of one advisory in what the user may see: every team's for IT, else their own."""
    return severity_order(findings_for(user).filter(osv_id=advisory.osv_id).exclude(status="resolved"))


def affected_deployments(finding: LibraryFinding) -> list[dict]:
    """The live (or about to be) deployments of the finding's version, production first."""
    if finding.version is None:
        return []
    found = getattr(finding.version, "live_deployments", None)
    if found is None:
        found = finding.version.deployments.filter(status__in=LIVE).select_related("endpoint__environment")
    ordered = sorted(
        found,
        key=lambda d: (
            d.endpoint.environment.name != "production",
            not d.endpoint.environment.requires_approval,
            -d.endpoint.environment.order,
            d.endpoint.name,
        ),
    )
    return [
        {
            "id": d.pk,
            "endpoint": d.endpoint.name,
            "environment": d.endpoint.environment.name,
            "role": d.role,
            "status": d.status,
        }
        for d in ordered
    ]


def severity_order(findings) -> list:
    return sorted(findings, key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.package, f.osv_id))


CSV_COLUMNS = [
    "team",
    "model",
    "version",
    "package",
    "installed_version",
    "advisory",
    "aliases",
    "severity",
    "fixed_version",
    "status",
    "deployments",
    "summary",
]


def findings_csv(findings) -> str:
    """CSV of findings, one row each, deployments as ``endpoint@environment`` production first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for f in findings:
        version = f.version
        writer.writerow(
            [
                (
                    version.model.team.name
                    if version
                    else (f.report.team.name if f.report and f.report.team else "")
                ),
                version.model.name if version else (f.report.name if f.report else ""),
                version.number if version else "",
                f.package,
                f.installed_version,
                f.osv_id or f.kind,
                " ".join(f.aliases),
                f.severity,
                f.fixed_version,
                f.status,
                " ".join(f"{d['endpoint']}@{d['environment']}" for d in affected_deployments(f)),
                f.summary.replace("\n", " ")[:500],
            ]
        )
    return out.getvalue()
