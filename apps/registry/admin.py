from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, ReadOnlyInline
from apps.registry.models import ModelVersion, RegisteredModel

# Models and versions are registered, described and moved between stages by the registry services,
# which check (the production gate, team scope) and audit; the audit trail is append-only. Shown only.


class VersionInline(ReadOnlyInline):
    model = ModelVersion
    fields = ("number", "framework", "format", "stage", "created_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnlyAdmin):
    list_display = ("name", "team", "task_type", "business_owner", "created_at")
    list_filter = ("team", "task_type")
    search_fields = ("name", "description")
    inlines = [VersionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("model", "number", "framework", "format", "safe_format", "stage", "created_at")
    list_filter = ("framework", "format", "stage")
