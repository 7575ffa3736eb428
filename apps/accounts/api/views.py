from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from apps.accounts import access
from apps.accounts.api.serializers import (
    MeSerializer,
    TeamSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)
from apps.accounts.models import Team
from apps.accounts.services import token_create


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Team.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes requests
    serializer_class = TeamSerializer
    filterset_fields = ["slug"]

    def get_queryset(self):
        return access.teams_visible_to(self.request.user)


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
def me(request):
    return Response(MeSerializer(request.user).data)


class LoginThrottle(AnonRateThrottle):
    rate = "30/min"


@extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer)
@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes([LoginThrottle])
def token_obtain(request):
    """Exchange a username and password for a new API token (what `modelyard login` does)."""
    data = TokenRequestSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    user = authenticate(
        request, username=data.validated_data["username"], password=data.validated_data["password"]
    )
    if user is None:
        raise exceptions.AuthenticationFailed("wrong username or password")
    key = token_create(user=user, name=data.validated_data["name"])
    return Response({"token": key, "username": user.username}, status=201)


@extend_schema(responses={200: dict})
@api_view(["GET"])
def server(request):
    """What a client needs to know about this server: where to send predictions."""
    from django.conf import settings

    return Response({"inference_url": settings.MODELYARD_INFERENCE_URL})
