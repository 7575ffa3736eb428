from django.contrib import admin

from apps.accounts.admin_base import AuditedAdmin
from apps.core.admin import ReadOnlyAdmin
from apps.packaging.models import PackageBuild, PackagingPolicy


@admin.register(PackagingPolicy)
class PackagingPolicyAdmin(AuditedAdmin):
    """What the sandbox trusts and allows: IT edits it here; every change is audited. One row."""

    list_display = ("__str__", "latency_budget_ms_per_row", "sandbox_memory_mb", "sandbox_timeout_seconds")
    readonly_fields = ("updated_by", "updated_at")

    def has_add_permission(self, request):
        return False  # the one row is made on first use (PackagingPolicy.current)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(PackageBuild)
class PackageBuildAdmin(ReadOnlyAdmin):
    """Built, failed and overridden through the packaging services; shown only."""

    list_display = ("version", "status", "validation_passed", "archive_sha256", "created_at")
    list_filter = ("status", "validation_passed")
