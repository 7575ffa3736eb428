"""The library pages: models × vulnerable libraries for IT (filters, bulk approval, CSV, uploads),
the same list read-only for a team's data scientists, and a patch request's progress and parity."""

import csv
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts import access, page_cache
from apps.core.pages import error_text
from apps.core.severity import Severity
from apps.libraries import selectors as advisory_selectors
from apps.libraries.models import LibraryFinding, PatchRequest
from apps.libraries.patching import selectors
from apps.libraries.patching.services import (
    patch_approve_all,
    patch_approve_findings,
    patch_sync_deployed,
)
from apps.registry.selectors import versions_visible_to

MAX_UPLOAD_BYTES = 50 * 1024**2


def _require_viewer(user) -> None:
    if not selectors.may_see_libraries(user):
        raise Http404("the library page is for IT operators and data scientists")


def _filters(request) -> dict:
    return {key: request.GET.get(key, "").strip() for key in selectors.FILTERS}


@login_required
@page_cache.cached_page()
def library_page(request):
    _require_viewer(request.user)
    patch_sync_deployed()
    filters = _filters(request)
    findings = selectors.sorted_findings(selectors.findings_for_page(request.user, filters))
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(
        request,
        "libraries/page.html",
        {
            "findings": findings,
            "summary": selectors.summary(findings),
            "filters": filters,
            "query": query,
            "severities": Severity.values,
            "statuses": LibraryFinding.Status.values,
            "teams": access.teams_visible_to(request.user).order_by("name"),
            "packages": sorted({f.package for f in findings if f.fixed_version}),
            "patches": selectors.patches_for_page(request.user),
            "pip_audits": selectors.pip_audits_for_page(request.user),
            "can_approve": selectors.may_approve(request.user),
        },
    )


@login_required
@require_POST
def approve(request):
    """Bulk approval: the checked findings, each upgraded to its fixed version."""
    ids = [int(v) for v in request.POST.getlist("finding") if v.isdigit()]
    try:
        made, refused = patch_approve_findings(user=request.user, finding_ids=ids)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return redirect("libraries:page")
    _report(request, made, refused)
    return redirect("libraries:page")


@login_required
@require_POST
def approve_all(request):
    """Approve one package's upgrade for every model version with an open finding for it."""
    try:
        made = patch_approve_all(
            user=request.user,
            package=request.POST.get("package", ""),
            target_version=request.POST.get("target_version", ""),
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return redirect("libraries:page")
    _report(request, made, [])
    return redirect("libraries:page")


def _report(request, made: list[PatchRequest], refused: list[str]) -> None:
    if made:
        names = ", ".join(
            f"{p.package} {p.from_version} → {p.target_version} in {p.version.model.name} v{p.version.number}"
            for p in made
        )
        messages.success(request, f"Approved {len(made)} patch(es), re-validation queued: {names}.")
    for reason in refused:
        messages.error(request, f"Not approved: {reason}")


@login_required
def export_csv(request):
    """The page's rows (same filters) as CSV."""
    _require_viewer(request.user)
    findings = selectors.sorted_findings(selectors.findings_for_page(request.user, _filters(request)))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="library-findings.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
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
            "patched_version",
            "summary",
        ]
    )
    for f in findings:
        patch = f.latest_patch
        writer.writerow(
            [
                f.version.model.team.slug,
                f.version.model.name,
                f.version.number,
                f.package,
                f.installed_version,
                f.osv_id or f.kind,
                " ".join(f.aliases),
                f.severity,
                f.fixed_version,
                f.status,
                " ".join(f"{d.endpoint.name}@{d.endpoint.environment.name}" for d in f.deployments_shown),
                patch.resulting_version.number if patch and patch.resulting_version else "",
                f.summary,
            ]
        )
    return response


