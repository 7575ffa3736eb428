from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.packaging import services
from apps.packaging.api.serializers import OverrideSerializer, PackageBuildSerializer
from apps.packaging.filters import PackageBuildFilter
from apps.packaging.selectors import packages_visible_to


class PackageBuildViewSet(viewsets.ReadOnlyModelViewSet):
    """Package builds: validation report, lockfile and the downloadable archive."""

    serializer_class = PackageBuildSerializer
    filterset_class = PackageBuildFilter

    def get_queryset(self):
        return packages_visible_to(self.request.user).select_related("version__model", "override_by")

    @extend_schema(responses={200: OpenApiResponse(description="the package, a .tar.gz")})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        build = self.get_object()
        if not build.archive_sha256:
            return Response(
                {"detail": f"this build produced no package: {build.error or build.status}"}, status=404
            )
        filename = f"{build.version.model.name}-v{build.version.number}.tar.gz"
        return FileResponse(build.archive.open("rb"), as_attachment=True, filename=filename)

    @extend_schema(request=OverrideSerializer, responses=PackageBuildSerializer)
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        """An IT operator accepts a failed validation with a written reason (audited)."""
        build = self.get_object()
        data = OverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        build = services.package_override(
            user=request.user, build=build, reason=data.validated_data["reason"]
        )
        return Response(PackageBuildSerializer(build).data)
