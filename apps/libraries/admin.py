from django.contrib import admin

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
from apps.serving.admin import ReadOnlyAdmin


@admin.register(Advisory)
class AdvisoryAdmin(admin.ModelAdmin):
    list_display = ("osv_id", "severity", "cvss_score", "modified")
    list_filter = ("severity",)
    search_fields = ("osv_id", "aliases", "summary", "affected__name")


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "status", "created", "updated", "unchanged", "withdrawn", "skipped")


@admin.register(LibraryFinding)
class LibraryFindingAdmin(admin.ModelAdmin):
    list_display = ("package", "installed_version", "osv_id", "severity", "status", "version", "report")
    list_filter = ("status", "severity", "kind", "source")
    search_fields = ("package", "osv_id")


class LibraryExceptionInline(admin.TabularInline):
    model = LibraryException
    extra = 0


@admin.register(LibraryRule)
class LibraryRuleAdmin(admin.ModelAdmin):
    list_display = ("package", "rule", "minimum_version", "updated_at")
    inlines = [LibraryExceptionInline]


admin.site.register(PipAuditReport)
admin.site.register(PatchRequest)


# Derived by scans and kept by the library page's services (which audit their changes): shown only.
for _model in (AffectedPackage, LibraryException):
    admin.site.register(_model, ReadOnlyAdmin)
