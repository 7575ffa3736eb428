from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated

SIGNED_IN = [IsAuthenticated]
# A body over its limit is a 413 naming it; the database being down is a 503; JSON under /api/.
handler400 = "apps.accounts.error_views.bad_request"
handler404 = "apps.accounts.error_views.page_not_found"
handler500 = "apps.accounts.error_views.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    # The schema and its Swagger page are for signed-in users (the schema: session or API token).
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=SIGNED_IN), name="schema"),
    # The split view serves its start-up script as a file (?script): no inline script (CSP).
    path(
        "api/docs/",
        login_required(
            SpectacularSwaggerSplitView.as_view(
                url_name="schema", template_name="api/swagger_ui.html", permission_classes=SIGNED_IN
            )
        ),
        name="swagger-ui",
    ),
    path("accounts/", include("apps.accounts.urls")),
    path("", include("apps.notices.urls")),
    path("", include("apps.registry.urls")),
    path("", include("apps.packaging.urls")),
    path("", include("apps.deployments.urls")),
    path("", include("apps.serving.urls")),
    path("", include("apps.monitoring.urls")),
    path("", include("apps.libraries.urls")),
    path("", include("apps.kpis.urls")),
    path("", include("apps.dashboards.urls")),
]
