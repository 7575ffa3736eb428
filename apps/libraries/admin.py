from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, ReadOnlyInline
from apps.libraries.models import (
    Advisory,
    AffectedPackage,
    ImportRun,
    LibraryException,
    LibraryFinding,
    LibraryRule,
    PatchRequest,
    PipAuditReport,
)

# Advisories are imported, findings derived by scans, rules and exceptions kept on the IT library
# page, patches requested and approved there: all by services that check and audit. Shown only.


@admin.register(Advisory)
class AdvisoryAdmin(ReadOnlyAdmin):
    list_display = ("osv_id", "severity", "cvss_score", "modified")
    list_filter = ("severity",)
    search_fields = ("osv_id", "aliases", "summary", "affected__name")


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "source", "status", "created", "updated", "unchanged", "withdrawn", "skipped")


@admin.register(LibraryFinding)
class LibraryFindingAdmin(ReadOnlyAdmin):
    list_display = ("package", "installed_version", "osv_id", "severity", "status", "version", "report")
    list_filter = ("status", "severity", "kind", "source")
    search_fields = ("package", "osv_id")


class LibraryExceptionInline(ReadOnlyInline):
    model = LibraryException


@admin.register(LibraryRule)
class LibraryRuleAdmin(ReadOnlyAdmin):
    list_display = ("package", "rule", "minimum_version", "updated_at")
    inlines = [LibraryExceptionInline]


for _model in (PipAuditReport, PatchRequest, AffectedPackage, LibraryException):
    admin.site.register(_model, ReadOnlyAdmin)
