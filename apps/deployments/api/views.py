from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts import access
from apps.deployments import services
from apps.deployments.api.serializers import (
    DecisionSerializer,
    DeploymentSerializer,
    DeployRequestSerializer,
    EndpointSerializer,
)
from apps.deployments.models import Endpoint


class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Deployments. POST asks for one; production waits for an IT operator's approval."""

    serializer_class = DeploymentSerializer
    filterset_fields = ["status", "role", "endpoint__name", "endpoint__environment__name", "version"]

    def get_queryset(self):
        return access.deployments_visible_to(self.request.user).select_related(
            "endpoint__environment", "version__model", "requested_by", "decided_by"
        )

    @extend_schema(request=DeployRequestSerializer, responses={201: DeploymentSerializer})
    def create(self, request, *args, **kwargs):
        data = DeployRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        version = get_object_or_404(access.versions_visible_to(request.user), pk=values.pop("version"))
        deployment = services.deployment_request(user=request.user, version=version, **values)
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DecisionSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return _decision(request, services.deployment_approve, deployment=self.get_object())

    @extend_schema(request=DecisionSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return _decision(request, services.deployment_reject, deployment=self.get_object())


def _decision(request, service, **target) -> Response:
    """A person's decision with an optional reason: approve, reject, promote, roll back."""
    data = DecisionSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    deployment = service(user=request.user, reason=data.validated_data["reason"], **target)
    return Response(DeploymentSerializer(deployment).data)


class EndpointViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Endpoint.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes requests
    serializer_class = EndpointSerializer
    filterset_fields = ["name", "environment__name"]

    def get_queryset(self):
        return (
            access.endpoints_visible_to(self.request.user)
            .select_related("environment", "team", "slo")
            .prefetch_related("deployments__version")
        )

    @extend_schema(request=DecisionSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        return _decision(request, services.endpoint_promote, endpoint=self.get_object())

    @extend_schema(request=DecisionSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        return _decision(request, services.endpoint_rollback, endpoint=self.get_object())
