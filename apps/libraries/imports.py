"""Import OSV advisories: idempotent, incremental by `modified`, withdrawn advisories dropped,
malformed ones reported by file and field and skipped. A run that changed anything queues a scan
of every model version's lock."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from apps.core.audit import audit_record
from apps.core.severity import SEVERITY_RANK, Severity
from apps.libraries import cvss, osv
from apps.libraries.models import Advisory, AffectedPackage, ImportRun, SeveritySource

BATCH = 500  # advisories written per bulk statement


def advisories_import(
    *, sources: Iterable[tuple[str, bytes]], source: str, user=None, scan: bool = True
) -> ImportRun:
    """Read every (file name, bytes) and bring the advisory table up to date with them."""
    run = ImportRun.objects.create(source=source[:500], started_by=_user_or_none(user))
    known = dict(Advisory.objects.values_list("osv_id", "modified"))
    latest: dict[str, osv.Advisory] = {}  # the newest copy of each id in this import
    problems: list[dict] = []
    try:
        for name, content in sources:
            run.files_seen += 1
            advisory, found = osv.load(name, content)
            problems.extend(p.as_dict() for p in found)
            if advisory is None:
                run.skipped += 1
                continue
            previous = latest.get(advisory.id)
            if previous is None or advisory.modified > previous.modified:
                latest[advisory.id] = advisory
    except (ValueError, OSError) as exc:  # an unreadable archive: nothing is changed
        run.status, run.error, run.problems = ImportRun.Status.FAILED, str(exc), problems
        run.finished_at = timezone.now()
        run.save()
        return run

    with transaction.atomic():
        changed = _apply(run, latest, known, problems)
        changed = advisories_rate_from_aliases() or changed
        run.problems = problems
        run.status = ImportRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        run.save()
        audit_record(
            actor=user,
            action="advisories.imported",
            obj=run,
            source=run.source,
            created=run.created,
            updated=run.updated,
            unchanged=run.unchanged,
            withdrawn=run.withdrawn,
            skipped=run.skipped,
        )
        if changed and scan:
            from apps.libraries.scans import library_scan_enqueue

            library_scan_enqueue(trigger=f"import #{run.pk}")
    return run


def _apply(run: ImportRun, latest: dict[str, osv.Advisory], known: dict, problems: list[dict]) -> bool:
    withdrawn = [a.id for a in latest.values() if a.withdrawn is not None]
    run.withdrawn = len(withdrawn)
    Advisory.objects.filter(osv_id__in=withdrawn).delete()  # findings keep the id; their FK is nulled
    fresh = [a for a in latest.values() if a.withdrawn is None]
    to_create = [a for a in fresh if a.id not in known]
    to_update = [a for a in fresh if a.id in known and a.modified > known[a.id]]
    run.unchanged = len(fresh) - len(to_create) - len(to_update)
    run.created, run.updated = len(to_create), len(to_update)
    if to_update:
        Advisory.objects.filter(osv_id__in=[a.id for a in to_update]).delete()
    rows = [_row(a, problems) for a in to_create + to_update]
    for start in range(0, len(rows), BATCH):
        saved = Advisory.objects.bulk_create(rows[start : start + BATCH])
        parsed = (to_create + to_update)[start : start + BATCH]
        AffectedPackage.objects.bulk_create(
            AffectedPackage(
                advisory=row,
                name=affected.name,
                ranges=[i.as_dict() for i in affected.intervals],
                versions=affected.versions,
            )
            for row, advisory in zip(saved, parsed, strict=True)
            for affected in advisory.affected
        )
    return bool(run.created or run.updated or withdrawn)


def _row(advisory: osv.Advisory, problems: list[dict]) -> Advisory:
    rating, errors = cvss.worst(advisory.vectors)
    problems.extend(
        osv.Problem(advisory.file, "severity", f"{e}: severity left unknown", "warning").as_dict()
        for e in errors
    )
    if rating:
        severity, source, detail = rating.severity, SeveritySource.CVSS, rating.vector
    elif found := cvss.stated(advisory.stated):
        (severity, field), source = found, SeveritySource.DATABASE
        detail = f"{field}: {dict(advisory.stated)[field]}"
    else:
        severity, source, detail = Severity.UNKNOWN, SeveritySource.NONE, ""
    return Advisory(
        osv_id=advisory.id,
        aliases=advisory.aliases,
        summary=advisory.summary or advisory.details.strip().split("\n")[0][:300],
        details=advisory.details,
        severity=severity,
        severity_source=source,
        severity_detail=detail[:200],
        cvss_vector=rating.vector if rating else "",
        cvss_score=rating.score if rating else None,
        published=advisory.published,
        modified=advisory.modified,
        references=advisory.references,
        source=advisory.file[:500],
        raw=advisory.raw,
    )


def advisories_rate_from_aliases() -> bool:
    """An advisory without a severity of its own takes the worst one among the imported advisories
    it names as aliases or that name it (PYSEC-2021-66 and GHSA-g3rq-g295-4j3m are one flaw).
    Re-run after every import, as either copy may arrive first. True when any severity changed."""
    rows = list(Advisory.objects.only("osv_id", "aliases", "severity", "severity_source", "severity_detail"))
    own = {a.osv_id: a for a in rows if a.severity_source in (SeveritySource.CVSS, SeveritySource.DATABASE)}
    by_alias: dict[str, list[Advisory]] = {}
    for advisory in own.values():
        for name in (advisory.osv_id, *advisory.aliases):
            by_alias.setdefault(name, []).append(advisory)
    changed = []
    for advisory in rows:
        if advisory.osv_id in own:
            continue
        related = {a.osv_id: a for n in (advisory.osv_id, *advisory.aliases) for a in by_alias.get(n, [])}
        related.pop(advisory.osv_id, None)
        best = max(related.values(), key=lambda a: (SEVERITY_RANK[a.severity], a.osv_id), default=None)
        if best is None:
            wanted = (Severity.UNKNOWN, SeveritySource.NONE, "")
        else:
            wanted = (
                best.severity,
                SeveritySource.ALIAS,
                f"{best.osv_id} ({best.get_severity_source_display()})",
            )
        if (advisory.severity, advisory.severity_source, advisory.severity_detail) != wanted:
            advisory.severity, advisory.severity_source, advisory.severity_detail = wanted
            advisory.updated_at = timezone.now()
            changed.append(advisory)
    Advisory.objects.bulk_update(
        changed, ["severity", "severity_source", "severity_detail", "updated_at"], batch_size=BATCH
    )
    return bool(changed)


def advisories_import_path(*, path: str, user=None, scan: bool = True) -> ImportRun:
    """From a directory or a .zip/.tar.gz archive on disk (the management command)."""
    return advisories_import(sources=osv.read_sources(path), source=str(path), user=user, scan=scan)


def _user_or_none(user):
    return user if user is not None and user.is_authenticated else None
