from django.urls import path

from apps.deployments import views

app_name = "deployments"
urlpatterns = [
    path("deployments/", views.overview, name="overview"),
    path("deployments/outcomes/", views.outcomes_upload, name="outcomes-upload"),
    path("versions/<int:version_pk>/deploy/", views.deploy, name="deploy"),
    path("deployments/<int:pk>/<str:decision>/", views.decide, name="decide"),
    path("endpoints/<int:pk>/keys/", views.endpoint_keys, name="endpoint-keys"),
    path(
        "endpoints/<int:pk>/keys/<int:key_pk>/revoke/", views.endpoint_key_revoke, name="endpoint-key-revoke"
    ),
    path("endpoints/<int:pk>/<str:action>/", views.endpoint_action, name="endpoint-action"),
]
