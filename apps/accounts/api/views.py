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
from apps.accounts.services import token_issue
from apps.accounts.throttling import lockout_message


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


class LockedOut(exceptions.APIException):
    status_code = 429
    default_code = "locked_out"


@extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer)
@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes([LoginThrottle])
def token_obtain(request):
    """Exchange a username and password for a new API token (what `modelyard login` does); the
    token named in ``replaces`` is revoked. Failed attempts count towards the sign-in lockout."""
    data = TokenRequestSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    user = authenticate(
        request, username=data.validated_data["username"], password=data.validated_data["password"]
    )
    if getattr(request, "axes_locked_out", False):  # set by django-axes on the request it was given
        raise LockedOut(lockout_message())
    if user is None:
        raise exceptions.AuthenticationFailed("wrong username or password")
    issued = token_issue(
        user=user, name=data.validated_data["name"], replaces=data.validated_data.get("replaces")
    )
    body = {
        "token": issued.key,
        "username": user.username,
        "expires_at": issued.token.expires_at,
        "replaced": issued.replaced is not None,
    }
    return Response(TokenResponseSerializer(body).data, status=201)


@extend_schema(responses={200: dict})
@api_view(["GET"])
def server(request):
    """What a client needs to know about this server: where to send predictions."""
    from django.conf import settings

    return Response({"inference_url": settings.MODELYARD_INFERENCE_URL})
