from django.urls import path

from apps.registry import views

app_name = "registry"
urlpatterns = [
    path("models/", views.model_list, name="model-list"),
    path("models/register/", views.register, name="register"),
    path("models/<int:pk>/", views.model_detail, name="model-detail"),
    path("versions/<int:pk>/", views.version_detail, name="version-detail"),
    path("versions/<int:pk>/stage/", views.version_stage, name="version-stage"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job-progress"),
]
