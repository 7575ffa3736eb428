from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.jobs.models import Job


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "subject_type", "subject_id", "status", "progress", "created_at")
    list_filter = ("kind", "status")
