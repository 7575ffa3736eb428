from django.urls import path

from apps.libraries import views

app_name = "libraries"
urlpatterns = [
    path("it/libraries/", views.library_page, name="page"),
    path("it/libraries/findings.csv", views.export_csv, name="export-csv"),
    path("it/libraries/approve/", views.approve, name="approve"),
    path("it/libraries/approve-all/", views.approve_all, name="approve-all"),
    path("it/libraries/advisories/", views.advisories_upload, name="advisories-upload"),
    path("it/libraries/pip-audit/", views.pip_audit_upload, name="pip-audit-upload"),
    path("it/libraries/advisories/<str:osv_id>/", views.advisory_detail, name="advisory"),
    path("it/libraries/patches/<int:pk>/", views.patch_detail, name="patch-detail"),
    path("it/libraries/patches/<int:pk>/status/", views.patch_status, name="patch-status"),
]
