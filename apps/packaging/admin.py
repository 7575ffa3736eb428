from django.contrib import admin

from apps.packaging.models import PackageBuild, PackagingPolicy


@admin.register(PackagingPolicy)
class PackagingPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "latency_budget_ms_per_row", "sandbox_memory_mb", "sandbox_timeout_seconds")
    readonly_fields = ("updated_by", "updated_at")

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(PackageBuild)
class PackageBuildAdmin(admin.ModelAdmin):
    list_display = ("version", "status", "validation_passed", "archive_sha256", "created_at")
    list_filter = ("status", "validation_passed")
    readonly_fields = [f.name for f in PackageBuild._meta.fields]
