"""Library governance API: advisories (read; IT imports), findings (filters, CSV export), IT's
library policy (rules and team exceptions) and pip-audit reports. Scoping: apps.accounts.access."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from apps.accounts import access
from apps.accounts.api.parsers import LimitedJSONParser
from apps.libraries import policy, selectors
from apps.libraries.api.serializers import (
    AdvisoryDetailSerializer,
    AdvisoryImportRequestSerializer,
    AdvisorySerializer,
    ImportRunSerializer,
    LibraryExceptionSerializer,
    LibraryFindingSerializer,
    LibraryRuleSerializer,
    PipAuditReportSerializer,
    PipAuditUploadSerializer,
)
from apps.libraries.filters import AdvisoryFilter, LibraryFindingFilter, LibraryRuleFilter
from apps.libraries.models import (
    Advisory,
    ImportRun,
    LibraryException,
    LibraryFinding,
    LibraryRule,
    PipAuditReport,
)
from apps.libraries.selectors import pip_audit_reports_visible_to

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def _require_it(user, what: str) -> None:
    if not access.can_manage_libraries(user):
        raise PermissionDenied(f"only an IT operator can {what}")


class AdvisoryViewSet(viewsets.ReadOnlyModelViewSet):
    """Advisories as imported (every signed-in user reads them). POST ``import/`` (IT): an archive."""

    queryset = Advisory.objects.all()
    serializer_class = AdvisorySerializer
    filterset_class = AdvisoryFilter
    lookup_field = "osv_id"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        if not access.roles_of(self.request.user):
            return Advisory.objects.none()
        qs = Advisory.objects.all()
        return qs.prefetch_related("affected") if self.action == "retrieve" else qs

    def get_serializer_class(self):
        return AdvisoryDetailSerializer if self.action == "retrieve" else AdvisorySerializer

    @extend_schema(request=AdvisoryImportRequestSerializer, responses={201: ImportRunSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_(self, request):
        _require_it(request.user, "import advisories")
        data = AdvisoryImportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["archive"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                {"archive": f"{upload.name} is larger than {MAX_UPLOAD_BYTES // 1024**2} MB"}
            )
        from apps.libraries.imports import advisories_import
        from apps.libraries.osv import load_bytes_archive

        run = advisories_import(
            sources=load_bytes_archive(upload.name, upload.read()),
            source=f"upload:{upload.name}",
            user=request.user,
        )
        if run.status != ImportRun.Status.SUCCEEDED:
            return Response(
                {"detail": f"archive: {run.error}", "archive": [run.error], "import_run": run.pk},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(ImportRunSerializer(run).data, status=status.HTTP_201_CREATED)


class ImportRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Advisory import runs with their problems by file and field (IT)."""

    queryset = ImportRun.objects.none()
    serializer_class = ImportRunSerializer

    def get_queryset(self):
        if not access.can_manage_libraries(self.request.user):
            return ImportRun.objects.none()
        return ImportRun.objects.select_related("started_by")


class LibraryFindingViewSet(viewsets.ReadOnlyModelViewSet):
    """Vulnerable libraries in model versions' locks (and pip-audit reports): IT sees all, data
    scientists their teams'. Filters: severity, status, package, team, model, advisory, kind.
    ``export/`` gives the same rows as CSV."""

    queryset = LibraryFinding.objects.none()
    serializer_class = LibraryFindingSerializer
    filterset_class = LibraryFindingFilter

    def get_queryset(self):
        return selectors.findings_for(self.request.user)

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(description="one row per finding")})
    @action(detail=False, methods=["get"])
    def export(self, request):
        findings = self.filter_queryset(self.get_queryset())
        response = HttpResponse(selectors.findings_csv(findings), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="library-findings.csv"'
        return response


class LibraryRuleViewSet(viewsets.ModelViewSet):
    """IT's vetted libraries: ``allowed``, ``blocked`` or ``minimum`` (with ``minimum_version``).
    Everyone reads them; IT operators write them."""

    queryset = LibraryRule.objects.all()
    serializer_class = LibraryRuleSerializer
    filterset_class = LibraryRuleFilter

    def get_queryset(self):
        if not access.roles_of(self.request.user):
            return LibraryRule.objects.none()
        return LibraryRule.objects.select_related("updated_by")

    def _save(self, request, partial=False, instance=None):
        data = LibraryRuleSerializer(instance, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = {**({} if instance is None else LibraryRuleSerializer(instance).data), **data.validated_data}
        return policy.library_rule_save(
            user=request.user,
            package=values["package"],
            rule=values["rule"],
            minimum_version=values.get("minimum_version", ""),
            reason=values.get("reason", ""),
        )

    def create(self, request, *args, **kwargs):
        rule = self._save(request)
        return Response(LibraryRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        instance = self.get_object()
        _require_it(request.user, "change the library policy")
        changes = (
            request.data if isinstance(request.data, dict) else {}
        )  # the serializer says what else is wrong
        if "package" in changes and changes["package"] != instance.package:
            raise ValidationError({"package": "a rule's package cannot change; delete it and add another"})
        rule = self._save(request, partial=kwargs.get("partial", False), instance=instance)
        return Response(LibraryRuleSerializer(rule).data)

    def destroy(self, request, *args, **kwargs):
        policy.library_rule_delete(user=request.user, rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class LibraryExceptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A team's exception to a rule until it expires (IT grants and revokes; teams see theirs)."""

    queryset = LibraryException.objects.none()
    serializer_class = LibraryExceptionSerializer

    def get_queryset(self):
        qs = LibraryException.objects.select_related("rule", "team", "granted_by")
        if access.sees_every_model(self.request.user):
            return qs
        return qs.filter(team__in=access.team_ids_of(self.request.user))

    def create(self, request, *args, **kwargs):
        # Refuse first: validating the body would tell anyone which team ids exist.
        _require_it(request.user, "grant library exceptions")
        data = LibraryExceptionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        granted = policy.library_exception_grant(user=request.user, **data.validated_data)
        return Response(LibraryExceptionSerializer(granted).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        policy.library_exception_revoke(user=request.user, exception=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PipAuditReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """``pip-audit --format json`` reports. POST multipart ``report`` (+ ``version``, ``name``):
    each vulnerability becomes a library finding."""

    queryset = PipAuditReport.objects.none()
    serializer_class = PipAuditReportSerializer
    parser_classes = [MultiPartParser, FormParser, LimitedJSONParser]

    def get_queryset(self):
        return pip_audit_reports_visible_to(self.request.user).select_related("team", "uploaded_by")

    @extend_schema(request=PipAuditUploadSerializer, responses={201: PipAuditReportSerializer})
    def create(self, request, *args, **kwargs):
        from apps.libraries.pip_audit import pip_audit_import

        data = PipAuditUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["report"]
        report = pip_audit_import(
            user=request.user,
            content=upload.read(MAX_UPLOAD_BYTES),
            name=data.validated_data.get("name") or upload.name,
            version_id=data.validated_data.get("version"),
        )
        return Response(PipAuditReportSerializer(report).data, status=status.HTTP_201_CREATED)
