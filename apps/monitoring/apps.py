from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from apps.deployments.models import Deployment

        # A template per model type exists after every migrate (and every test database flush).
        post_migrate.connect(_seed, sender=self, dispatch_uid="monitoring.seed_templates")
        # A deployment going live gets its monitor; the deployments app needs to know nothing of it.
        post_save.connect(_deployment_saved, sender=Deployment, dispatch_uid="monitoring.deployment_live")


def _seed(sender, using="default", **kwargs):
    from django.db import connections

    from apps.monitoring.models import MonitorTemplate
    from apps.monitoring.templates import seed_templates

    if MonitorTemplate._meta.db_table in connections[using].introspection.table_names():
        seed_templates()


def _deployment_saved(sender, instance, **kwargs):
    from django.db import transaction

    from apps.monitoring.services import MONITORED_ROLES, monitor_for_live_deployment

    if instance.status != "live" or instance.role not in MONITORED_ROLES:
        return
    # After the deployment's own transaction commits, and robust: a monitoring failure must never
    # undo or fail a rollout. The beat's monitors_sync() creates any monitor missed here.
    transaction.on_commit(lambda: monitor_for_live_deployment(deployment=instance), robust=True)
