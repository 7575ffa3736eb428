from django.urls import path

from apps.kpis import views

app_name = "kpis"
urlpatterns = [
    path("kpis/", views.kpi_list, name="list"),
    path("kpis/new/", views.kpi_create, name="create"),
    path("kpis/alerts/", views.alert_list, name="alert-list"),
    path("kpis/alerts/<int:pk>/act/", views.alert_act, name="alert-act"),
    path("kpis/<int:pk>/", views.kpi_detail, name="detail"),
    path("kpis/<int:pk>/edit/", views.kpi_edit, name="edit"),
]