@login_required
def advisory_detail(request, osv_id: str):
    """One advisory as imported: its text, severity and where it came from, ranges, references, and
    the findings it caused in the models this user may see."""
    _require_viewer(request.user)
    advisory = advisory_selectors.advisory_for_page(osv_id)
    if advisory is None:
        raise Http404(f"no advisory {osv_id} has been imported")
    return render(
        request,
        "libraries/advisory_detail.html",
        {
            "advisory": advisory,
            "affected": advisory.affected.all(),
            "findings": advisory_selectors.advisory_findings_for(request.user, advisory),
            "raw": json.dumps(advisory.raw, indent=2, sort_keys=True),
        },
    )


@login_required
def patch_detail(request, pk: int):
    _require_viewer(request.user)
    patch_sync_deployed()
    patch = selectors.patch_for_user(request.user, pk)
    details = patch.differences or {}
    return render(
        request,
        "libraries/patch_detail.html",
        {
            "patch": patch,
            "job": patch.job,
            "findings": patch.findings.select_related("advisory").order_by("osv_id"),
            "parity": details.get("parity"),
            "details": details,
            "can_deploy": patch.status == PatchRequest.Status.READY
            and patch.resulting_version is not None
            and access.can_change_stage(request.user, patch.resulting_version.model),
        },
    )


@login_required
def patch_status(request, pk: int):
    """The patch card alone, polled by the detail page until the run ends."""
    _require_viewer(request.user)
    patch = selectors.patch_for_user(request.user, pk)
    return render(request, "libraries/_patch_status.html", {"patch": patch, "job": patch.job})


@login_required
@require_POST
def advisories_upload(request):
    """IT imports OSV advisories from an uploaded .zip / .tar.gz / .json / .yaml file."""
    if not selectors.may_approve(request.user):
        raise PermissionDenied("only an IT operator can import advisories")
    upload = request.FILES.get("archive")
    if upload is None:
        messages.error(request, "archive: choose a .zip, .tar.gz, .json or .yaml file of OSV advisories")
        return redirect("libraries:page")
    if upload.size > MAX_UPLOAD_BYTES:
        messages.error(request, f"archive: {upload.name} is larger than {MAX_UPLOAD_BYTES // 1024**2} MB")
        return redirect("libraries:page")
    from apps.libraries.imports import advisories_import
    from apps.libraries.osv import load_bytes_archive

    run = advisories_import(
        sources=load_bytes_archive(upload.name, upload.read()),
        source=f"upload:{upload.name}",
        user=request.user,
    )
    if run.status != run.Status.SUCCEEDED:
        messages.error(request, f"archive: {upload.name} could not be read: {run.error}")
    else:
        shown = "; ".join(f"{p['file']}: {p['field']}: {p['message']}" for p in run.problems[:5])
        messages.success(
            request,
            f"Imported {upload.name}: {run.created} new, {run.updated} updated, {run.unchanged} unchanged, "
            f"{run.withdrawn} withdrawn, {run.skipped} skipped"
            + (f" ({len(run.problems)} problem(s): {shown})" if run.problems else "")
            + ". A scan of every lock is queued.",
        )
    return redirect("libraries:page")


@login_required
@require_POST
def pip_audit_upload(request):
    """IT imports a ``pip-audit --format json`` report, for a model version or on its own."""
    if not selectors.may_approve(request.user):
        raise PermissionDenied("only an IT operator can import pip-audit reports")
    upload = request.FILES.get("report")
    if upload is None or upload.size > MAX_UPLOAD_BYTES:
        messages.error(request, "report: choose the JSON file pip-audit wrote (at most 50 MB)")
        return redirect("libraries:page")
    from apps.libraries import pip_audit

    version_id = request.POST.get("version", "").strip()
    version = None
    if version_id:
        version = versions_visible_to(request.user).filter(pk=version_id if version_id.isdigit() else 0)
        version = version.select_related("model__team").first()
        if version is None:
            messages.error(request, f"version: there is no model version #{version_id}")
            return redirect("libraries:page")
    try:
        report = pip_audit.pip_audit_import(
            user=request.user,
            content=upload.read(),
            name=request.POST.get("name", "").strip() or upload.name,
            version_id=version.pk if version else None,
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return redirect("libraries:page")
    messages.success(
        request,
        f"Imported the pip-audit report {report.name}: {report.findings.count()} finding(s).",
    )
    return redirect(reverse("libraries:page"))
