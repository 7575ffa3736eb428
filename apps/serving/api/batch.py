"""Batch jobs: POST a CSV or Parquet file (multipart) to score it in chunks; follow its progress;
download the scored file."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.registry.selectors import versions_visible_to
from apps.serving.batch.services import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, batch_job_submit
from apps.serving.models import BatchJob
from apps.serving.selectors import batch_jobs_visible_to


class BatchJobSerializer(serializers.ModelSerializer):
    submitted_by = serializers.CharField(source="submitted_by.username", default=None, read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True)
    endpoint = serializers.CharField(source="endpoint.name", default=None, read_only=True)
    model_name = serializers.CharField(source="version.model.name", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    request_id = serializers.CharField(read_only=True)
    progress = serializers.SerializerMethodField()
    done = serializers.BooleanField(source="is_done", read_only=True)
    progress_url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = BatchJob
        fields = [
            "id",
            "status",
            "done",
            "progress",
            "job",
            "progress_url",
            "download_url",
            "submitted_by",
            "team",
            "endpoint",
            "environment",
            "deployment",
            "version",
            "model_name",
            "version_number",
            "input_filename",
            "input_format",
            "row_count",
            "chunk_size",
            "chunks_done",
            "chunks_total",
            "rows_scored",
            "rows_refused",
            "values_outside_range",
            "model_starts",
            "request_id",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_progress(self, batch) -> int:
        return batch.job.progress if batch.job else (100 if batch.is_done else 0)

    def get_progress_url(self, batch) -> str | None:
        if not batch.job_id:
            return None
        return reverse("api:job-detail", args=[batch.job_id], request=self.context.get("request"))

    def get_download_url(self, batch) -> str | None:
        if batch.status != BatchJob.Status.SUCCEEDED:
            return None
        return reverse("api:batch-job-download", args=[batch.pk], request=self.context.get("request"))


class BatchSubmitSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or Parquet with a column per input feature")
    endpoint = serializers.CharField(required=False, help_text="score with this endpoint's live version")
    environment = serializers.CharField(required=False, default="production")
    version = serializers.IntegerField(required=False, help_text="or score with this version's package")
    chunk_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_CHUNK_SIZE, help_text=f"default {DEFAULT_CHUNK_SIZE}"
    )


class BatchJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Batch scoring jobs. POST queues one and answers 202 with the job to follow."""

    queryset = BatchJob.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes
    serializer_class = BatchJobSerializer
    parser_classes = [MultiPartParser]  # the only write is a file upload
    filterset_fields = ["status", "endpoint__name", "environment", "version"]

    def get_queryset(self):
        return batch_jobs_visible_to(self.request.user).select_related(
            "job", "team", "endpoint", "version__model", "submitted_by"
        )

    @extend_schema(request=BatchSubmitSerializer, responses={202: BatchJobSerializer})
    def create(self, request, *args, **kwargs):
        data = BatchSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version = None
        if values.get("version") is not None:
            version = get_object_or_404(versions_visible_to(request.user), pk=values["version"])
        upload = values["file"]
        batch = batch_job_submit(
            user=request.user,
            upload=upload,
            filename=upload.name,
            endpoint=values.get("endpoint"),
            environment=values.get("environment") or "production",
            version=version,
            chunk_size=values.get("chunk_size"),
        )
        batch = self.get_queryset().get(pk=batch.pk)
        body = BatchJobSerializer(batch, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: OpenApiResponse(description="the scored file, CSV or Parquet")})
    @action(detail=True, methods=["get"], url_path="download", url_name="download")
    def download(self, request, pk=None):
        batch = self.get_object()
        if batch.status != BatchJob.Status.SUCCEEDED:
            reason = batch.error or f"the job is {batch.status}"
            return Response({"detail": f"no scored file yet: {reason}"}, status=status.HTTP_409_CONFLICT)
        filename = batch.output_file.name.rsplit("/", 1)[-1]
        return FileResponse(batch.output_file.open("rb"), as_attachment=True, filename=filename)
