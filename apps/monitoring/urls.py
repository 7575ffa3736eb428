from django.urls import path

from apps.monitoring import explain_views, views

app_name = "monitoring"
urlpatterns = [
    path("monitoring/", views.overview, name="overview"),
    path("models/<int:pk>/monitoring/", views.model_monitoring, name="model"),
    path("monitoring/monitors/<int:pk>/feature/", views.feature_panel, name="feature-panel"),
    path("monitoring/monitors/<int:pk>/settings/", views.monitor_settings, name="monitor-settings"),
    path("monitoring/monitors/<int:pk>/run/", views.run_now, name="run-now"),
    path("monitoring/alerts/", views.alert_list, name="alert-list"),
    path("monitoring/alerts/<int:pk>/", views.alert_detail, name="alert-detail"),
    path("monitoring/alerts/<int:pk>/act/", views.alert_action, name="alert-action"),
    path(
        "monitoring/alerts/<int:pk>/explanations/",
        explain_views.alert_explanations,
        name="alert-explanations",
    ),
    path("monitoring/alerts/<int:pk>/explain/", explain_views.alert_explain, name="alert-explain"),
]
