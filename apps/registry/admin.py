from django.contrib import admin

from apps.registry.models import AuditEvent, ModelVersion, RegisteredModel


class VersionInline(admin.TabularInline):
    model = ModelVersion
    fields = ("number", "framework", "format", "stage", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "task_type", "business_owner", "created_at")
    list_filter = ("team", "task_type")
    search_fields = ("name", "description")
    inlines = [VersionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("model", "number", "framework", "format", "safe_format", "stage", "created_at")
    list_filter = ("framework", "format", "stage")
    readonly_fields = ("artifact_sha256", "artifact_size", "reference_sha256", "reference_profile")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = ("created_at", "actor", "action", "object_repr", "team")
    list_filter = ("action", "object_type")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
