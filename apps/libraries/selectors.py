"""Reads for the library pages and API: findings with the deployments they affect."""

import csv
import io

from django.db.models import Prefetch, QuerySet

from apps.accounts import access
from apps.core.severity import SEVERITY_RANK
from apps.deployments.models import Deployment
from apps.libraries.models import Advisory, LibraryFinding

LIVE = (Deployment.Status.LIVE, Deployment.Status.ROLLING_OUT, Deployment.Status.PENDING_APPROVAL)


def findings_for(user) -> QuerySet:
    """The user's findings with what the list needs, deployments prefetched (no N+1)."""
    deployments = Deployment.objects.filter(status__in=LIVE).select_related("endpoint__environment")
    return (
        access.library_findings_visible_to(user)
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
