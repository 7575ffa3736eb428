from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.deployments import selectors, services
from apps.deployments.api.serializers import (
    DecisionSerializer,
    DeploymentSerializer,
    DeployRequestSerializer,
    EndpointKeyCreatedSerializer,
    EndpointKeyRequestSerializer,
    EndpointKeySerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
)
from apps.deployments.models import Endpoint
from apps.deployments.selectors import deployments_visible_to, endpoints_visible_to
from apps.registry.selectors import versions_visible_to


class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Deployments. POST asks for one; production waits for an IT operator's approval."""

    serializer_class = DeploymentSerializer
    filterset_fields = ["status", "role", "endpoint__name", "endpoint__environment__name", "version"]

    def get_queryset(self):
        return deployments_visible_to(self.request.user).select_related(
            "endpoint__environment", "version__model", "requested_by", "decided_by"
        )

    @extend_schema(request=DeployRequestSerializer, responses={201: DeploymentSerializer})
    def create(self, request, *args, **kwargs):
        data = DeployRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        version = get_object_or_404(versions_visible_to(request.user), pk=values.pop("version"))
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
            endpoints_visible_to(self.request.user)
            .select_related("environment", "team", "slo")
            .prefetch_related("deployments__version")
        )

    @extend_schema(request=EndpointUpdateSerializer, responses=EndpointSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Change how the endpoint checks requests (its team's data scientists and IT): which
        features refuse values outside the schema's range. Applied within one route refresh."""
        endpoint = self.get_object()
        data = EndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.endpoint_outside_range_set(
            user=request.user, endpoint=endpoint, features=data.validated_data["refuse_outside_range"]
        )
        return Response(EndpointSerializer(self.get_queryset().get(pk=endpoint.pk)).data)

    @extend_schema(request=DecisionSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        return _decision(request, services.endpoint_promote, endpoint=self.get_object())

    @extend_schema(request=DecisionSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        return _decision(request, services.endpoint_rollback, endpoint=self.get_object())

    @extend_schema(
        methods=["GET"], responses=EndpointKeySerializer(many=True), summary="The endpoint's consumer keys"
    )
    @extend_schema(
        methods=["POST"],
        request=EndpointKeyRequestSerializer,
        responses={201: EndpointKeyCreatedSerializer},
        summary="A new consumer key, shown once",
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def keys(self, request, pk=None):
        """Consumer keys of the endpoint (its team's data scientists and IT): list them, or create
        one; the answer to a POST is the only time the key is shown."""
        endpoint = self.get_object()
        if request.method == "GET":
            keys = selectors.endpoint_keys(user=request.user, endpoint=endpoint)
            return Response(EndpointKeySerializer(keys, many=True).data)
        data = EndpointKeyRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row, key = services.endpoint_key_create(
            user=request.user, endpoint=endpoint, name=data.validated_data["name"]
        )
        row.key = key
        response = Response(EndpointKeyCreatedSerializer(row).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=None, responses=EndpointKeySerializer, summary="Revoke a consumer key")
    @action(detail=True, methods=["post"], url_path=r"keys/(?P<key_pk>[0-9]+)/revoke")
    def revoke_key(self, request, pk=None, key_pk=None):
        """The inference service refuses the key from its next route refresh (within 2 s)."""
        endpoint = self.get_object()
        key = get_object_or_404(selectors.endpoint_keys(user=request.user, endpoint=endpoint), pk=key_pk)
        return Response(EndpointKeySerializer(services.endpoint_key_revoke(user=request.user, key=key)).data)
