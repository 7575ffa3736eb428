from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from apps.accounts import access
from apps.accounts.api.parsers import LimitedJSONParser
from apps.jobs.models import Job
from apps.registry import services
from apps.registry.api.serializers import (
    AuditEventSerializer,
    ModelCreateSerializer,
    ModelUpdateSerializer,
    ModelVersionSerializer,
    RegisteredModelSerializer,
    StageChangeSerializer,
    VersionListSerializer,
    VersionRegisterSerializer,
)
from apps.registry.filters import AuditEventFilter, ModelVersionFilter, RegisteredModelFilter
from apps.registry.selectors import audit_events_visible_to, models_visible_to, versions_visible_to


def team_for(user, slug: str | None):
    """The team named by ``slug`` among those the user can see; None when not given."""
    if not slug:
        return None
    team = access.teams_visible_to(user).filter(slug=slug).first()
    if team is None:
        raise ValidationError({"team": f"no team '{slug}' that you belong to"})
    return team


def jobs_by_version(version_ids) -> dict:
    latest: dict = {}
    for job in Job.objects.filter(subject_type="version", subject_id__in=list(version_ids)).order_by(
        "created_at"
    ):
        latest[job.subject_id] = job
    return latest


class RegisteredModelViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Registered models. Everyone sees only the models their role and team allow."""

    serializer_class = RegisteredModelSerializer
    filterset_class = RegisteredModelFilter

    def get_queryset(self):
        return (
            models_visible_to(self.request.user)
            .select_related("team", "business_owner")
            .prefetch_related("versions")
        )

    @extend_schema(request=ModelCreateSerializer, responses={201: RegisteredModelSerializer})
    def create(self, request, *args, **kwargs):
        data = ModelCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        team = services._resolve_team(request.user, team_for(request.user, values.pop("team", None)))
        model = services.model_create(user=request.user, team=team, **values)
        return Response(RegisteredModelSerializer(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ModelUpdateSerializer, responses=RegisteredModelSerializer)
    def partial_update(self, request, *args, **kwargs):
        model = self.get_object()
        data = ModelUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        model = services.model_update(user=request.user, model=model, **data.validated_data)
        return Response(RegisteredModelSerializer(model).data)

    @extend_schema(responses=VersionListSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # every version, not pages
    def versions(self, request, pk=None):
        model = self.get_object()
        versions = list(
            model.versions.select_related("model__team", "parent", "created_by").prefetch_related("packages")
        )
        context = {"jobs_by_version": jobs_by_version(v.pk for v in versions)}
        return Response(VersionListSerializer(versions, many=True, context=context).data)


class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Model versions. POST registers a new one (multipart), creating the model on first use."""

    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilter
    parser_classes = [MultiPartParser, FormParser, LimitedJSONParser]

    def get_queryset(self):
        return (
            versions_visible_to(self.request.user)
            .select_related("model__team", "parent", "created_by")
            .prefetch_related("packages")
        )

    def get_serializer_class(self):
        return VersionListSerializer if self.action == "list" else ModelVersionSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "list":
            page_ids = getattr(self, "_page_ids", None)
            if page_ids is not None:
                context["jobs_by_version"] = jobs_by_version(page_ids)
        return context

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            self._page_ids = [v.pk for v in page]
        return page

    @extend_schema(request=VersionRegisterSerializer, responses={201: ModelVersionSerializer})
    def create(self, request, *args, **kwargs):
        data = VersionRegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        reference = v.get("reference")
        reg = services.Registration(
            model_name=v["model"],
            team=team_for(request.user, v.get("team")),
            task_type=v.get("task_type", ""),
            description=v["description"],
            artifact=v["artifact"],
            artifact_filename=v["artifact"].name,
            reference=reference,
            reference_filename=reference.name if reference else "",
            target=v["target"],
            input_schema=v.get("input_schema"),
            output_schema=v.get("output_schema"),
            metrics=v.get("metrics") or {},
            requirements=v["requirements"],
            environment=v.get("environment") or {},
            code_commit=v["code_commit"],
            data_uri=v["data_uri"],
            parent_version=v.get("parent_version"),
            tags=v.get("tags") or [],
            business_owner=v.get("business_owner"),
            holdout=v.get("holdout"),
            holdout_filename=v["holdout"].name if v.get("holdout") else "",
            thresholds=v.get("thresholds") or {},
        )
        version = services.version_register(user=request.user, reg=reg)
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StageChangeSerializer, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"])
    def stage(self, request, pk=None):
        version = self.get_object()
        data = StageChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.version_set_stage(user=request.user, version=version, **data.validated_data)
        return Response(ModelVersionSerializer(version).data)

    @extend_schema(responses={200: OpenApiResponse(description="the artifact file")})
    @action(detail=True, methods=["get"])
    def artifact(self, request, pk=None):
        version = self.get_object()
        return FileResponse(
            version.artifact.open("rb"), as_attachment=True, filename=version.artifact_filename
        )

    @extend_schema(responses={200: OpenApiResponse(description="the reference data file")})
    @action(detail=True, methods=["get"])
    def reference(self, request, pk=None):
        version = self.get_object()
        if not version.reference_sha256:
            return Response({"detail": "this version has no reference data"}, status=404)
        return FileResponse(
            version.reference_data.open("rb"), as_attachment=True, filename=version.reference_filename
        )

    @extend_schema(
        request=None, responses={202: OpenApiResponse(description="the package build and its job")}
    )
    @action(detail=True, methods=["post"])
    def package(self, request, pk=None):
        """Build this version's package (again). Same inputs give the same build."""
        from apps.packaging.services import package_build_enqueue

        version = self.get_object()
        if not access.can_change_stage(request.user, version.model):
            raise PermissionDenied("only the owning team or IT may build packages")
        build = package_build_enqueue(version=version, user=request.user)
        job = Job.objects.filter(subject_type="package", subject_id=build.pk).order_by("-created_at").first()
        return Response(
            {"package": build.pk, "status": build.status, "job": job.pk if job else None},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=None, responses={202: OpenApiResponse(description="the profiling job")})
    @action(detail=True, methods=["post"])
    def profile(self, request, pk=None):
        """Queue (again) the reference profile of this version."""
        version = self.get_object()
        if not access.can_change_stage(request.user, version.model):
            raise PermissionDenied("only the owning team or IT may profile a version again")
        if not version.reference_sha256:
            raise ValidationError({"reference": "this version has no reference data to profile"})
        job = services.version_profile_enqueue(version=version, user=request.user)
        return Response({"job": job.pk, "status": job.status}, status=status.HTTP_202_ACCEPTED)


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return audit_events_visible_to(self.request.user).select_related("team")
