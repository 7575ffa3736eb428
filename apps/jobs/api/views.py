from rest_framework import viewsets

from apps.accounts import access
from apps.jobs.api.serializers import JobSerializer


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JobSerializer
    filterset_fields = ["kind", "status", "subject_type", "subject_id"]

    def get_queryset(self):
        return access.jobs_visible_to(self.request.user)
