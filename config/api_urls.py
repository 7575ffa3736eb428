from django.urls import include, path
from rest_framework.routers import DefaultRouter

from apps.accounts.api.views import TeamViewSet, me, token_obtain
from apps.jobs.api.views import JobViewSet
from apps.packaging.api.views import PackageBuildViewSet
from apps.registry.api.views import AuditEventViewSet, ModelVersionViewSet, RegisteredModelViewSet

router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("models", RegisteredModelViewSet, basename="model")
router.register("versions", ModelVersionViewSet, basename="version")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("jobs", JobViewSet, basename="job")
router.register("packages", PackageBuildViewSet, basename="package")

app_name = "api"
urlpatterns = [
    path("me/", me, name="me"),
    path("auth/token/", token_obtain, name="token-obtain"),
    path("", include(router.urls)),
]
