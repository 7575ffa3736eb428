from django.apps import AppConfig


class PackagingConfig(AppConfig):
    name = "apps.packaging"
    label = "packaging"
    verbose_name = "Packaging"
