from django.urls import path

from apps.notices import views

app_name = "notices"
urlpatterns = [
    path("notices/", views.page, name="page"),
    path("notices/bell/", views.bell, name="bell"),
    path("notices/<int:pk>/read/", views.read, name="read"),
    path("notices/read-all/", views.read_all, name="read-all"),
    path("notices/preferences/", views.preferences, name="preferences"),
    path("notices/mail/", views.mail, name="mail"),
]
