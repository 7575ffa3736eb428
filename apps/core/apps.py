from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from apps.core import append_only

        post_migrate.connect(append_only.reinstall_on_sqlite, sender=self, dispatch_uid="core.append_only")
