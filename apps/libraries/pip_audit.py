"""Import `pip-audit --format json` output: findings for a named model version, or a standalone
report. ``parse`` is pure; ``pip_audit_import`` stores."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from packaging.utils import canonicalize_name

from apps.accounts import access, limits
from apps.core.audit import audit_record
from apps.core.severity import Severity
from apps.libraries.matching import parse_version
from apps.libraries.models import Advisory, LibraryFinding, PipAuditReport
from apps.registry.selectors import versions_visible_to


@dataclass(frozen=True)
class Vulnerability:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]
    description: str


def parse(data) -> tuple[list[dict], list[Vulnerability]]:
    """pip-audit's JSON (``{"dependencies": [...]}``, or the bare list older releases wrote) into
    the audited dependencies and their vulnerabilities. Raises ValueError naming the bad field."""
    dependencies = data.get("dependencies") if isinstance(data, dict) else data
    if not isinstance(dependencies, list):
        raise ValueError("dependencies: expected a list (is this `pip-audit --format json` output?)")
    audited, found = [], []
    for i, dep in enumerate(dependencies):
        where = f"dependencies[{i}]"
        if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
            raise ValueError(f"{where}.name: missing or not a string")
        name = canonicalize_name(dep["name"])
        version = str(dep.get("version") or "")
        audited.append({"name": name, "version": version, "skip_reason": dep.get("skip_reason", "")})
        vulns = dep.get("vulns") or []
        if not isinstance(vulns, list):
            raise ValueError(f"{where}.vulns: expected a list")
        for j, vuln in enumerate(vulns):
            if not isinstance(vuln, dict) or not isinstance(vuln.get("id"), str) or not vuln["id"]:
                raise ValueError(f"{where}.vulns[{j}].id: missing or not a string")
            found.append(
                Vulnerability(
                    package=name,
                    version=version,
                    id=vuln["id"],
                    aliases=tuple(str(a) for a in vuln.get("aliases") or []),
                    fix_versions=tuple(str(v) for v in vuln.get("fix_versions") or []),
                    description=str(vuln.get("description") or ""),
                )
            )
    return audited, found


def _lowest(versions: tuple[str, ...]) -> str:
    parsed = [v for v in (parse_version(s) for s in versions) if v is not None]
    return str(min(parsed)) if parsed else ""


@transaction.atomic
def pip_audit_import(
    *, user, content: bytes, name: str = "", version_id: int | None = None
) -> PipAuditReport:
    """Store a report; each vulnerability becomes a finding (of the version, when one is named)."""
    version = None
    if version_id is not None:
        version = versions_visible_to(user).select_related("model__team").filter(pk=version_id).first()
        if version is None:
            raise ValidationError(
                {"version": f"model version {version_id} does not exist or is not yours to see"}
            )
    if version is not None and not (
        access.can_edit_model(user, version.model) or access.sees_every_model(user)
    ):
        raise PermissionDenied("only the model's data scientists or IT may attach a pip-audit report to it")
    if version is None and not access.can_upload_pip_audit(user):
        raise PermissionDenied("only data scientists and IT may upload pip-audit reports")
    try:
        data = limits.json_loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError({"report": f"not JSON: {exc}"}) from exc
    try:
        audited, vulnerabilities = parse(data)
    except ValueError as exc:
        raise ValidationError({"report": str(exc)}) from exc
    team = version.model.team if version is not None else access.first_team_of(user)
    report = PipAuditReport.objects.create(
        name=(name or (f"{version.model.name} v{version.number}" if version else "pip-audit report"))[:200],
        version=version,
        team=team,
        dependencies=audited,
        raw=data if isinstance(data, dict) else {"dependencies": data},
        uploaded_by=user,
    )
    known = _advisories_for(vulnerabilities)
    for vuln in vulnerabilities:
        advisory = known.get(vuln.id) or next((known[a] for a in vuln.aliases if a in known), None)
        LibraryFinding.objects.update_or_create(
            report=report,
            package=vuln.package,
            osv_id=vuln.id,
            defaults={
                "version": version,
                "advisory": advisory,
                "source": LibraryFinding.Source.PIP_AUDIT,
                "installed_version": vuln.version,
                "aliases": list(vuln.aliases),
                "severity": advisory.severity if advisory else Severity.UNKNOWN,
                "summary": (advisory.summary if advisory else "") or vuln.description[:500],
                "fixed_version": _lowest(vuln.fix_versions),
                "fix_note": "lowest of pip-audit's fix_versions, unchecked against the model's requirements",
            },
        )
    audit_record(
        actor=user,
        action="pip_audit.imported",
        obj=report,
        team=team,
        dependencies=len(audited),
        vulnerabilities=len(vulnerabilities),
    )
    return report


def _advisories_for(vulnerabilities: list[Vulnerability]) -> dict[str, Advisory]:
    ids = {v.id for v in vulnerabilities} | {a for v in vulnerabilities for a in v.aliases}
    return {a.osv_id: a for a in Advisory.objects.filter(osv_id__in=ids)}
