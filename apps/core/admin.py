"""Admin pages for rows that services write: shown, never edited, superusers included. (Settings
that only the admin edits, with every change audited, use ``apps.accounts.admin_base.AuditedAdmin``.)"""

from django.contrib import admin

from apps.core.models import AuditEvent


class _NoEdits:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(_NoEdits, admin.ModelAdmin):
    """Shown, never edited: services write these rows and audit what they do."""


class ReadOnlyInline(_NoEdits, admin.TabularInline):
    extra = 0


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_name", "action", "object_repr", "team")
    list_filter = ("action", "object_type")
