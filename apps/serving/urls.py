from django.urls import path

from apps.serving import views

app_name = "serving"
urlpatterns = [
    path("batch-jobs/", views.batch_jobs, name="batch-jobs"),
    path("batch-jobs/<int:pk>/card/", views.batch_job_card, name="batch-job-card"),
    path("batch-jobs/<int:pk>/download/", views.batch_job_download, name="batch-job-download"),
]
