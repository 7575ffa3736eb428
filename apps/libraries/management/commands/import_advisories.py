from django.core.management.base import BaseCommand, CommandError

from apps.libraries.imports import advisories_import_path


class Command(BaseCommand):
    help = (
        "Import OSV advisories (JSON or YAML) from a directory or a .zip/.tar.gz archive, e.g. "
        "../shared/data/advisories/vulns. Idempotent and incremental by `modified`; withdrawn "
        "advisories are dropped; malformed ones are reported by file and field and skipped. "
        "A scan of every model version's lock follows when anything changed."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--no-scan", action="store_true", help="do not queue a scan afterwards")
        parser.add_argument(
            "--scan-now", action="store_true", help="scan in this process instead of queueing"
        )

    def handle(self, *args, path, no_scan, scan_now, **options):
        run = advisories_import_path(path=path, scan=not (no_scan or scan_now))
        for problem in run.problems:
            self.stderr.write(
                f"{problem['level']}: {problem['file']}: {problem['field']}: {problem['message']}"
            )
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(run.error)
        self.stdout.write(
            f"import #{run.pk}: {run.files_seen} files, {run.created} new, {run.updated} updated, "
            f"{run.unchanged} unchanged, {run.withdrawn} withdrawn, {run.skipped} skipped"
        )
        if scan_now:
            from apps.libraries.scans import library_scan

            summary = library_scan()
            self.stdout.write(
                f"scan: {summary.versions} versions, {summary.findings} findings ({summary.created} new, "
                f"{summary.resolved} resolved)"
            )
