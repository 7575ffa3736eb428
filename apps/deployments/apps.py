from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DeploymentsConfig(AppConfig):
    name = "apps.deployments"
    label = "deployments"
    verbose_name = "Deployments"

    def ready(self):
        # staging and production exist after every migrate (and every test database flush).
        post_migrate.connect(_seed, sender=self, dispatch_uid="deployments.seed_environments")


def _seed(sender, using="default", **kwargs):
    from django.db import connections

    from apps.deployments.models import Environment
    from apps.deployments.services import seed_environments

    # `migrate <other app>` signals every app, also before this one's tables exist.
    if Environment._meta.db_table in connections[using].introspection.table_names():
        seed_environments()
