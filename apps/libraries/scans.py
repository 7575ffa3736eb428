"""Scan model versions' locks against the advisories: findings upserted (new ones notified once,
gone ones resolved), each with the lowest fixed version the model's other requirements allow."""

import importlib.metadata
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from apps.core.severity import Severity
from apps.libraries.matching import AdvisoryIndex, Constraint
from apps.libraries.models import Advisory, AffectedPackage, LibraryFinding
from apps.packaging.models import PackageBuild

_index_cache: dict = {"key": None, "index": None}
# A finding in one of these states belongs to a patch in progress: a scan never reopens or resolves it.
PATCH_STATES = {"approved", "revalidating", "ready", "deployed", "failed"}


def advisory_index() -> AdvisoryIndex:
    """The index of every advisory in the database, rebuilt only when the table changed."""
    key = (Advisory.objects.count(), Advisory.objects.aggregate(m=Max("updated_at"))["m"])
    if _index_cache["key"] != key:
        index = AdvisoryIndex()
        for osv_id, name, ranges, versions in AffectedPackage.objects.values_list(
            "advisory__osv_id", "name", "ranges", "versions"
        ).iterator(chunk_size=2000):
            index.add(osv_id, name, ranges, versions)
        _index_cache.update(key=key, index=index.build())
    return _index_cache["index"]


def latest_locks(version_ids=None):
    """Each version's newest successful package build: the lock that would be deployed."""
    newest = (
        PackageBuild.objects.filter(version=OuterRef("version"), status=PackageBuild.Status.SUCCEEDED)
        .order_by("-created_at", "-id")
        .values("id")[:1]
    )
    builds = PackageBuild.objects.filter(status=PackageBuild.Status.SUCCEEDED, id=Subquery(newest))
    if version_ids is not None:
        builds = builds.filter(version_id__in=version_ids)
    return builds.select_related("version__model__team")


@dataclass
class ScanSummary:
    versions: int = 0
    findings: int = 0
    created: int = 0
    resolved: int = 0
    new: list[int] = field(default_factory=list)


def library_scan(*, version_ids=None, notify: bool = True) -> ScanSummary:
    """Scan the latest locks (of the given versions, or of all) and upsert their findings."""
    index = advisory_index()
    advisories = {a.osv_id: a for a in Advisory.objects.only("osv_id", "aliases", "severity", "summary")}
    summary = ScanSummary()
    for build in latest_locks(version_ids):
        summary.versions += 1
        with transaction.atomic():
            _scan_build(build, index, advisories, summary)
    if notify and summary.new:
        from apps.libraries.notifications import findings_notify

        findings_notify(finding_ids=summary.new)
    return summary


def _scan_build(build: PackageBuild, index: AdvisoryIndex, advisories: dict, summary: ScanSummary) -> None:
    entries = [(e.get("name", ""), str(e.get("version", ""))) for e in build.lock_entries]
    wanted: dict[tuple[str, str], dict] = {}
    requirements = None
    for hit in index.scan(entries):
        if hit.invalid_version:
            wanted[(hit.package, "")] = {
                "kind": LibraryFinding.Kind.UNPARSABLE,
                "installed_version": hit.version,
                "summary": f"{hit.note}: the lock's version cannot be compared with any advisory",
                "severity": Severity.UNKNOWN,
                "fixed_version": "",
                "fix_note": "pin a PEP 440 version so the package can be checked",
            }
            continue
        requirements = requirements if requirements is not None else LockRequirements(build)
        constraints, assumed = requirements.on(hit.package)
        fix = index.lowest_fix(
            hit.package,
            hit.version,
            hit.advisories,
            constraints,
            prereleases=requirements.prereleases(hit.package),
        )
        note = "; ".join(n for n in (fix.note, hit.note, assumed) if n)
        for osv_id in hit.advisories:
            advisory = advisories.get(osv_id)
            wanted[(hit.package, osv_id)] = {
                "kind": LibraryFinding.Kind.ADVISORY,
                "advisory": advisory,
                "installed_version": hit.version,
                "aliases": advisory.aliases if advisory else [],
                "severity": advisory.severity if advisory else Severity.UNKNOWN,
                "summary": advisory.summary if advisory else "",
                "fixed_version": fix.version or "",
                "fix_note": note,
            }
    now = timezone.now()
    existing = {
        (f.package, f.osv_id): f
        for f in LibraryFinding.objects.select_for_update().filter(
            version_id=build.version_id, report__isnull=True, source=LibraryFinding.Source.SCAN
        )
    }
    for (package, osv_id), values in wanted.items():
        finding = existing.pop((package, osv_id), None)
        if finding is None:
            finding = LibraryFinding.objects.create(
                version_id=build.version_id, package_build=build, package=package, osv_id=osv_id, **values
            )
            summary.created += 1
            summary.new.append(finding.pk)
        else:
            for name, value in values.items():
                setattr(finding, name, value)
            finding.package_build, finding.last_seen = build, now
            if finding.status == LibraryFinding.Status.RESOLVED:
                finding.status, finding.resolved_at = LibraryFinding.Status.OPEN, None
            finding.save()
        summary.findings += 1
    for finding in existing.values():
        if finding.status == LibraryFinding.Status.OPEN:
            finding.status, finding.resolved_at = LibraryFinding.Status.RESOLVED, now
            finding.save(update_fields=["status", "resolved_at"])
            summary.resolved += 1


