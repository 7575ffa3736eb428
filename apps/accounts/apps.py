from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts, teams and roles"

    def ready(self):
        from apps.accounts.api import schema  # noqa: F401 (registers the OpenAPI auth scheme)
        from apps.accounts.roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, dispatch_uid="accounts.ensure_role_groups")
