from django.urls import path

from apps.packaging import views

app_name = "packaging"
urlpatterns = [
    path("versions/<int:version_pk>/package/", views.package_build, name="build"),
    path("packages/<int:pk>/override/", views.package_override, name="override"),
]
