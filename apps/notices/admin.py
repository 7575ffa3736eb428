from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.notices.models import Notice, NoticePreference


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    """Created by the domains' events, read and marked read by their recipient on /notices/."""

    list_display = ("created_at", "recipient", "kind", "title", "read_at", "emailed_at")
    list_filter = ("kind",)


@admin.register(NoticePreference)
class NoticePreferenceAdmin(ReadOnlyAdmin):
    """Each person sets their own on /notices/."""

    list_display = ("user", "email", "muted", "last_digest_at")
