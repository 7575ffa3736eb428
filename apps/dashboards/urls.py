from django.urls import path

from apps.dashboards import sla_views, views

app_name = "dashboards"
urlpatterns = [
    path("", views.home, name="home"),
    path("it/sla/", sla_views.sla_page, name="sla"),
    path("it/sla/slo/<int:pk>/", sla_views.slo_update, name="slo-update"),
]
