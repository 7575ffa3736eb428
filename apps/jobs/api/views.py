from rest_framework import viewsets

from apps.jobs.api.serializers import JobSerializer
from apps.jobs.models import Job
from apps.jobs.selectors import jobs_visible_to


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Job.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes requests
    serializer_class = JobSerializer
    filterset_fields = ["kind", "status", "subject_type", "subject_id"]

    def get_queryset(self):
        return jobs_visible_to(self.request.user)