class LockRequirements:
    """What the model's other packages require of each locked package: from requirements recorded
    in the lock entry (``requires``), else from the distribution installed here at exactly the locked
    version; the model's declared requirements count too (exact pins of the package itself do not:
    they are what a patch changes)."""

    def __init__(self, build: PackageBuild):
        self.by_target: dict[str, list[Constraint]] = {}
        self.unknown: list[str] = []
        # Pre-releases only when the model asks, as pip would take them: ``--pre`` in its declared
        # requirements, or a declared specifier that names one (``torch>=2.5.0rc1``).
        self.all_prereleases = False
        self.prereleases_for: set[str] = set()
        for entry in build.lock_entries:
            name, version = canonicalize_name(entry.get("name", "")), str(entry.get("version", ""))
            lines = entry.get("requires")
            if lines is None:
                lines = _installed_requires(name, version)
            if lines is None:
                self.unknown.append(name)
                continue
            for line in lines:
                self._add(line, f"{name}=={version} requires")
        for line in (build.version.requirements or "").splitlines():
            line = line.split("#")[0].strip()
            if line == "--pre":
                self.all_prereleases = True
            self._add(line, "declared", skip_exact=True)

    def _add(self, line: str, source: str, skip_exact: bool = False) -> None:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            return
        if req.marker is not None:
            try:
                if not req.marker.evaluate({"extra": ""}):
                    return
            except Exception:  # noqa: BLE001 - an unevaluable marker says nothing we can use
                return
        specs = list(req.specifier)
        if source == "declared" and any(_names_prerelease(s.version) for s in specs):
            self.prereleases_for.add(canonicalize_name(req.name))
        if not specs or (skip_exact and len(specs) == 1 and specs[0].operator in ("==", "===")):
            return
        self.by_target.setdefault(canonicalize_name(req.name), []).append(
            Constraint(source, SpecifierSet(str(req.specifier)))
        )

    def prereleases(self, package: str) -> bool:
        return self.all_prereleases or canonicalize_name(package) in self.prereleases_for

    def on(self, package: str) -> tuple[list[Constraint], str]:
        constraints = self.by_target.get(canonicalize_name(package), [])
        others = [n for n in self.unknown if n != package]
        if not others:
            return constraints, ""
        sample = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
        return constraints, (
            f"assumed: the requirements of {len(others)} other locked package(s) ({sample}) are not "
            f"recorded in the lock nor installed here at their locked versions, so they are taken to "
            f"accept any version of {package}"
        )


def _names_prerelease(text: str) -> bool:
    try:
        return Version(text.removesuffix(".*")).is_prerelease
    except InvalidVersion:
        return False


def _installed_requires(name: str, version: str) -> list[str] | None:
    try:
        dist = importlib.metadata.distribution(name)
        if Version(dist.version) != Version(version):
            return None
    except (importlib.metadata.PackageNotFoundError, InvalidVersion):
        return None
    return list(dist.requires or [])


def library_scan_enqueue(*, trigger: str, version_ids=None) -> None:
    """Queue a scan after the current transaction commits."""
    from apps.libraries.tasks import scan_locks

    ids = list(version_ids) if version_ids is not None else None
    transaction.on_commit(lambda: scan_locks.delay(version_ids=ids, trigger=trigger))
