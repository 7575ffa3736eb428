from django.apps import AppConfig


class LibrariesConfig(AppConfig):
    name = "apps.libraries"
    label = "libraries"
    verbose_name = "Library governance"
