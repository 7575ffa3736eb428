from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (?script): no inline script (CSP).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
        name="swagger-ui",
    ),
    path("accounts/", include("apps.accounts.urls")),
    path("", include("apps.registry.urls")),
    path("", include("apps.packaging.urls")),
    path("", include("apps.deployments.urls")),
    path("", include("apps.serving.urls")),
    path("", include("apps.monitoring.urls")),
    path("", include("apps.libraries.urls")),
    path("", include("apps.kpis.urls")),
    path("", include("apps.dashboards.urls")),
]
