from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RegistryConfig(AppConfig):
    name = "apps.registry"
    label = "registry"
    verbose_name = "Model registry"

    def ready(self):
        from apps.registry import append_only

        post_migrate.connect(
            append_only.reinstall_on_sqlite, sender=self, dispatch_uid="registry.append_only"
        )
