"""Admin pages for rows that services write: shown, never edited, superusers included. (Settings
that only the admin edits, with every change audited, use ``apps.accounts.admin_base.AuditedAdmin``.)"""

from django.contrib import admin


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
